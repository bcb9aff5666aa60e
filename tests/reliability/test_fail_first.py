"""Fail before work (issue 22): outputs' writability and inputs' existence are checked before any model loads.

A local-looking path that does not exist (``datasets/nope`` where ``datasets/`` exists here) is reported as a
missing path, never as a Hub error ("Couldn't reach 'datasets/nope' on the Hub (OfflineModeIsEnabled)").
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rankladder.cli import main
from rankladder.core.paths import looks_local
from tests.reliability.test_bad_inputs import make_workspace, minilm_path
from tests.reliability.test_disk import readonly_dir


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("fail-first") / "w")


@pytest.fixture
def here(tmp_path, monkeypatch) -> Path:
    """A working folder holding ``datasets/`` and ``models/``, so ``datasets/nope`` reads as a path."""
    for name in ("datasets", "models", "data"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _one_error(capsys, argv: list[str]) -> str:
    code = main(argv)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, (code, lines)
    return lines[0]


TRAIN = ["--out", "out/model", "--max_steps", "1", "--use_cpu", "true", "--report_to", "none"]


def _typo_cases(w: Path) -> dict[str, tuple[list[str], str]]:
    beir = str(w / "beir")
    return {
        "train --data": (["train", "--data", "datasets/nope", *TRAIN], "datasets/nope: dataset folder not found"),
        "train --model": (
            ["train", "--data", str(w / "ds"), "--model", "models/nope", *TRAIN],
            "models/nope: base model path not found",
        ),
        "eval --tasks": (
            ["eval", "--model", minilm_path(), "--tasks", "datasets/nope", "--out", "out/eval"],
            "datasets/nope: task folder not found",
        ),
        "eval --model": (
            ["eval", "--model", "models/nope", "--tasks", beir, "--out", "out/eval"],
            "models/nope: model path not found",
        ),
        "generate --queries": (
            ["generate", "--queries", "data/queries.jsonl", "--out", "out/run", "--limit", "1", "--no-progress"],
            "data/queries.jsonl: queries file not found",
        ),
        "mine --model": (
            ["mine", beir, "--method", "dense", "--model", "models/nope", "--out", "out/mined", "--no-progress"],
            "models/nope: model folder not found",
        ),
    }


@pytest.mark.parametrize(
    "case", ["train --data", "train --model", "eval --tasks", "eval --model", "generate --queries", "mine --model"]
)
def test_local_looking_typo_is_a_missing_path_not_a_hub_error(workspace, here, capsys, case):
    argv, expected = _typo_cases(workspace)[case]
    line = _one_error(capsys, argv)
    assert expected in line and "exists here, so this is read as a local path" in line, line
    assert "Hub" not in line.split("(")[0] and "Offline" not in line, line
    assert not (here / "out").exists(), "a refused command left an output folder"


def test_mine_on_a_read_only_folder_fails_before_ranking_or_loading_a_model(workspace, tmp_path, capsys):
    """Measured: ``mine --out`` on a read-only folder ranked the whole corpus before saying "not writable".
    The model here is an empty folder: loading it would fail, so the error shows which check came first."""
    (tmp_path / "empty-model").mkdir()
    with readonly_dir(tmp_path) as (ro, how):
        argv = ["mine", str(workspace / "beir"), "--method", "dense", "--model", str(tmp_path / "empty-model")]
        line = _one_error(capsys, [*argv, "--out", str(ro / "mined"), "--no-progress"])
    assert "not writable" in line and str(ro) in line, f"{how}: {line}"


def test_judge_checks_every_run_dir_before_judging_the_first(workspace, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(workspace / "run", run)
    before = sorted(p.name for p in run.rglob("*"))
    line = _one_error(capsys, ["judge", str(run), str(tmp_path / "nope-run"), "--no-progress"])
    assert "nope-run: not a generation RUN_DIR" in line, line
    assert sorted(p.name for p in run.rglob("*")) == before, "the first RUN_DIR was touched"


@pytest.mark.parametrize(
    ("spec", "local"),
    [
        ("sentence-transformers/all-MiniLM-L6-v2", False),
        ("org/name@v1.0", False),
        ("SciFact", False),
        ("./ds", True),
        ("~/ds", True),
        ("/abs/ds", True),
        ("a/b/c", True),
        ("ds/", True),
        ("datasets/nope", True),  # the fixture's working folder holds datasets/
    ],
)
def test_local_or_hub_rule(here, spec, local):
    assert looks_local(spec) is local
