"""``--overwrite`` replaces an earlier output of the same command, never something else (issue 22's class
"nothing silently wrong": a command that exits 0 has written exactly what it says, and nothing more).

Measured before the guard: ``build run --out run --overwrite`` replaced its own input RUN_DIR with the
dataset and exited 0; ``build ... --out notes --overwrite`` deleted a folder of unrelated files;
``build ... --out notes.txt --overwrite`` replaced a file by a folder; ``--out .`` was a ValueError traceback
(build, eval, train). Each is now one line, exit 2, before any model loads, and the target is left as it was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rankladder.cli import main
from tests.reliability.test_bad_inputs import make_workspace, minilm_path
from tests.reliability.test_disk import tree_state

TRAIN = ["--max_steps", "1", "--use_cpu", "true", "--report_to", "none", "--overwrite"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("overwrite") / "w")


@pytest.fixture
def here(tmp_path, workspace, monkeypatch) -> Path:
    """A working folder with a copy of the RUN_DIR, a built dataset, a BEIR folder and someone's notes."""
    for name in ("run", "ds", "beir"):
        shutil.copytree(workspace / name, tmp_path / name)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("three years of work\n")
    (tmp_path / "notes.txt").write_text("a file, not a folder\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _cases(here: Path) -> dict[str, tuple[list[str], str, str]]:
    """name -> (argv, the path that must stay as it was, a phrase of the one error line)."""
    build = ["build", "run", "--version", "0.2.0", "--overwrite", "--out"]
    evaluate = ["eval", "--model", minilm_path(), "--tasks", "beir", "--overwrite", "--out"]
    return {
        "build into its own input RUN_DIR": ([*build, "run"], "run", "replaces only an earlier output"),
        "build into a folder of other files": ([*build, "notes"], "notes", "holds other files (thesis.tex)"),
        "build onto a file": ([*build, "notes.txt"], "notes.txt", "is not a folder"),
        "build into the current folder": ([*build, "."], ".", "would replace the current folder"),
        "eval into a built dataset": ([*evaluate, "ds"], "ds", "replaces only an earlier output"),
        "eval into the current folder": ([*evaluate, "."], ".", "would replace the current folder"),
        "train into its own dataset": (["train", "--data", "ds", "--out", "ds", *TRAIN], "ds", "replaces only"),
        "train into the current folder": (["train", "--data", "ds", "--out", ".", *TRAIN], ".", "current folder"),
        "mine into its collection": (
            ["mine", "beir", "--out", "beir", "--overwrite", "--no-progress"],
            "beir",
            "replaces only an earlier output",
        ),
    }


CASES = [
    "build into its own input RUN_DIR",
    "build into a folder of other files",
    "build onto a file",
    "build into the current folder",
    "eval into a built dataset",
    "eval into the current folder",
    "train into its own dataset",
    "train into the current folder",
    "mine into its collection",
]


@pytest.mark.parametrize("case", CASES)
def test_overwrite_refuses_a_target_the_command_did_not_write(here, capsys, case):
    argv, kept, phrase = _cases(here)[case]
    target = here / kept
    before = tree_state(here) if kept == "." else (tree_state(target) if target.is_dir() else target.read_bytes())
    code = main(argv)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, (code, lines)
    assert phrase in lines[0], lines[0]
    after = tree_state(here) if kept == "." else (tree_state(target) if target.is_dir() else target.read_bytes())
    assert after == before, f"{kept} changed though the command was refused"


def test_overwrite_still_replaces_an_earlier_output_and_an_empty_folder(here, capsys):
    assert main(["build", "run", "--version", "0.2.0", "--out", "ds", "--overwrite", "-q"]) == 0
    assert '"version": "0.2.0"' in (here / "ds" / "rankladder_manifest.json").read_text()
    (here / "empty").mkdir()
    assert main(["build", "run", "--version", "0.1.0", "--out", "empty", "--overwrite", "-q"]) == 0
    assert (here / "empty" / "rankladder_manifest.json").is_file()


@pytest.mark.parametrize("target", ["ds", "notes.txt"])
def test_generate_refuses_to_write_a_run_dir_into_another_output(here, capsys, target):
    """`generate --out DATASET_DIR` added records/, rejects/ and a run manifest to a built dataset, exit 0."""
    from tests.helpers.canned_openai import CannedOpenAI
    from tests.helpers.cli_cases import canned_generate_argv, write_generation_queries

    write_generation_queries(here / "queries.jsonl", 1)
    before = tree_state(here / target) if (here / target).is_dir() else (here / target).read_bytes()
    server = CannedOpenAI(delay=0)
    try:
        code = main(canned_generate_argv(here / "queries.jsonl", server.url, here / target, 1, 4))
    finally:
        server.close()
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, (code, lines)
    assert "not a RUN_DIR" in lines[0] or "is not a folder" in lines[0], lines[0]
    after = tree_state(here / target) if (here / target).is_dir() else (here / target).read_bytes()
    assert after == before
