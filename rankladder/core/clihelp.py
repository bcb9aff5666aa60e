"""Help text that helps: each option's default shown once (never "(default: None)"), examples kept as written."""

from __future__ import annotations

import argparse
import textwrap


class HelpFormatter(argparse.HelpFormatter):
    """Like ``ArgumentDefaultsHelpFormatter`` without its repeats, and with paragraphs that keep their layout.

    A default is appended only when the help does not mention one already and there is a real value to show
    (not ``None``, not an empty list, not a flag's ``False``). Description and epilog paragraphs are re-wrapped
    unless they are laid out by hand (an indented line, or a heading ending in ``:`` such as ``examples:``).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "%(default)" in text or "(default" in text or "default:" in text:
            return text
        default = action.default
        is_flag = action.nargs == 0  # store_true/false/const, count, help, version: no value to show
        if is_flag or default in (None, argparse.SUPPRESS) or isinstance(default, bool):
            return text
        if isinstance(default, (list, tuple)) and not default:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)" if text else "default: %(default)s"
        return text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = textwrap.dedent(text).strip("\n").split("\n\n")
        out = []
        for paragraph in paragraphs:
            lines = paragraph.splitlines()
            by_hand = any(line[:1].isspace() for line in lines) or lines[0].rstrip().endswith(":")
            if by_hand:
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(
                    textwrap.fill(" ".join(paragraph.split()), width, initial_indent=indent, subsequent_indent=indent)
                )
        return "\n\n".join(out)


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
