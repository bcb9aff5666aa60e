"""Help text that helps: descriptions wrapped once, examples kept as written (defaults: ``core.cli_model``)."""

from __future__ import annotations

import argparse
import textwrap

from rankladder.core.renames import renamed_hints


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's formatter that prints descriptions and epilogs as laid out (``examples:`` blocks keep their
    lines; wrap prose with :func:`wrapped`). Option help is printed as written: each default is part of the
    help text, appended from the config model by ``rankladder.core.cli_model`` (never "(default: None)")."""


def wrapped(text: str, width: int = 78) -> str:
    """A description's paragraphs (separated by blank lines) filled to ``width`` for the raw formatter."""
    return "\n\n".join(textwrap.fill(" ".join(p.split()), width) for p in textwrap.dedent(text).strip().split("\n\n"))


def examples(*lines: str) -> str:
    """An ``examples:`` epilog: one command per line (continuations start with a space)."""
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


# spellings of the output folder that earlier versions (and other tools) use; every command's is --out
OLD_OUTPUT_SPELLINGS = ("--output-dir", "--output_dir", "--output")


def unrecognized(extra: list[str], command: str = "", known: set[str] | frozenset[str] = frozenset()) -> str:
    """argparse's "unrecognized arguments" message, pointing to ``--out`` when an old spelling of it is there,
    and naming the current spelling of an old one of ``command``'s options (``--batch-size is now --window``;
    ``known``: the command's flags, ``core.renames.renamed_hints``)."""
    hints = renamed_hints(command, extra, known)
    if hints:
        renamed = {hint.split(" ", 1)[0] for hint in hints}
        values = _values_of(extra, renamed)
        others = [arg for i, arg in enumerate(extra) if arg.split("=", 1)[0] not in renamed and i not in values]
        message = "; ".join(hints)
        return message + (f"; unrecognized arguments: {' '.join(others)}" if others else "")
    message = f"unrecognized arguments: {' '.join(extra)}"
    if any(arg.split("=", 1)[0] in OLD_OUTPUT_SPELLINGS for arg in extra):
        message += " (the output folder is --out)"
    return message


def _values_of(extra: list[str], flags: set[str]) -> set[int]:
    """Positions in ``extra`` of the value right after one of ``flags`` (``--batch-size 4``): not an argument
    of its own."""
    return {i + 1 for i, arg in enumerate(extra[:-1]) if arg in flags and not extra[i + 1].startswith("-")}
