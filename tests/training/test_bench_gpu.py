"""benchmarks/bench_gpu_train.py: without a GPU it says so in its JSON and exits 0 (issue 23)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_gpu_train.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the benchmark runs instead of skipping")
def test_gpu_benchmark_skips_cleanly_without_a_gpu(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, str(BENCH), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["skipped"] is True and "no CUDA device" in report["reason"]
    assert json.loads(done.stdout) == report
