"""``rankladder quickstart`` and ``rankladder run RELEASE.yaml``."""

from __future__ import annotations

import argparse

# a real collection next to the checkout (this project's shared datasets); absent on a fresh machine,
# where the quickstart still runs and says how to add one
DEFAULT_EVAL_DATA = "../shared/datasets/cranfield"
QUICK_EXAMPLES = """\
examples:
  rankladder quickstart                                   # out/quickstart; + Cranfield when it is there
  rankladder quickstart --out /tmp/qs --eval-data ../shared/datasets/medline
  rankladder quickstart --limit 8 --eval-data none        # a smaller, faster toy run
"""
RUN_EXAMPLES = """\
examples:
  rankladder run configs/quickstart.yaml --out out/quickstart
  rankladder run configs/release_paper.yaml --out out/paper
"""


def register(subparsers) -> None:
    quick = subparsers.add_parser(
        "quickstart",
        help="the whole pipeline offline on embedded defaults (CPU, about 10 minutes)",
        description="Bundled queries → SmolLM2-135M graded documents → dataset v0.1.0 (with dev split) →\n"
        "MiniLM fine-tuned with the wasserstein loss → eval of base vs fine-tuned → cards →\n"
        "publish --dry-run into OUT/release. Resumable: a second run reuses finished stages.\n"
        "Ends with a summary: did the fine-tuned model beat the base, by how much, on which data.",
        epilog=QUICK_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    quick.add_argument(
        "--out",
        default="out/quickstart",
        metavar="DIR",
        help="output folder for every artifact (default: out/quickstart)",
    )
    quick.add_argument(
        "--eval-data",
        action="append",
        default=None,
        metavar="BEIR_FOLDER",
        help="also compare base and fine-tuned on this real BEIR collection (repeatable; 'none': only the "
        f"synthetic dev split). Default: {DEFAULT_EVAL_DATA} when that folder exists, else none (with a note)",
    )
    quick.add_argument(
        "--limit", type=int, default=None, metavar="N", help="use only this many bundled queries (of 40)"
    )
    quick.add_argument("--quiet", action="store_true", help="no progress output")
    quick.set_defaults(func=run_quickstart)

    run = subparsers.add_parser(
        "run",
        help="run a release described by one YAML (stages resume; changed config re-runs)",
        description="Stages: generate, judge, build, train, eval, publish. A stage whose output is complete\n"
        "and whose config hash matches is skipped; a changed config re-runs it and all later stages.\n"
        "Ends with the same summary as quickstart.",
        epilog=RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("release", metavar="RELEASE_YAML")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder for every artifact (required)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=run_release)


def _finish(release: dict, out, command: str, notes: list[str] = ()) -> int:
    from pathlib import Path

    from rankladder.core.console import print_summary
    from rankladder.pipeline_summary import summary_rows

    rows, next_steps = summary_rows(release, Path(out), notes)
    print_summary(command, rows, next_steps=next_steps)
    return 0


def eval_data(given: list[str] | None) -> tuple[list[str], list[str]]:
    """The real collections to evaluate on, and a note for the summary when there is none."""
    from pathlib import Path

    from rankladder.core.errors import UserError

    if given is None:
        if (Path(DEFAULT_EVAL_DATA) / "corpus.jsonl").is_file():
            return [DEFAULT_EVAL_DATA], []
        return [], [
            f"no real collection ({DEFAULT_EVAL_DATA} not found): base vs fine-tuned is compared on the "
            "synthetic dev split only; add one with --eval-data BEIR_FOLDER"
        ]
    folders = [f for f in given if f.lower() != "none"]
    for folder in folders:
        if not (Path(folder) / "corpus.jsonl").is_file():
            raise UserError(f"{folder}: not a BEIR folder (no corpus.jsonl)")
    return folders, []


def run_quickstart(args) -> int:
    from rankladder.pipeline import Pipeline
    from rankladder.release import load_release

    overrides = {}
    folders, notes = eval_data(args.eval_data)
    if folders:
        overrides["eval"] = {"tasks": folders}
    if notes and not args.quiet:
        print(f"[rankladder] note: {notes[0]}", flush=True)
    if args.limit is not None:
        overrides["generation"] = {"limit": args.limit}
    release = Pipeline(load_release(None, overrides), args.out, progress=not args.quiet).run()
    return _finish(release, args.out, "quickstart", notes)


def run_release(args) -> int:
    from rankladder.pipeline import Pipeline
    from rankladder.release import load_release

    release = Pipeline(load_release(args.release), args.out, progress=not args.quiet).run()
    return _finish(release, args.out, "run")
