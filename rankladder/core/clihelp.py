"""Help text that helps: descriptions wrapped once, examples kept as written (defaults: ``core.cli_model``)."""

from __future__ import annotations

import argparse
import textwrap


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


def unrecognized(extra: list[str]) -> str:
    """argparse's "unrecognized arguments" message, pointing to ``--out`` when an old spelling of it is there."""
    message = f"unrecognized arguments: {' '.join(extra)}"
    if any(arg.split("=", 1)[0] in OLD_OUTPUT_SPELLINGS for arg in extra):
        message += " (the output folder is --out)"
    return message
