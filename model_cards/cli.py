"""``rankladder publish dataset|model|results``: release folders to the Hugging Face Hub."""

from __future__ import annotations

import argparse
from pathlib import Path

from rankladder.core.clihelp import HelpFormatter, examples

HUB_NOTE = (
    "The token comes from HF_TOKEN or `hf auth login` and is never printed; the Hub endpoint from "
    "HF_ENDPOINT (mirrors and private hubs work). Re-running after an interruption finishes the job "
    "without duplicate commits or tags."
)


DATASET_EXAMPLE = (
    "rankladder publish dataset datasets/demo --repo my-org/sycl-demo --version 0.1.0 --license apache-2.0"
)
MODEL_EXAMPLE = (
    "rankladder publish model models/demo --repo my-org/minilm-sycl --version 0.1.0 --dataset-repo my-org/sycl-demo"
)
RESULTS_EXAMPLE = "rankladder publish results results/demo --model-repo my-org/minilm-sycl --create-pr"


def _common(parser: argparse.ArgumentParser, versioned: bool = True) -> None:
    if versioned:
        parser.add_argument("--version", required=True, help="semantic version X.Y.Z; the release is tagged vX.Y.Z")
        parser.add_argument("--private", action="store_true", help="create the repo as private (if it does not exist)")
        parser.add_argument("--force", action="store_true", help="move the tag vX.Y.Z if it already exists")
        parser.add_argument(
            "--license",
            help="Hub license id for the card, e.g. apache-2.0, mit, cc-by-4.0 (default: the one already in README.md)",
        )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan and write the exact folder that would be uploaded; upload nothing",
    )
    parser.add_argument(
        "--out", type=Path, help="where --dry-run writes the folder (default: ./release/ORG__NAME-vX.Y.Z)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing, different --out/--bundle-dir folder (only once the new one is "
        "complete); without it such a folder is refused",
    )


def register(subparsers) -> None:
    publish = subparsers.add_parser(
        "publish",
        help="publish a dataset, a model or eval results to the Hub",
        description=__doc__ + "\n\n" + HUB_NOTE,
        epilog=examples(DATASET_EXAMPLE, MODEL_EXAMPLE, RESULTS_EXAMPLE),
        formatter_class=HelpFormatter,
    )
    sub = publish.add_subparsers(dest="what", metavar="WHAT", required=True)

    ds = sub.add_parser(
        "dataset",
        formatter_class=HelpFormatter,
        epilog=examples(
            "rankladder publish dataset datasets/demo --repo my-org/sycl-demo --version 0.1.0 --dry-run",
            DATASET_EXAMPLE,
        ),
        help="DATASET_DIR -> dataset repo (all configs + card, one commit, tagged)",
        description="Upload all configs (parquet), stats and the dataset card in one commit, "
        "then tag it vX.Y.Z. " + HUB_NOTE,
    )
    ds.add_argument("dataset_dir", type=Path, metavar="DATASET_DIR", help="folder written by `rankladder build`")
    ds.add_argument("--repo", required=True, help="dataset repo id ORG/NAME")
    _common(ds)
    # no output folder of its own to log into: a dry run's folder is exactly what would be uploaded
    ds.set_defaults(func=_dataset, output_arg=None)

    md = sub.add_parser(
        "model",
        formatter_class=HelpFormatter,
        epilog=examples(
            "rankladder publish model models/demo --repo my-org/minilm-sycl --version 0.1.0 --dry-run --out release/minilm",
            MODEL_EXAMPLE,
        ),
        help="CHECKPOINT_DIR -> model repo (SentenceTransformer folder + card, tagged)",
        description="Upload the full SentenceTransformer folder with its enriched card in one "
        "commit, then tag it vX.Y.Z. " + HUB_NOTE,
    )
    md.add_argument("checkpoint_dir", type=Path, metavar="CHECKPOINT_DIR", help="folder written by `rankladder train`")
    md.add_argument("--repo", required=True, help="model repo id ORG/NAME")
    md.add_argument("--dataset-repo", help="Hub id of the training dataset (default: from the train manifest)")
    md.add_argument(
        "--results",
        type=Path,
        metavar="RESULTS_DIR",
        help="also put these eval results in the card (the model evaluated from CHECKPOINT_DIR)",
    )
    md.add_argument(
        "--base-model",
        metavar="ORG/NAME",
        help="Hub id of the base model, when the train manifest records a local folder rankladder "
        "cannot map to one (the packaged all-MiniLM-L6-v2 is recognised)",
    )
    _common(md)
    md.set_defaults(func=_model, output_arg=None)

    rs = sub.add_parser(
        "results",
        formatter_class=HelpFormatter,
        epilog=examples(
            "rankladder publish results results/demo --model-repo my-org/minilm-sycl --dry-run", RESULTS_EXAMPLE
        ),
        help="RESULTS_DIR -> model card table + model-index, result JSONs, leaderboard bundle",
        description="Update the model card's results table and model-index, upload the mteb "
        "result JSONs, and write an MTEB leaderboard submission bundle "
        "(embeddings-benchmark/results layout + ModelMeta snippet). " + HUB_NOTE,
    )
    rs.add_argument("results_dir", type=Path, metavar="RESULTS_DIR", help="folder written by `rankladder eval`")
    rs.add_argument("--model-repo", required=True, help="model repo id ORG/NAME")
    rs.add_argument("--model", help="model name in summary.json (needed when it holds several models)")
    rs.add_argument("--create-pr", action="store_true", help="open a pull request instead of committing to main")
    rs.add_argument(
        "--bundle-dir", type=Path, help="leaderboard bundle folder (default: ./release/leaderboard/ORG__NAME)"
    )
    _common(rs, versioned=False)
    rs.set_defaults(func=_results, output_arg=None)


