"""The ``rankladder`` console command: a thin dispatcher over the stages.

Each stage module exposes ``register(subparsers)``, which adds its subcommands and sets ``func`` (and
``output_arg``, the option naming its output folder) on them. Stage modules import heavy libraries (torch,
transformers) inside their functions only, so ``rankladder --help`` stays fast.

What every command shares is done here, once: ``-v``/``-q`` anywhere on the command line, logs routed to
``OUT/logs/`` (``rankladder.core.logs``), help with each default once and an example, one-line errors, and
a quiet exit when stdout is a closed pipe (``rankladder ... | head``).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import re
import shlex
import sys

from rankladder import __version__
from rankladder.core.clihelp import HelpFormatter, examples, unrecognized
from rankladder.core.console import mark_start
from rankladder.core.errors import UserError
from rankladder.core.logs import NORMAL, QUIET, VERBOSE, RunLog, prescan_verbosity
from rankladder.steps import StepFailed

STAGE_MODULES = (
    "rankladder.dataset_builder.cli",
    "rankladder.dataset_builder.mine_cli",
    "rankladder.training.cli",
    "rankladder.eval.cli",
    "rankladder.model_cards.cli",
    "rankladder.pipeline_cli",
    "rankladder.study_cli",
)

# The output folder of commands whose parsers live elsewhere and do not declare it (None: no single folder).
OUTPUT_ARGS = {"train": "out", "eval": "out", "quickstart": "out", "run": "out"}

# Examples for commands registered without any (their own epilog, when they get one, wins).
FALLBACK_EXAMPLES = {
    "quickstart": examples(
        "rankladder quickstart --out out/quickstart",
        "rankladder quickstart --out out/quickstart --limit 8 --eval-data ../shared/datasets/cranfield",
    ),
    "run": examples("rankladder run configs/release.yaml --out out/release"),
}

OVERVIEW_EPILOG = (
    examples(
        "rankladder quickstart --out out/quickstart      # the whole pipeline offline, on CPU",
        "rankladder generate --limit 8 --out runs/r1     # graded documents for 8 bundled queries",
        "rankladder build runs/r1 --out data/ds --version 0.1.0",
        "rankladder COMMAND --help                       # options and examples of one command",
    )
    + "\n\nAdd -v to any command to see library logs too, -q for errors and the closing summary only."
)

# keys set on the namespace for this module only; removed before a command's ``func`` sees it
_PRIVATE_KEYS = ("log_verbosity", "output_arg", "command_path", "extra_args_to")


class CommandParser(argparse.ArgumentParser):
    """The parser of ``rankladder`` and (through ``add_subparsers``' default ``parser_class``) of every
    subcommand: it remembers its subcommands, and reports usage errors as one line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.subcommand_actions: list[argparse.Action] = []

    def add_subparsers(self, **kwargs):
        action = super().add_subparsers(**kwargs)
        self.subcommand_actions.append(action)
        return action

    def subcommands(self) -> list[argparse.ArgumentParser]:
        return list(dict.fromkeys(sub for action in self.subcommand_actions for sub in action.choices.values()))

    def error(self, message: str):
        """Usage errors as one line (like every other error) instead of the multi-line usage block."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> CommandParser:
    parser = CommandParser(
        prog="rankladder",
        description="Graded-relevance synthetic retrieval data and list-wise retrievers, from queries to the Hub.",
        epilog=OVERVIEW_EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rankladder {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in STAGE_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # stage not written yet
                continue
            raise
        module.register(subparsers)
    for each in _all_parsers(parser):
        _finish_parser(each, top=each is parser)
    return parser


def _finish_parser(parser: CommandParser, top: bool) -> None:
    name = parser.prog.removeprefix("rankladder").strip()
    if parser.formatter_class in (argparse.HelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
        parser.formatter_class = HelpFormatter
    if not parser.epilog and name in FALLBACK_EXAMPLES:
        parser.epilog = FALLBACK_EXAMPLES[name]
        if parser.formatter_class is not HelpFormatter and not issubclass(
            parser.formatter_class, argparse.RawDescriptionHelpFormatter
        ):
            parser.formatter_class = HelpFormatter
    add_verbosity_options(parser, top)
    if not parser.subcommands():  # a leaf: a command that runs
        parser.set_defaults(command_path=name)
        if parser.get_default("output_arg") is None and name in OUTPUT_ARGS:
            parser.set_defaults(output_arg=OUTPUT_ARGS[name])


def add_verbosity_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v``/``-q`` on every parser, so they work before or after the subcommand.

    Subparsers leave the value unset unless given (``SUPPRESS``), so ``rankladder -v build ...`` is not
    reset by ``build``'s own default. A spelling the command already uses (quickstart's ``--quiet``) is
    left to it; ``main`` reads that one as -q too."""
    default = NORMAL if top else argparse.SUPPRESS
    for strings, const, text in (
        (("-v", "--verbose"), VERBOSE, "also show library logs and warnings (INFO); the log file has them anyway"),
        (("-q", "--quiet"), QUIET, "show only errors and the closing summary"),
    ):
        for spelling in (strings, *((s,) for s in strings)):  # both; else whichever is free
            try:
                parser.add_argument(
                    *spelling, dest="log_verbosity", action="store_const", const=const, default=default, help=text
                )
                break
            except argparse.ArgumentError:  # the command has this spelling for itself
                continue


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """The ``--flags`` a parser's help lists (its public face: argparse keeps its actions private)."""
    return set(re.findall(r"(?<![\w-])--[a-z][\w-]*", parser.format_help()))


def _all_parsers(parser: CommandParser):
    yield parser
    for sub in parser.subcommands():
        yield from _all_parsers(sub)


# a path that cannot be what it was given as (a file where a folder is needed, or the other way round, or
# too long; e.g. `study --out FILE`): the user's path, reported as one line like every other bad input
PATH_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG})


