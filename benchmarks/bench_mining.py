"""Mining throughput on Cranfield (225 judged queries, 1,400 documents) and the dense method's overhead.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_mining.py [--repeats 2] [--k 2]

Prints one JSON object: queries/s of ``--method bm25`` and ``--method dense`` (all-MiniLM-L6-v2) as
``rankladder.dataset_builder.mining`` runs them (reading the folder and writing the output excluded), and
``dense_ratio_to_direct`` = (time of calling sentence-transformers' ``mine_hard_negatives`` directly on the
same pairs and corpus) / (time of ``mine_dense``), best of ``--repeats`` runs each, in alternating order
in one process with one loaded model. Target: >= 0.95. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CRANFIELD = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cranfield"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=os.environ.get("RANKLADDER_CRANFIELD", str(CRANFIELD)))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--max-seq-length", type=int, default=None, help="truncate texts (both calls alike)")
    args = parser.parse_args()

    import torch
    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    from rankladder.dataset_builder.config import MineConfig
    from rankladder.dataset_builder.mining import (
        load_input,
        load_sentence_transformer,
        mine_bm25,
        mine_dense,
        positives,
    )

    torch.manual_seed(0)
    data = load_input(args.folder, "test")
    n = len(data.queries)
    model, name = load_sentence_transformer(None, args.max_seq_length)
    bm25_s, dense_s, direct_s = [], [], []
    options = MineConfig(method="dense", negatives_per_query=args.k)
    doc_text = dict(zip(data.doc_ids, data.doc_texts))
    pairs = [(data.queries[q], doc_text[d]) for q in data.queries for d in sorted(positives(data, q))]
    corpus = list(dict.fromkeys(data.doc_texts))

    def ours() -> None:
        start = time.perf_counter()
        mine_dense(data, options, progress=False, model=model)
        dense_s.append(time.perf_counter() - start)

    def direct() -> None:
        start = time.perf_counter()
        mine_hard_negatives(
            Dataset.from_dict({"query": [p[0] for p in pairs], "positive": [p[1] for p in pairs]}),
            model,
            corpus=corpus,
            num_negatives=args.k,
            output_format="labeled-list",
            output_scores=True,
            batch_size=options.batch_size,
            verbose=False,
        )
        direct_s.append(time.perf_counter() - start)

    for repeat in range(args.repeats):
        start = time.perf_counter()
        mine_bm25(data, MineConfig(negatives_per_query=args.k), progress=False)
        bm25_s.append(time.perf_counter() - start)
        for run in (ours, direct) if repeat % 2 == 0 else (direct, ours):  # alternate: load drifts
            run()
    print(
        json.dumps(
            {
                "collection": str(args.folder),
                "queries": n,
                "documents": len(data.doc_ids),
                "negatives_per_query": args.k,
                "model": Path(name).name,
                "max_seq_length": model.max_seq_length,
                "repeats": args.repeats,
                "torch_threads": torch.get_num_threads(),
                "bm25_seconds": round(min(bm25_s), 3),
                "bm25_queries_per_s": round(n / min(bm25_s), 1),
                "dense_seconds": round(min(dense_s), 3),
                "dense_queries_per_s": round(n / min(dense_s), 1),
                "direct_mine_hard_negatives_seconds": round(min(direct_s), 3),
                "dense_all_seconds": [round(t, 2) for t in dense_s],
                "direct_all_seconds": [round(t, 2) for t in direct_s],
                "dense_ratio_to_direct": round(min(direct_s) / min(dense_s), 3),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
