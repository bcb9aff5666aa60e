"""Level separability of generated ladders, before/after: one generator, the same held-out queries,
one ladder (levels file) per variant, scored by the base embedding model (all-MiniLM-L6-v2).

Each variant is a real ``generate_run`` (validation, retries) with SmolLM2-135M on the transformers
backend; its accepted documents are grouped per query and scored with ``dataset_builder.separability``
(mean cosine per level, and how often each level outranks the next one: 0.5 = chance, 1.0 = separated).

The held-out queries are TREC DL 2019 passage queries: the default prompts were tuned on MS MARCO
eval-small queries, never on these.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_separability.py                     # abstract vs default
    ... --variant abstract=benchmarks/data/levels_abstract.yaml --variant default= --queries 24
    ... --variant default= --select-samples 2     # + the default ladder with 2 samples and selection

``--select-samples N`` adds a variant ``default+selection``: N samples per (query, level) with the default
ladder, then ``dataset_builder.selection`` keeps the combination best ordered for MiniLM (ordered for
MiniLM by construction; its sample-0 ladder is reported next to it as ``default+selection/sample0``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rankladder.dataset_builder.backends.base import Sampling, SharedBackend
from rankladder.dataset_builder.backends.transformers_backend import TransformersBackend
from rankladder.dataset_builder.generate import GenerationPlan, generate_run
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.prompts import load_template
from rankladder.dataset_builder.queries import QuerySpec, load_queries
from rankladder.dataset_builder.runfiles import RECORDS, iter_kind
from rankladder.dataset_builder.separability import load_model, separability

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT = ROOT.parent / "shared" / "datasets" / "msmarco_queries" / "queries_dl19_passage.jsonl"
DEFAULT_VARIANTS = [f"abstract={ROOT / 'benchmarks/data/levels_abstract.yaml'}", "default="]


def lists_from_records(records: list[dict]) -> list[dict]:
    by_query: dict[str, dict] = {}
    for record in records:
        row = by_query.setdefault(record["query_id"], {"query": record["query"], "documents": [], "levels": []})
        row["documents"].append(record["text"])
        row["levels"].append(record["level"])
    return list(by_query.values())


def generate(backend, queries, levels_file: str, sampling, batch_size: int, samples: int = 1):
    """Accepted records of one real ``generate_run``, and its summary for the report."""
    config = GenerationPlan(
        levels=load_levels(levels_file or None),
        template=load_template(),
        sampling=sampling,
        samples_per_level=samples,
        window=batch_size,
        max_attempts=3,
    )
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        manifest = generate_run(tmp, queries, config, lambda: SharedBackend(backend), progress=True)
        seconds = time.perf_counter() - started
        records = list(iter_kind(Path(tmp), RECORDS))
    counts = manifest["counts"]["this_run"]
    return records, {
        "levels_file": levels_file or "dataset_builder/data/levels.yaml",
        "samples_per_level": samples,
        "generation_seconds": round(seconds, 1),
        "accepted": counts.get("accepted"),
        "rejected": counts.get("rejected", 0),
    }


def figures(sep: dict) -> dict:
    return {
        "mean_similarity": sep["mean_similarity"],
        "outranks": sep["outranks"],
        "min_adjacent_outranks": sep["min_adjacent_outranks"],
        "ordered": sep["ordered"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--variant",
        action="append",
        metavar="NAME=LEVELS_FILE",
        help="a ladder to compare (empty file = the embedded default); repeatable",
    )
    parser.add_argument("--queries", type=int, default=24)
    parser.add_argument("--query-file", default=str(HELD_OUT))
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--select-samples", type=int, default=0, help="add a selection variant with N samples")
    args = parser.parse_args()

    queries = load_queries(QuerySpec(source=args.query_file, limit=args.queries, seed=0))[0]
    sampling = Sampling(temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=0)
    backend, scorer = TransformersBackend(), load_model()
    report = {
        "benchmark": "separability",
        "generator": backend.model_identity()["id"],
        "scorer": "sentence-transformers/all-MiniLM-L6-v2",
        "queries": len(queries),
        "query_file": Path(args.query_file).name,
        "sampling": sampling.to_dict(),
        "variants": {},
    }
    for spec in args.variant or DEFAULT_VARIANTS:
        name, _, levels_file = spec.partition("=")
        records, run = generate(backend, queries, levels_file, sampling, args.batch_size)
        report["variants"][name] = {**run, **figures(separability(scorer, lists_from_records(records)))}
    if args.select_samples > 1:
        import pyarrow as pa

        from rankladder.dataset_builder.selection import select_records

        records, run = generate(backend, queries, "", sampling, args.batch_size, args.select_samples)
        columns = ("key", "query_id", "query", "level", "text")
        _, sel = select_records(pa.Table.from_pylist([{k: r[k] for k in columns} for r in records]), scorer)
        report["variants"]["default+selection/sample0"] = {**run, **figures(sel["without_selection"])}
        report["variants"]["default+selection"] = {**run, **figures(sel["with_selection"])}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
