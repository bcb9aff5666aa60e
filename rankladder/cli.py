"""The ``rankladder`` console command: a thin dispatcher over the stages.

Each stage module exposes ``register(subparsers)``, which adds its subcommands and sets ``func`` (and
``output_arg``, the option naming its output folder) on them. Stage modules import heavy libraries (torch,
transformers) inside their functions only, so ``rankladder --help`` stays fast.

What every command shares is done here, once: ``-v``/``-q`` anywhere on the command line, logs routed to
``OUT/logs/`` (``rankladder.core.logs``), help with each default once and an example, both ``--a-b`` and
``--a_b`` spellings of every long option, and one-line errors.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import os
import shlex
import sys

from rankladder import __version__
from rankladder.core.clihelp import HelpFormatter, examples
from rankladder.core.console import mark_start
from rankladder.core.errors import UserError
from rankladder.core.logs import NORMAL, QUIET, VERBOSE, RunLog, prescan_verbosity

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
OUTPUT_ARGS = {"train": "output_dir", "eval": "output_dir", "quickstart": "out", "run": "out"}

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
_PRIVATE_KEYS = ("log_verbosity", "output_arg", "command_path")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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


def _finish_parser(parser: argparse.ArgumentParser, top: bool) -> None:
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
    if not _subcommands(parser):  # a leaf: a command that runs
        parser.set_defaults(command_path=name)
        if "output_arg" not in parser._defaults:
            parser.set_defaults(output_arg=OUTPUT_ARGS.get(name))
    add_spelling_aliases(parser)
    _add_aliases_before_parsing(parser)
    parser.error = _one_line_error(parser)


def add_verbosity_options(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``-v``/``-q`` on every parser, so they work before or after the subcommand.

    Subparsers leave the value unset unless given (``SUPPRESS``), so ``rankladder -v build ...`` is not
    reset by ``build``'s own default. A spelling the command already uses (quickstart's ``--quiet``) is
    left to it; ``main`` reads that one as -q too."""
    taken = parser._option_string_actions
    default = NORMAL if top else argparse.SUPPRESS
    for strings, const, text in (
        (("-v", "--verbose"), VERBOSE, "also show library logs and warnings (INFO); the log file has them anyway"),
        (("-q", "--quiet"), QUIET, "show only errors and the closing summary"),
    ):
        free = [s for s in strings if s not in taken]
        if free:
            parser.add_argument(
                *free, dest="log_verbosity", action="store_const", const=const, default=default, help=text
            )


def add_spelling_aliases(parser: argparse.ArgumentParser) -> None:
    """Accept ``--dev_fraction`` for ``--dev-fraction`` and ``--group-size`` for ``--group_size``.

    Every long option spelled with '-' or '_' gets the other spelling as a hidden alias (help shows each option
    once), unless that spelling is already another option. Idempotent: call it again after adding options
    (``main`` does, right before parsing, so parsers that add options lazily are covered too)."""
    table = parser._option_string_actions
    for option, action in list(table.items()):
        if not option.startswith("--"):
            continue
        body = option[2:]
        for other in (body.replace("-", "_"), body.replace("_", "-")):
            if other != body and f"--{other}" not in table:
                table[f"--{other}"] = action
    if not getattr(parser, "_dedup_prefixes", False):
        original = parser._get_option_tuples

        def option_tuples(option_string):
            # an abbreviation matching an option and its alias is not ambiguous: they are one option
            seen, unique = set(), []
            for match in original(option_string):
                if id(match[0]) not in seen:
                    seen.add(id(match[0]))
                    unique.append(match)
            return unique

        parser._get_option_tuples = option_tuples
        parser._dedup_prefixes = True


def _add_aliases_before_parsing(parser: argparse.ArgumentParser) -> None:
    original = parser._parse_known_args

    def parse_known_args(*args, **kwargs):
        add_spelling_aliases(parser)  # options a parser added after build_parser (train's, lazily)
        return original(*args, **kwargs)

    parser._parse_known_args = parse_known_args


def _subcommands(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [
        sub
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for sub in dict.fromkeys(action.choices.values())
    ]


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for sub in _subcommands(parser):
        yield from _all_parsers(sub)


def _one_line_error(parser: argparse.ArgumentParser):
    """Usage errors as one line (like every other error) instead of the multi-line usage block."""

    def error(message: str):
        parser.exit(2, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    return error


# a path that cannot be what it was given as (a file where a folder is needed, or the other way round, or
# too long; e.g. `study --out FILE`): the user's path, reported as one line like every other bad input
PATH_ERRNOS = frozenset({errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENAMETOOLONG})


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # like pip and docker: no command is a question, answered by the overview
        build_parser().print_help()
        return 0
    run_log = RunLog(prescan_verbosity(argv)).start()  # before parsing: train's parser imports transformers
    outputs, label, path, keep, code = [], "", "", False, None
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        # messages name the top-level command (`rankladder publish: error: ...`), the log file the whole path
        label, path = args.command, args.command_path
        if extra:
            prog = f"{parser.prog} {label}"
            parser.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extra)} (see {prog} --help)\n")
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
            delattr(args, key)
        try:
            code, keep = _run(args, label)
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
    except UserError as exc:  # bad input: the one line says it all
        print(f"rankladder {label}: error: {exc}", file=sys.stderr)
        return 2, False
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
