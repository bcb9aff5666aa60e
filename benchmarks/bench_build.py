"""Build throughput: N generation records (synthetic text) → DATASET_DIR, vs datasets' JSON loader.

Targets (issue 2): 1,000,000 records in ≤ 60 s with ≤ 1.5 GB peak RSS on a 2-core box. Both sides
run as separate processes on the same files; peak RSS is the child's ru_maxrss.
Usage: python benchmarks/bench_build.py [--records 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "water boils lower altitude pressure honey bees nectar river glacier valley engine torque "
    "protein iron spinach vaccine antibody immune credit score interest loan planet orbit moon "
    "tide gravity leaf pigment autumn chlorophyll sugar yeast bread oven"
).split()


def write_run(run_dir: Path, records: int, seed: int = 0) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from run_fixtures import write_run_dir  # the generator's exact record + manifest format

    rng = random.Random(seed)
    rows = []
    for index in range(records):
        query, level = divmod(index, 4)
        text = " ".join(rng.choices(WORDS, k=rng.randint(30, 70))) + f" {index}."
        rows.append({"query_id": f"q{query}", "query": f"synthetic query {query}", "level": 3 - level, "text": text})
    write_run_dir(run_dir, rows, backend="synthetic")


def timed_child(code: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a Python child process."""
    start = time.perf_counter()
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(process.stderr[-3000:])
    peak = json.loads(process.stdout.strip().splitlines()[-1])["peak_rss_mib"]
    return elapsed, peak


PEAK = "import resource, json; print(json.dumps({'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        write_run(tmp / "run", args.records)
        prep = time.perf_counter() - start
        files = sorted(str(p) for p in (tmp / "run" / "records").glob("*.jsonl"))
        size = sum(Path(f).stat().st_size for f in files) / 2**20
        build_s, build_rss = timed_child(
            "from dataset_builder.build import build_dataset\n"
            f"build_dataset([{str(tmp / 'run')!r}], {str(tmp / 'ds')!r}, version='1.0.0', dev_fraction=0.05)\n" + PEAK
        )
        load_s, load_rss = timed_child(
            "import datasets\ndatasets.disable_progress_bars()\n"
            f"datasets.load_dataset('json', data_files={files!r}, split='train', cache_dir={str(tmp / 'hf')!r})\n"
            + PEAK
        )
        manifest = json.loads((tmp / "ds" / "rankladder_manifest.json").read_text())
    print(
        json.dumps(
            {
                "benchmark": "build",
                "records": args.records,
                "records_file_mib": round(size, 1),
                "prepare_seconds": round(prep, 1),
                "build_seconds": round(build_s, 2),
                "build_peak_rss_mib": round(build_rss, 1),
                "datasets_load_json_seconds": round(load_s, 2),
                "datasets_load_json_peak_rss_mib": round(load_rss, 1),
                "build_over_load_json_time_ratio": round(build_s / load_s, 3),
                "documents": manifest["counts"]["documents"],
                "targets": {"build_seconds_max": 60, "peak_rss_mib_max": 1536},
                "meets_targets": build_s <= 60 and build_rss <= 1536,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
