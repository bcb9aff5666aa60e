"""``rankladder publish dataset|model|results``: release folders to the Hugging Face Hub."""

from __future__ import annotations

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


# given per call (the entry function's arguments), not options of the kind's config (model_cards.config)
PER_CALL = {"folder": "folder", "repo": "repo_id", "model_repo": "repo_id", "out": "out", "overwrite": "overwrite"}


def _add_kind(sub, kind: str, folder: str, folder_help: str, repo_flag: str, repo_help: str, **parser_kwargs):
    """One ``publish KIND`` parser: the folder and repo, the kind's config as flags, then --out/--overwrite."""
    from rankladder.core.cli_model import add_model_arguments
    from rankladder.model_cards.config import PUBLISH_CONFIGS

    parser = sub.add_parser(kind, formatter_class=HelpFormatter, **parser_kwargs)
    parser.add_argument("folder", type=Path, metavar=folder, help=folder_help)
    parser.add_argument(repo_flag, dest="repo_id", required=True, metavar="ORG/NAME", help=repo_help)
    add_model_arguments(parser, PUBLISH_CONFIGS[kind])
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where --dry-run writes the folder (default: ./release/ORG__NAME-vX.Y.Z)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing, different --out/--bundle-dir folder (only once the new one is "
        "complete); without it such a folder is refused",
    )
    # no output folder of its own to log into: a dry run's folder is exactly what would be uploaded
    parser.set_defaults(func=_publish, kind=kind, output_arg=None)


def register(subparsers) -> None:
    publish = subparsers.add_parser(
        "publish",
        help="publish a dataset, a model or eval results to the Hub",
        description=__doc__ + "\n\n" + HUB_NOTE,
        epilog=examples(DATASET_EXAMPLE, MODEL_EXAMPLE, RESULTS_EXAMPLE),
        formatter_class=HelpFormatter,
    )
    sub = publish.add_subparsers(dest="what", metavar="WHAT", required=True)

    _add_kind(
        sub,
        "dataset",
        "DATASET_DIR",
        "folder written by `rankladder build`",
        "--repo",
        "dataset repo id ORG/NAME",
        epilog=examples(
            "rankladder publish dataset datasets/demo --repo my-org/sycl-demo --version 0.1.0 --dry-run",
            DATASET_EXAMPLE,
        ),
        help="DATASET_DIR -> dataset repo (all configs + card, one commit, tagged)",
        description="Upload all configs (parquet), stats and the dataset card in one commit, "
        "then tag it vX.Y.Z. " + HUB_NOTE,
    )
    _add_kind(
        sub,
        "model",
        "CHECKPOINT_DIR",
        "folder written by `rankladder train`",
        "--repo",
        "model repo id ORG/NAME",
        epilog=examples(
            "rankladder publish model models/demo --repo my-org/minilm-sycl --version 0.1.0 --dry-run --out release/minilm",
            MODEL_EXAMPLE,
        ),
        help="CHECKPOINT_DIR -> model repo (SentenceTransformer folder + card, tagged)",
        description="Upload the full SentenceTransformer folder with its enriched card in one "
        "commit, then tag it vX.Y.Z. " + HUB_NOTE,
    )
    _add_kind(
        sub,
        "results",
        "RESULTS_DIR",
        "folder written by `rankladder eval`",
        "--model-repo",
        "model repo id ORG/NAME",
        epilog=examples(
            "rankladder publish results results/demo --model-repo my-org/minilm-sycl --dry-run", RESULTS_EXAMPLE
        ),
        help="RESULTS_DIR -> model card table + model-index, result JSONs, leaderboard bundle",
        description="Update the model card's results table and model-index, upload the mteb "
        "result JSONs, and write an MTEB leaderboard submission bundle "
        "(embeddings-benchmark/results layout + ModelMeta snippet). " + HUB_NOTE,
    )


def _summary(
    kind: str, config, out, repo: str, version: str | None, default_output: Path, next_steps: list[str]
) -> None:
    """The closing block of a publish command: where it went (or the dry-run folder), which revision."""
    from rankladder.core.console import print_summary, written
    from rankladder.model_cards import hub

    url = f"{hub.endpoint()}/{'datasets/' if kind == 'dataset' else ''}{repo}"
    tag = f"v{version}" if version else None
    if config.dry_run:
        folder = Path(out or default_output)
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
            ("revision", f"tag {tag}" if tag else ("pull request" if getattr(config, "create_pr", False) else "main")),
        ]
    print_summary(f"publish {kind}", rows, next_steps=next_steps)


def _publish(args) -> int:
    from rankladder.core.cli_model import config_from_args
    from rankladder.model_cards.config import PUBLISH_CONFIGS
    from rankladder.model_cards.publish import _default_output, run

    kind, repo = args.kind, args.repo_id
    config = config_from_args(PUBLISH_CONFIGS[kind], args)
    code = run(kind, config, args.folder, repo, out=args.out, overwrite=args.overwrite)
    name, version = repo.split("/")[-1], getattr(config, "version", None)
    if kind == "dataset":
        steps = [f"rankladder train --data {repo}@v{version} --out models/{name}-model"]
        default_output = _default_output(repo, version)
    elif kind == "model":
        steps = [f"rankladder eval --model {repo}@v{version} --tasks NanoBEIR --out results/{name}"]
        default_output = _default_output(repo, version)
    else:
        bundle = config.bundle_dir or Path("release") / "leaderboard" / repo.replace("/", "__")
        steps = [f"open a pull request with {bundle} on github.com/embeddings-benchmark/results (MTEB leaderboard)"]
        default_output = _default_output(repo, None) / "results"
    _summary(kind, config, args.out, repo, version, default_output, steps)
    return code
