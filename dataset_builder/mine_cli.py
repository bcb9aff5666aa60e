"""``rankladder mine BEIR_FOLDER --split S --method bm25|dense -k K --out OUT`` (see ``mining.py``)."""

from __future__ import annotations

import argparse

from rankladder.core.cli_model import add_model_arguments, config_from_args
from rankladder.core.clihelp import examples, wrapped
from rankladder.dataset_builder.config import MineConfig


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=examples(
            "rankladder mine ../shared/datasets/cranfield --split test --method bm25 -k 2 --out out/mined-bm25",
            "rankladder mine data/msmarco-train --split train -k 2 --sampling random --range-max 30 --out out/msmarco-neg",
            "rankladder mine ../shared/datasets/cranfield --method dense --relative-margin 0.05 -k 4 --out out/mined-dense",
        ),
        help="mine hard negatives from a real BEIR corpus (BM25 or a dense model) as a training source",
        description=wrapped(
            "For every query of one qrels split with a judged positive, keep K negatives from the "
            "ranking with the positives removed (grade > 0 is never a negative): by default the K "
            "highest-ranked; --range-min/--range-max/--sampling move or sample the window. Writes OUT/"
            "mined_negatives.tsv (query-id, corpus-id, score=0, rank, retrieval-score), OUT/lists/"
            "train-*.parquet (positives with their grades + negatives at level 0; `train --sources OUT` "
            "reads it) and a manifest."
        ),
    )
    p.add_argument("folder", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    add_model_arguments(p, MineConfig)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run, output_arg="out")


def _run(args) -> int:
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.mining import mine

    config = config_from_args(MineConfig, args)
    manifest = mine(args.folder, args.out, config, overwrite=args.overwrite, progress=not args.no_progress)
    summaries.mine(args.out, manifest, config.negatives_per_query)
    return 0
