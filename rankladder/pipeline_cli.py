"""``rankladder quickstart`` and ``rankladder run RELEASE.yaml``."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    quick = subparsers.add_parser(
        "quickstart",
        help="the whole pipeline offline on embedded defaults (CPU, about 10 minutes)",
        description="Bundled queries → SmolLM2-135M graded documents → dataset v0.1.0 (with dev split) → "
        "MiniLM fine-tuned with the wasserstein loss → eval of base vs fine-tuned → cards → "
        "publish --dry-run into OUT/release. Resumable: a second run reuses finished stages.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    quick.add_argument("--out", default="out/quickstart", help="output folder for every artifact")
    quick.add_argument(
        "--eval-data",
        action="append",
        default=[],
        metavar="BEIR_FOLDER",
        help="also evaluate on this BEIR folder (repeatable), e.g. ../shared/datasets/cranfield",
    )
    quick.add_argument("--limit", type=int, default=None, help="use only this many bundled queries")
    quick.add_argument("--quiet", action="store_true", help="no progress output")
    quick.set_defaults(func=run_quickstart)

    run = subparsers.add_parser(
        "run",
        help="run a release described by one YAML (stages resume; changed config re-runs)",
        description="Stages: generate, build, train, eval, publish. A stage whose output is complete and "
        "whose config hash matches is skipped; a changed config re-runs it and all later stages.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    run.add_argument("release", metavar="RELEASE_YAML")
    run.add_argument("--out", required=True, help="output folder for every artifact")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.set_defaults(func=run_release)


def _finish(release: dict, out) -> int:
    from pathlib import Path

    summary_md = Path(release["results"]["path"]) / "summary.md"
    print()
    if summary_md.is_file():
        print(summary_md.read_text(encoding="utf-8"))
    agreement = release.get("stages", {}).get("build", {}).get("agreement")
    if agreement:
        print(
            f"judge vs intended levels: weighted kappa {agreement['kappa_quadratic']}, exact agreement "
            f"{agreement['exact_agreement']}; documents kept by label policy {agreement['kept_by_policy']} "
            f"(labels used: {agreement['labels']}; see the dataset card)"
        )
    print("artifacts:")
    for label, path in (
        ("run", Path(out) / "run"),
        ("dataset", release["dataset"]["path"]),
        ("model", release["model"]["path"]),
        ("results", release["results"]["path"]),
        ("release folder", release["release_folder"]),
        ("manifest", Path(out) / "release.json"),
    ):
        print(f"  {label:15} {path}")
    return 0


def run_quickstart(args) -> int:
    from rankladder.core.errors import UserError
    from rankladder.pipeline import Pipeline
    from rankladder.release import load_release

    overrides = {}
    if args.eval_data:
        from pathlib import Path

        for folder in args.eval_data:
            if not (Path(folder) / "corpus.jsonl").is_file():
                raise UserError(f"{folder}: not a BEIR folder (no corpus.jsonl)")
        overrides["eval"] = {"tasks": list(args.eval_data)}
    if args.limit is not None:
        overrides["queries"] = {"limit": args.limit}
    release = Pipeline(load_release(None, overrides), args.out, progress=not args.quiet).run()
    return _finish(release, args.out)


def run_release(args) -> int:
    from rankladder.pipeline import Pipeline
    from rankladder.release import load_release

    release = Pipeline(load_release(args.release), args.out, progress=not args.quiet).run()
    return _finish(release, args.out)
