"""The ``rankladder`` console command: a thin dispatcher over the stages.

Each stage module exposes ``register(subparsers)``, which adds its subcommands and sets ``func``
on them. Stage modules import heavy libraries (torch, transformers) inside their functions only, so
``rankladder --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys

from rankladder import __version__
from rankladder.core.console import mark_start
from rankladder.core.errors import UserError

STAGE_MODULES = (
    "rankladder.dataset_builder.cli",
    "rankladder.dataset_builder.mine_cli",
    "rankladder.training.cli",
    "rankladder.eval.cli",
    "rankladder.model_cards.cli",
    "rankladder.pipeline_cli",
    "rankladder.study_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rankladder",
        description="Graded-relevance synthetic retrieval data and list-wise retrievers, from queries to the Hub.",
    )
    parser.add_argument("--version", action="version", version=f"rankladder {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
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
        each.error = _one_line_error(each)
    return parser


def _all_parsers(parser: argparse.ArgumentParser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
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
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        prog = f"{parser.prog} {args.command}"
        parser.exit(2, f"{prog}: error: unrecognized arguments: {' '.join(extra)} (see {prog} --help)\n")
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    mark_start()
    try:
        result = args.func(args)
    except UserError as exc:
        print(f"rankladder {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        from rankladder.core.fsutil import OUTPUT_ERRNOS

        if exc.errno not in OUTPUT_ERRNOS | PATH_ERRNOS:
            raise
        logging.getLogger("rankladder").info("traceback", exc_info=True)
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rankladder {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rankladder {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
