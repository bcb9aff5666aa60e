"""The output rule for the folders ``publish`` writes locally (``--dry-run --out``, leaderboard bundle).

An existing non-empty folder is never deleted or changed unless ``--overwrite``; with it, the old folder
is swapped out only after the new one is complete (``rankladder.core.fsutil.atomic_output_dir``).
One exception keeps re-runs idempotent: when the new folder comes out identical to the existing one,
the existing one is simply kept (nothing of the user's is lost, and nothing is written).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import atomic_output_dir, hash_tree
from rankladder.core.locks import is_lock_file


def _top_names(folder: Path) -> set[str]:
    return {path.name for path in folder.iterdir() if not is_lock_file(path.name)}


class _Identical(Exception):
    """Raised inside the atomic block to discard a new folder that equals the existing one."""


def check_output_target(final: Path, flag: str) -> None:
    """Refuse, before any work, an output path that is an existing file (a folder is judged later)."""
    if final.exists() and not final.is_dir():
        raise UserError(f"{final}: {flag} exists and is not a folder (choose another path)")


def write_output_dir(
    final: str | Path, fill: Callable[[Path], None], overwrite: bool = False, flag: str = "--out"
) -> bool:
    """Write ``fill(folder)`` to ``final`` atomically; True if written, False if an identical one was kept.

    ``final`` existing and non-empty (and different): refused with one line unless ``overwrite``.
    """
    final = Path(final)
    check_output_target(final, flag)
    try:
        with atomic_output_dir(final, overwrite=True) as tmp:  # under the folder's lock: one writer at a time
            existing = final.is_dir() and any(final.iterdir())
            fill(tmp)
            if existing:
                if hash_tree(tmp) == hash_tree(final):
                    raise _Identical
                if not overwrite:
                    raise UserError(
                        f"{final}: {flag} folder already exists and holds other files "
                        "(pass --overwrite to replace it, or choose another path)"
                    )
                foreign = _top_names(final) - _top_names(tmp) - {"logs"}
                if foreign:  # --overwrite replaces an earlier folder of this shape, never someone's files
                    shown = ", ".join(sorted(foreign)[:3]) + (", ..." if len(foreign) > 3 else "")
                    raise UserError(
                        f"{final}: {flag} holds files this command does not write ({shown}); --overwrite replaces "
                        "only an earlier output of it: choose another path, or remove it yourself"
                    )
    except _Identical:
        return False
    return True
