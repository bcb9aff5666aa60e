"""``rankladder mine BEIR_FOLDER --split S --method bm25|dense -k K --out OUT`` (see ``mining.py``)."""

from __future__ import annotations

from rankladder.core.clihelp import HelpFormatter, examples


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "mine",
        formatter_class=HelpFormatter,
        epilog=examples(
            "rankladder mine ../shared/datasets/cranfield --split test --method bm25 -k 2 --out out/mined-bm25",
            "rankladder mine data/msmarco-train --split train -k 2 --sampling random --range-max 30 --out out/msmarco-neg",
            "rankladder mine ../shared/datasets/cranfield --method dense --relative-margin 0.05 -k 4 --out out/mined-dense",
        ),
        help="mine hard negatives from a real BEIR corpus (BM25 or a dense model) as a training source",
        description="For every query of one qrels split with a judged positive, keep K negatives from the "
        "ranking with the positives removed (grade > 0 is never a negative): by default the K "
        "highest-ranked; --range-min/--range-max/--sampling move or sample the window. Writes OUT/"
        "mined_negatives.tsv (query-id, corpus-id, score=0, rank, retrieval-score), OUT/lists/"
        "train-*.parquet (positives with their grades + negatives at level 0; `train --sources OUT` "
        "reads it) and a manifest.",
    )
    p.add_argument("folder", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    p.add_argument("--split", default=None, help="qrels split (default: test, else the only one)")
    p.add_argument(
        "--method",
        choices=("bm25", "dense"),
        default="bm25",
        help="bm25: bm25s with English stopwords + Snowball stemmer (eval's BM25 row); "
        "dense: sentence-transformers' mine_hard_negatives",
    )
    p.add_argument("--model", default=None, help="dense: SentenceTransformer name or folder (default all-MiniLM-L6-v2)")
    p.add_argument("-k", "--negatives-per-query", type=int, default=2, help="K negatives per query")
    p.add_argument("--range-min", type=int, default=0, help="skip the first N positive-free candidates")
    p.add_argument(
        "--range-max",
        type=int,
        default=None,
        help="candidates end at this position of the positive-free ranking (default: range-min + K "
        "for bm25; sentence-transformers' default for dense)",
    )
    p.add_argument(
        "--sampling",
        choices=("top", "random"),
        default="top",
        help="top: the first K of the window; random: K drawn from it (seeded)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --sampling random")
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="dense: drop candidates scoring above (positive - margin) (absolute margin)",
    )
    p.add_argument(
        "--relative-margin",
        type=float,
        default=None,
        help="dense: drop candidates scoring above positive - |positive| * margin (e.g. 0.05)",
    )
    p.add_argument(
        "--cross-encoder", default=None, help="dense: CrossEncoder that rescores the candidates (needs a margin)"
    )
    p.add_argument("--batch-size", type=int, default=32, help="dense: encoding batch size")
    p.add_argument("--max-seq-length", type=int, default=None, help="dense: truncate texts to this many tokens")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run, output_arg="out")


def _run(args) -> int:
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.mining import MineOptions, mine

    options = MineOptions(
        method=args.method,
        negatives_per_query=args.negatives_per_query,
        split=args.split,
        model=args.model,
        range_min=args.range_min,
        range_max=args.range_max,
        sampling=args.sampling,
        seed=args.seed,
        absolute_margin=args.margin,
        relative_margin=args.relative_margin,
        cross_encoder=args.cross_encoder,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
    )
    manifest = mine(args.folder, args.out, options, overwrite=args.overwrite, progress=not args.no_progress)
    summaries.mine(args.out, manifest, args.negatives_per_query)
    return 0
