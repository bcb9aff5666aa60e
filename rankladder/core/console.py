"""The human summary every command ends with: what was written, how big, how long, the key numbers, what next.

One format for all commands, printed to stdout after the work is done (logs and progress go to stderr)::

    ── rankladder build: done in 12.3 s ──
      wrote     out/ds (1.2 MB): 160 documents · 40 queries · 4 levels
      rejects   12 (repetition 5, too_short 7)
      next      rankladder train --data out/ds --out out/model

Commands call :func:`print_summary` with their own rows; :func:`started` is stamped by the CLI before a
command runs, so every summary measures the same span.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

SUMMARY_RULE = "──"
_STARTED_AT = time.monotonic()


def mark_start() -> None:
    """Stamp the start of the command (the CLI calls this just before running it)."""
    global _STARTED_AT
    _STARTED_AT = time.monotonic()


def elapsed_seconds() -> float:
    return time.monotonic() - _STARTED_AT


def human_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def human_size(num_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1000 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    raise AssertionError("unreachable")


def path_size(path: str | os.PathLike) -> int:
    """Bytes under a file or folder (0 when it does not exist)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    if not path.is_dir():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def written(path: str | os.PathLike, what: str = "") -> str:
    """The value of a summary's ``wrote`` row: the path, its size, and what it holds."""
    text = f"{path} ({human_size(path_size(path))})"
    return f"{text}: {what}" if what else text


def counts(mapping: Mapping[str, int], empty: str = "none") -> str:
    """``12 (repetition 5, too_short 7)``: a total and its parts, largest first."""
    total = sum(mapping.values())
    if not total:
        return empty
    parts = ", ".join(f"{key} {value}" for key, value in sorted(mapping.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"{total} ({parts})"


def print_summary(
    command: str,
    rows: Iterable[tuple[str, str]],
    *,
    next_steps: Iterable[str] = (),
    status: str = "done",
    file=None,
) -> None:
    """Print the closing block of a command: a header with the elapsed time, then ``label  value`` rows."""
    file = file or sys.stdout
    rows = [(label, value) for label, value in rows if value not in (None, "")]
    rows += [("next", step) for step in next_steps]
    width = max((len(label) for label, _ in rows), default=0)
    lines = [f"{SUMMARY_RULE} rankladder {command}: {status} in {human_duration(elapsed_seconds())} {SUMMARY_RULE}"]
    for label, value in rows:
        first, *more = str(value).splitlines() or [""]
        lines.append(f"  {label:<{width}}  {first}")
        lines.extend(f"  {'':<{width}}  {line}" for line in more)
    print("\n".join(lines), file=file, flush=True)