def _summary(kind: str, args, repo: str, version: str | None, default_output: Path, next_steps: list[str]) -> None:
    """The closing block of a publish command: where it went (or the dry-run folder), which revision."""
    from rankladder.core.console import print_summary, written
    from rankladder.model_cards import hub

    url = f"{hub.endpoint()}/{'datasets/' if kind == 'dataset' else ''}{repo}"
    tag = f"v{version}" if version else None
    if args.dry_run:
        folder = Path(args.out or default_output)
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        rows = [
            ("wrote", written(folder, f"{files} files, exactly what would be uploaded (nothing was)")),
            ("repo", f"{url} (not contacted)"),
            ("revision", f"{tag} (not created)" if tag else ""),
        ]
        next_steps = ["the same command without --dry-run uploads it (token: HF_TOKEN or `hf auth login`)"]
    else:
        rows = [
            ("published", url),
            ("revision", f"tag {tag}" if tag else ("pull request" if args.create_pr else "main")),
        ]
    print_summary(f"publish {kind}", rows, next_steps=next_steps)


def _dataset(args) -> int:
    from rankladder.model_cards.publish import _default_output, publish_dataset

    code = publish_dataset(
        args.dataset_dir,
        args.repo,
        args.version,
        private=args.private,
        dry_run=args.dry_run,
        force=args.force,
        license=args.license,
        output=args.out,
        overwrite=args.overwrite,
    )
    name = args.repo.split("/")[-1]
    steps = [f"rankladder train --data {args.repo}@v{args.version} --out models/{name}-model"]
    _summary("dataset", args, args.repo, args.version, _default_output(args.repo, args.version), steps)
    return code


def _model(args) -> int:
    from rankladder.model_cards.publish import _default_output, publish_model

    code = publish_model(
        args.checkpoint_dir,
        args.repo,
        args.version,
        private=args.private,
        dry_run=args.dry_run,
        force=args.force,
        license=args.license,
        dataset_repo=args.dataset_repo,
        results_dir=args.results,
        output=args.out,
        base_model=args.base_model,
        overwrite=args.overwrite,
    )
    name = args.repo.split("/")[-1]
    steps = [f"rankladder eval --model {args.repo}@v{args.version} --tasks NanoBEIR --out results/{name}"]
    _summary("model", args, args.repo, args.version, _default_output(args.repo, args.version), steps)
    return code


def _results(args) -> int:
    from rankladder.model_cards.publish import _default_output, publish_results

    code = publish_results(
        args.results_dir,
        args.model_repo,
        create_pr=args.create_pr,
        dry_run=args.dry_run,
        model=args.model,
        bundle_dir=args.bundle_dir,
        output=args.out,
        overwrite=args.overwrite,
    )
    bundle = args.bundle_dir or Path("release") / "leaderboard" / args.model_repo.replace("/", "__")
    steps = [f"open a pull request with {bundle} on github.com/embeddings-benchmark/results (MTEB leaderboard)"]
    _summary("results", args, args.model_repo, None, _default_output(args.model_repo, None) / "results", steps)
    return code
