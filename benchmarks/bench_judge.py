"""The relevance judge and the degeneration filters, on SmolLM2 generations with the study's settings.

1. A RUN_DIR: ``generate_run`` with the study's generation settings (configs/study_cpu.yaml: MS MARCO
   eval-small queries, SmolLM2-135M, 96 new tokens, temperature 0.7) on ``--queries`` of its queries,
   one sample per level. Pass ``--run-dir`` to reuse one (e.g. the study's own ``OUT/run``).
2. Filters: every generated attempt (kept records and rejected attempts, cleaned) through each filter
   alone: the share each one would remove, and the cost of all filters per 1,000 documents.
3. Judge throughput: ``judge_run`` vs direct ``backend.generate`` calls on the same prompts, batches
   and sampling (logprobs on), interleaved, best of ``--repeats``. Target: ratio ≥ 0.95.
4. Agreement with the intended levels: SmolLM2 as judge (argmax grade) and, as reference, the embedding
   check model all-MiniLM-L6-v2 (within each query, documents ranked by cosine to the query get the
   grades from the top down: the best-scored document is called the highest level).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_judge.py --queries 25 --out out/bench-judge
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections import defaultdict
from pathlib import Path

from rankladder.dataset_builder import schema
from rankladder.dataset_builder.agreement import summarize
from rankladder.dataset_builder.backends.base import (
    GenerationRequest,
    Sampling,
    SharedBackend,
)
from rankladder.dataset_builder.backends.transformers_backend import TransformersBackend
from rankladder.dataset_builder.filters import (
    FilterConfig,
    degeneration_reason,
    reason_names,
)
from rankladder.dataset_builder.generate import GenerationPlan, generate_run
from rankladder.dataset_builder.judge import (
    JudgePlan,
    _records_to_judge,
    judge_run,
    load_judge_template,
    render,
    run_levels,
)
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.parsing import clean_generation
from rankladder.dataset_builder.prompts import load_template
from rankladder.dataset_builder.queries import QuerySpec, load_queries
from rankladder.dataset_builder.runfiles import RECORDS, REJECTS, iter_kind

ROOT = Path(__file__).resolve().parents[1]
STUDY_QUERIES = ROOT.parent / "shared" / "datasets" / "msmarco_queries" / "queries_eval_small.jsonl"


def make_run(out: Path, queries: int, backend) -> Path:
    run_dir = out / "run"
    spec = QuerySpec(str(STUDY_QUERIES), limit=queries, seed=0)
    found, source = load_queries(spec)
    config = GenerationPlan(
        levels=load_levels(),
        template=load_template(),
        sampling=Sampling(temperature=0.7, top_p=0.95, max_new_tokens=96, seed=0),
        window=32,
        max_attempts=3,
    )
    generate_run(run_dir, found, config, lambda: SharedBackend(backend), query_source=source, progress=True)
    return run_dir


def filter_shares(run_dir: Path) -> dict:
    """Each filter alone over every attempt the generator made (kept and rejected)."""
    texts = [(row["text"], row["query"]) for row in iter_kind(run_dir, RECORDS)]
    queries = {row["query_id"]: row["query"] for row in iter_kind(run_dir, RECORDS)}
    texts += [(clean_generation(row["raw"]), queries.get(row["query_id"], "")) for row in iter_kind(run_dir, REJECTS)]
    texts = [(t, q) for t, q in texts if t]
    defaults, removed = FilterConfig(), {}
    for rule in reason_names():
        config = _only(defaults, rule)
        removed[rule] = sum(degeneration_reason(t, q, config) == rule for t, q in texts)
    start = time.perf_counter()
    for _ in range(5):
        any_removed = sum(degeneration_reason(t, q, defaults) is not None for t, q in texts)
    per_1000 = (time.perf_counter() - start) / 5 / len(texts) * 1000
    return {
        "documents": len(texts),
        "removed_by_filter_alone": removed,
        "share_removed_by_filter_alone": {k: round(v / len(texts), 4) for k, v in removed.items()},
        "removed_by_any_filter": any_removed,
        "share_removed_by_any": round(any_removed / len(texts), 4),
        "seconds_per_1000_documents": round(per_1000, 4),
    }


def _only(defaults: FilterConfig, rule: str) -> FilterConfig:
    from dataclasses import replace

    off = {
        "dup_sentence_frac": None,
        "dup_sentence_char_frac": None,
        "min_alpha_word_frac": None,
        "max_query_echo_frac": None,
        "top_ngram_char_frac": dict.fromkeys(defaults.top_ngram_char_frac),
        "dup_ngram_char_frac": dict.fromkeys(defaults.dup_ngram_char_frac),
    }
    if rule.startswith("top_"):
        off["top_ngram_char_frac"] = {
            **off["top_ngram_char_frac"],
            rule[4:-4]: defaults.top_ngram_char_frac[rule[4:-4]],
        }
    elif rule.startswith("dup_") and rule.endswith("gram"):
        off["dup_ngram_char_frac"] = {
            **off["dup_ngram_char_frac"],
            rule[4:-4]: defaults.dup_ngram_char_frac[rule[4:-4]],
        }
    else:
        key = {
            "dup_sentences": "dup_sentence_frac",
            "dup_sentence_chars": "dup_sentence_char_frac",
            "non_alpha": "min_alpha_word_frac",
            "query_echo": "max_query_echo_frac",
        }[rule]
        off[key] = getattr(defaults, key)
    return replace(defaults, **off)


def throughput(run_dir: Path, out: Path, backend, repeats: int, batch_size: int, queries: int) -> dict:
    """On the first ``queries`` queries of the run (a copy of the RUN_DIR holding only their records)."""
    from rankladder.dataset_builder.runfiles import AppendWriter

    config = JudgePlan(template=load_judge_template(), batch_size=batch_size)
    levels = run_levels(run_dir)
    wanted = sorted({row["query_id"] for row in iter_kind(run_dir, RECORDS)})[:queries]
    source = out / "throughput-source"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(
        run_dir, source, ignore=shutil.ignore_patterns(schema.JUDGEMENTS, "judge-manifest.*", RECORDS, ".lock.*")
    )
    writer = AppendWriter(source / RECORDS / "shard-00000-of-00001.subset.jsonl")
    for row in iter_kind(run_dir, RECORDS):
        if row["query_id"] in wanted:
            writer.write(row)
    writer.close()
    run_dir = source
    rows = sorted(_records_to_judge(run_dir, (0, 1)), key=lambda r: len(r["text"]))  # the runner's order
    requests = [
        GenerationRequest(
            key=r["key"],
            seed=0,
            logprobs=config.logprobs,
            messages=render(config.template, r["query"], r["text"], levels),
        )
        for r in rows
    ]
    backend.generate(requests[:2], config.sampling)  # warm-up
    runner, direct = [], []
    for repeat in range(repeats):
        copy = out / f"throughput-{repeat}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns(schema.JUDGEMENTS, "judge-manifest.*"))
        start = time.perf_counter()
        judge_run(copy, config, lambda: SharedBackend(backend), progress=False)
        runner.append(len(rows) / (time.perf_counter() - start))
        start = time.perf_counter()
        for first in range(0, len(requests), batch_size):
            backend.generate(requests[first : first + batch_size], config.sampling)
        direct.append(len(rows) / (time.perf_counter() - start))
        shutil.rmtree(copy)
    shutil.rmtree(source)
    return {
        "documents": len(rows),
        "batch_size": batch_size,
        "judge_docs_per_s": round(max(runner), 3),
        "direct_docs_per_s": round(max(direct), 3),
        "judge_over_direct_ratio": round(max(runner) / max(direct), 3),
        "all_judge_docs_per_s": [round(r, 3) for r in runner],
        "all_direct_docs_per_s": [round(r, 3) for r in direct],
    }


def agreement(run_dir: Path, backend) -> dict:
    from rankladder.dataset_builder.separability import load_model, score_lists

    judge_run(run_dir, JudgePlan(template=load_judge_template()), lambda: SharedBackend(backend), progress=True)
    judged = {row["key"]: row for row in iter_kind(run_dir, schema.JUDGEMENTS)}
    rows = _records_to_judge(run_dir, (0, 1))
    grades = sorted({r["level"] for r in rows})
    smollm = summarize(
        [r["level"] for r in rows],
        [judged[r["key"]]["grade"] for r in rows],
        [judged[r["key"]]["expected_grade"] for r in rows],
        grades,
        1,
    )
    methods = defaultdict(int)
    for r in rows:
        methods[judged[r["key"]]["method"]] += 1
    lists = defaultdict(lambda: {"query": "", "documents": [], "levels": []})
    for r in rows:
        lists[r["query_id"]]["query"] = r["query"]
        lists[r["query_id"]]["documents"].append(r["text"])
        lists[r["query_id"]]["levels"].append(r["level"])
    intended, by_rank = [], []
    for scores, levels in score_lists(load_model(), lists.values()):
        ladder = sorted(levels, reverse=True)  # the grades this list holds, top down
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        ranked = {doc: ladder[rank] for rank, doc in enumerate(order)}
        intended += levels
        by_rank += [ranked[i] for i in range(len(levels))]
    minilm = summarize(intended, by_rank, [float(g) for g in by_rank], grades, 1)
    keep = (
        "kappa_quadratic",
        "kappa_linear",
        "exact_agreement",
        "confusion_matrix",
        "per_level",
        "documents_kept_by_policy",
        "judged",
        "documents",
    )
    return {
        "smollm2_judge": {**{k: smollm[k] for k in keep}, "methods": dict(methods)},
        "minilm_rank_reference": {k: minilm[k] for k in keep if k != "documents_kept_by_policy"},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=100, help="study queries to generate for (the study: 100)")
    parser.add_argument("--run-dir", default=None, help="judge this RUN_DIR instead of generating one")
    parser.add_argument("--out", default="out/bench-judge")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--throughput-queries", type=int, default=8, help="queries of the run timed for throughput")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backend = TransformersBackend()
    run_dir = Path(args.run_dir) if args.run_dir else make_run(out, args.queries, backend)
    result = {
        "benchmark": "judge",
        "backend": "transformers",
        "judge_model": backend.model_identity()["id"],
        "run_dir": str(run_dir),
        "queries": len({r["query_id"] for r in iter_kind(run_dir, RECORDS)}),
        "filters": filter_shares(run_dir),
        "throughput": throughput(run_dir, out, backend, args.repeats, args.batch_size, args.throughput_queries),
        "agreement": agreement(run_dir, backend),
    }
    ratio = result["throughput"]["judge_over_direct_ratio"]
    result.update(targets={"judge_over_direct_min": 0.95}, meets_targets=ratio >= 0.95)
    (out / "bench_judge.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