def main(argv: list[str] | None = None) -> int:
    """The console command; ``rankladder ... | head`` ends quietly (the recipe of Python's signal docs: a
    closed stdout is pointed at the null device, so the interpreter's last flush cannot fail again)."""
    try:
        try:
            return run_command(argv)
        finally:  # also after --help (SystemExit): the flush is where a closed pipe shows
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def run_command(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # like pip and docker: no command is a question, answered by the overview
        build_parser().print_help()
        return 0
    run_log = RunLog(prescan_verbosity(argv)).start()  # before parsing: its errors go to the log too
    outputs, label, path, keep, code = [], "", "", False, None
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        # messages name the top-level command (`rankladder publish: error: ...`), the log file the whole path
        label, path = args.command, args.command_path
        extra_to = getattr(args, "extra_args_to", None)  # a command that hands unknown flags on (train: the Trainer)
        if extra and extra_to:
            setattr(args, extra_to, extra)
        elif extra:
            prog = f"{parser.prog} {label}"
            known = {flag for sub in _all_parsers(parser) if sub.prog == f"rankladder {path}" for flag in _flags(sub)}
            parser.exit(2, f"{prog}: error: {unrecognized(extra, path, known)} (see {prog} --help)\n")
        level = QUIET if getattr(args, "quiet", False) is True else args.log_verbosity
        run_log.set_level(level)
        # the log's first line says what ran: every command that ran leaves a log in its output folder
        logging.getLogger("rankladder").info(
            "rankladder %s: %s (cwd %s)", __version__, shlex.join(["rankladder", *argv]), os.getcwd()
        )
        if level == QUIET:  # -q: no progress display either, in the command's own terms
            for flag, value in (("no_progress", True), ("quiet", True)):
                if hasattr(args, flag):
                    setattr(args, flag, value)
        output_arg = args.output_arg
        for key in _PRIVATE_KEYS:
            if hasattr(args, key):
                delattr(args, key)
        try:
            code, keep = _run(args, label)
        except BrokenPipeError:  # the reader went away (`| head`): nothing failed
            raise
        except Exception:  # a crash: Python prints the traceback, the log keeps what led to it
            keep = True
            raise
        if code == 0 and output_arg:
            value = getattr(args, output_arg, None)
            outputs = value if isinstance(value, list) else [value]
        return code
    finally:
        where = run_log.finish(outputs, path.replace(" ", "-"), keep=keep)
        if keep and where:
            print(f"rankladder {label}: log: {where}", file=sys.stderr)
        if code == 130:
            print(f"rankladder {label}: interrupted", file=sys.stderr)


def _run(args: argparse.Namespace, label: str) -> tuple[int, bool]:
    """Run the command: (exit code, whether its log is worth keeping after a failure)."""
    mark_start()
    try:
        result = args.func(args)
    except BrokenPipeError:
        raise
    except UserError as exc:  # bad input: the one line says it all
        print(f"rankladder {label}: error: {exc}", file=sys.stderr)
        return 2, False
    except StepFailed as exc:  # a step of run/quickstart/study could not produce its output (its marker says so)
        print(f"rankladder {label}: error: {exc}", file=sys.stderr)
        return 1, False
    except OSError as exc:
        from rankladder.core.fsutil import OUTPUT_ERRNOS

        if exc.errno not in OUTPUT_ERRNOS | PATH_ERRNOS:
            logging.getLogger("rankladder").debug("%s crashed", label, exc_info=True)
            raise
        logging.getLogger("rankladder").debug("traceback", exc_info=True)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rankladder {label}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2, False
    except KeyboardInterrupt:  # main says so, after the log's path: "interrupted" stays the last line
        logging.getLogger("rankladder").debug("%s interrupted", label, exc_info=True)  # where it stopped
        return 130, True
    except Exception:
        logging.getLogger("rankladder").debug("%s crashed", label, exc_info=True)
        raise
    code = int(result or 0)
    return code, code != 0


if __name__ == "__main__":
    sys.exit(main())
