"""Generation overhead: ``generate_run`` vs direct backend calls on the same prompts and batch size,
and batched vs single-prompt throughput, with the transformers backend (SmolLM2-135M, CPU).

Greedy decoding makes both sides produce the same tokens, so tokens/s compares like with like.
Targets (issue 2): runner/direct tokens/s ratio ≥ 0.95; batched ≥ 4× single-prompt throughput.
Batched vs single is measured for every ``--sweep`` batch size b on the first b prompts (single: the
first 8 prompts one at a time), so the JSON shows where batching pays off on this machine.
Usage: python benchmarks/bench_generation.py [--queries 4] [--batch-size 16] [--sweep 8 16 32] [--max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

from rankladder.dataset_builder.backends.base import GenerationRequest, Sampling, SharedBackend
from rankladder.dataset_builder.backends.transformers_backend import TransformersBackend
from rankladder.dataset_builder.generate import GenerationPlan, GenerationTask, generate_run, make_requests
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.prompts import load_template, load_topics
from rankladder.dataset_builder.queries import QuerySpec, load_queries


def direct(backend, requests: list[GenerationRequest], sampling: Sampling, batch_size: int) -> tuple[int, float]:
    start = time.perf_counter()
    tokens = 0
    for index in range(0, len(requests), batch_size):
        tokens += sum(r.completion_tokens for r in backend.generate(requests[index : index + batch_size], sampling))
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sweep", type=int, nargs="+", default=[8, 16, 32], help="batch sizes for batched vs single")
    args = parser.parse_args()

    all_queries = load_queries(QuerySpec())[0]
    queries = all_queries[: args.queries]
    sampling = Sampling(temperature=0.0, max_new_tokens=args.max_new_tokens, seed=0)
    config = GenerationPlan(
        levels=load_levels(), template=load_template(), sampling=sampling, window=args.batch_size, max_attempts=1
    )
    backend = TransformersBackend()
    # The exact requests the runner sends, in its order.
    tasks = [GenerationTask(q, 0, [level]) for q in queries for level in config.levels]
    requests = make_requests(config, tasks, load_topics())
    backend.generate(requests[:2], sampling)  # warm-up

    runner_rates, direct_rates = [], []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            manifest = generate_run(tmp, queries, config, lambda: SharedBackend(backend), progress=False)
            elapsed = time.perf_counter() - start
        runner_tokens = manifest["counts"]["this_run"]["completion_tokens"]
        runner_rates.append(runner_tokens / elapsed)
        tokens, seconds = direct(backend, requests, sampling, args.batch_size)
        direct_rates.append(tokens / seconds)
    # The sweep's prompts: the same kind of requests, enough queries for the largest batch.
    sweep_tasks = [
        GenerationTask(q, 0, [level])
        for q in all_queries[: -(-max(args.sweep) // len(config.levels))]
        for level in config.levels
    ]
    requests = make_requests(config, sweep_tasks, load_topics())
    single_tokens, single_seconds = direct(backend, requests[:8], sampling, 1)
    single = single_tokens / single_seconds
    sweep = {}
    for size in args.sweep:
        if size > len(requests):
            continue
        tokens, seconds = direct(backend, requests[:size], sampling, size)
        sweep[str(size)] = {
            "tokens_per_s": round(tokens / seconds, 2),
            "over_single": round(tokens / seconds / single, 2),
        }
    best = max(sweep, key=lambda b: sweep[b]["over_single"]) if sweep else None
    runner, plain = max(runner_rates), max(direct_rates)
    best_ratio = sweep[best]["over_single"] if best else 0.0
    print(
        json.dumps(
            {
                "benchmark": "generation",
                "backend": "transformers",
                "model": backend.model_identity()["id"],
                "prompts": len(requests),
                "batch_size": args.batch_size,
                "max_new_tokens": args.max_new_tokens,
                "runner_tokens_per_s": round(runner, 2),
                "direct_tokens_per_s": round(plain, 2),
                "runner_over_direct_ratio": round(runner / plain, 3),
                "single_prompt_tokens_per_s": round(single, 2),
                "batched": sweep,
                "best_batch_size": best and int(best),
                "batched_over_single_ratio": best_ratio,
                "targets": {"runner_over_direct_min": 0.95, "batched_over_single_min": 4.0},
                "meets_targets": runner / plain >= 0.95 and best_ratio >= 4.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
