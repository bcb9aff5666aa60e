"""Command lines the reliability tests and ``benchmarks/reliability_report.py`` share: generation against the
loopback OpenAI-compatible server (tests/helpers/canned_openai.py) and a dry-run dataset publish."""

from __future__ import annotations

import json
from pathlib import Path

GENERATION_QUERIES = [
    "how do bees make honey",
    "why is the sky blue",
    "what causes tides",
    "how do vaccines work",
    "why do leaves change colour",
    "how does a battery store energy",
    "what is plate tectonics",
    "how do birds navigate",
]


def write_generation_queries(path: Path, count: int = len(GENERATION_QUERIES)) -> set[str]:
    """Write ``count`` queries (ids g0, g1, ...) as JSONL; return the record keys a complete run holds."""
    from rankladder.dataset_builder.generate import record_key

    texts = GENERATION_QUERIES[:count]
    path.write_text("".join(json.dumps({"_id": f"g{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    return {record_key(f"g{i}", level, 0) for i in range(len(texts)) for level in (3, 2, 1, 0)}


def canned_generate_argv(queries: Path, base_url: str, out: Path, concurrency: int, window: int, *extra: str) -> list:
    """``rankladder generate`` through the openai backend against a canned server, without a progress bar."""
    return [
        "generate",
        "--queries",
        str(queries),
        "--backend",
        "openai",
        "--model",
        "fake",
        "--base-url",
        base_url,
        "--concurrency",
        str(concurrency),
        "--window",
        str(window),
        *extra,
        "--no-progress",
        "--out",
        str(out),
    ]


def run_keys(run_dir: Path) -> tuple[list[str], list[str]]:
    """(keys of kept records, keys of finally rejected requests) in a RUN_DIR."""
    from rankladder.dataset_builder.runfiles import RECORDS, REJECTS, iter_kind

    return (
        [r["key"] for r in iter_kind(run_dir, RECORDS)],
        [r["key"] for r in iter_kind(run_dir, REJECTS) if r.get("final")],
    )


def publish_dataset_dry_run_argv(dataset: Path, output: Path) -> list[str]:
    """``rankladder publish dataset`` as a dry run into ``output`` (no Hub)."""
    return [
        "publish",
        "dataset",
        str(dataset),
        "--repo",
        "org/name",
        "--version",
        "0.1.0",
        "--license",
        "apache-2.0",
        "--dry-run",
        "--out",
        str(output),
    ]
