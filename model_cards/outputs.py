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
    except _Identical:
        return False
    return True
