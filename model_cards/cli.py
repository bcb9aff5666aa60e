"""``rankladder publish dataset|model|results``: release folders to the Hugging Face Hub."""

from __future__ import annotations

import argparse
from pathlib import Path

HUB_NOTE = (
    "The token comes from HF_TOKEN or `hf auth login` and is never printed; the Hub endpoint from "
    "HF_ENDPOINT (mirrors and private hubs work). Re-running after an interruption finishes the job "
    "without duplicate commits or tags."
)


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
        "--output", type=Path, help="where --dry-run writes the folder (default: ./release/ORG__NAME-vX.Y.Z)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing, different --output/--bundle-dir folder (only once the new one is "
        "complete); without it such a folder is refused",
    )


def register(subparsers) -> None:
    publish = subparsers.add_parser(
        "publish", help="publish a dataset, a model or eval results to the Hub", description=__doc__ + "\n\n" + HUB_NOTE
    )
    sub = publish.add_subparsers(dest="what", metavar="WHAT", required=True)

    ds = sub.add_parser(
        "dataset",
        help="DATASET_DIR -> dataset repo (all configs + card, one commit, tagged)",
        description="Upload all configs (parquet), stats and the dataset card in one commit, "
        "then tag it vX.Y.Z. " + HUB_NOTE,
    )
    ds.add_argument("dataset_dir", type=Path, metavar="DATASET_DIR", help="folder written by `rankladder build`")
    ds.add_argument("--repo", required=True, help="dataset repo id ORG/NAME")
    _common(ds)
    ds.set_defaults(func=_dataset)

    md = sub.add_parser(
        "model",
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
    md.set_defaults(func=_model)

    rs = sub.add_parser(
        "results",
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
    rs.set_defaults(func=_results)


def _dataset(args) -> int:
    from rankladder.model_cards.publish import publish_dataset

    return publish_dataset(
        args.dataset_dir,
        args.repo,
        args.version,
        private=args.private,
        dry_run=args.dry_run,
        force=args.force,
        license=args.license,
        output=args.output,
        overwrite=args.overwrite,
    )


def _model(args) -> int:
    from rankladder.model_cards.publish import publish_model

    return publish_model(
        args.checkpoint_dir,
        args.repo,
        args.version,
        private=args.private,
        dry_run=args.dry_run,
        force=args.force,
        license=args.license,
        dataset_repo=args.dataset_repo,
        results_dir=args.results,
        output=args.output,
        base_model=args.base_model,
        overwrite=args.overwrite,
    )


def _results(args) -> int:
    from rankladder.model_cards.publish import publish_results

    return publish_results(
        args.results_dir,
        args.model_repo,
        create_pr=args.create_pr,
        dry_run=args.dry_run,
        model=args.model,
        bundle_dir=args.bundle_dir,
        output=args.output,
        overwrite=args.overwrite,
    )
