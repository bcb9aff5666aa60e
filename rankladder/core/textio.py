"""Reading users' text files: UTF-8 with or without a BOM, LF or CRLF; anything else is one clear line.

Every reader of a user-supplied text file (queries, corpora, qrels, configs) goes through these two
functions, so an encoding problem always names the file and the first bad line instead of raising a
``UnicodeDecodeError`` traceback from deep inside a stage.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rankladder.core.errors import UserError, located


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line_number, line)`` pairs (1-based, line ending and a leading BOM removed)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    with open(path, "rb") as handle:
        for line_no, raw in enumerate(handle, 1):
            if line_no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise located(
                    path,
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "convert the file to UTF-8",
                    line=line_no,
                ) from None
            yield line_no, text.rstrip("\r\n")


def read_text(path: str | Path) -> str:
    """The whole file as text (UTF-8, optional BOM, CRLF folded to LF)."""
    return "\n".join(line for _, line in iter_lines(path))
