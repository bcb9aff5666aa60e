"""Ctrl-C: every long command stops with one line and exit 130, leaves its output as ``kill -9`` would
(resumable, never looking complete), and a re-run finishes it like an uninterrupted run.

Each command runs as a real ``rankladder`` subprocess in its own process group, and SIGINT goes to the
whole group as a terminal's Ctrl-C does (so DataLoader workers, tokenizers and mteb get it too), once
the command has started real work: the first record line (generate), a temp output folder (build,
eval), the first finished checkpoint (train).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.cli_cases import canned_generate_argv, run_keys, write_generation_queries
from tests.reliability.test_bad_inputs import rankladder_command
from tests.reliability.test_kill import (
    TRAIN_STEPS,
    build_argv,
    build_reference,
    cli_env,
    dataset_keys,
    model_state,
    run_cli,
    train_argv,
    write_big_run_dir,
)

pytestmark = pytest.mark.slow  # real processes interrupted mid-run, then re-run (train and eval load MiniLM)


def interrupt_when(argv: list[str], started, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``rankladder ARGV``; once ``started()`` is true, Ctrl-C its process group; wait for it to end."""
    process = subprocess.Popen(
        rankladder_command() + argv,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None and not started():
        time.sleep(0.02)
    assert process.poll() is None, f"finished before real work was seen: {process.communicate()[1][-2000:]}"
    os.killpg(process.pid, signal.SIGINT)
    try:
        out, err = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        pytest.fail(f"still running 120 s after Ctrl-C: {err[-2000:]}")
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def assert_stopped_with_one_line(result: subprocess.CompletedProcess, command: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 130, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr, result.stderr[-3000:]
    assert lines and lines[-1] == f"rankladder {command}: interrupted", result.stderr[-3000:]


def temp_siblings(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.*"))


# -- generate ---------------------------------------------------------------------------------------


def test_generate_ctrl_c_leaves_a_resumable_run_dir(tmp_path):
    """Four concurrent requests in flight (openai backend, its thread pool) when Ctrl-C comes."""
    from rankladder.dataset_builder.runfiles import RECORDS
    from tests.helpers.canned_openai import CannedOpenAI

    queries = tmp_path / "queries.jsonl"
    expected = write_generation_queries(queries, 6)
    server = CannedOpenAI(delay=0.3)
    run_dir = tmp_path / "run"
    argv = canned_generate_argv(queries, server.url, run_dir, 4, 4)

    def first_record() -> bool:
        return (run_dir / RECORDS).is_dir() and any(p.stat().st_size for p in (run_dir / RECORDS).glob("*.jsonl"))

    def keys() -> list[str]:
        return sum(run_keys(run_dir), [])

    try:
        result = interrupt_when(argv, first_record)
        assert_stopped_with_one_line(result, "generate")
        manifest = json.loads(next(run_dir.glob("*manifest*.json")).read_text(encoding="utf-8"))
        assert manifest["status"] != "complete"  # never looks complete
        survived = set(keys())
        assert survived and survived < expected
        rerun = run_cli(argv)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    finally:
        server.close()
    got = keys()
    assert sorted(got) == sorted(expected)  # nothing lost, nothing generated twice
    assert json.loads(next(run_dir.glob("*manifest*.json")).read_text(encoding="utf-8"))["status"] == "complete"


# -- build ------------------------------------------------------------------------------------------


def test_build_ctrl_c_leaves_no_dataset_and_rerun_matches(tmp_path):
    run_dir = write_big_run_dir(tmp_path / "run", copies=60)
    reference, _ = build_reference(run_dir, tmp_path / "reference")
    out = tmp_path / "ds"
    result = interrupt_when(build_argv(run_dir, out), lambda: bool(temp_siblings(out)))
    assert_stopped_with_one_line(result, "build")
    assert not out.exists() and not temp_siblings(out)
    rerun = run_cli(build_argv(run_dir, out))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    got = dataset_keys(out)
    assert got["content_hash"] == reference["content_hash"] and sorted(got["keys"]) == sorted(reference["keys"])


# -- train ------------------------------------------------------------------------------------------


def test_train_ctrl_c_after_a_checkpoint_resumes_to_a_complete_model(tiny_dataset_dir, tmp_path):
    """With a DataLoader worker process, which gets the Ctrl-C too."""
    out = tmp_path / "model"
    argv = train_argv(tiny_dataset_dir, out) + ["--dataloader_num_workers", "1"]
    checkpoint = out.with_name(out.name + ".checkpoints") / "checkpoint-2" / "rankladder_train_config.yaml"
    result = interrupt_when(argv, checkpoint.is_file)
    assert_stopped_with_one_line(result, "train")
    assert not out.exists() and not temp_siblings(out)  # nothing that loads as a finished model
    refused = run_cli(argv)  # the checkpoints of the unfinished run are not silently discarded
    assert refused.returncode == 2 and "resume_from_checkpoint latest" in refused.stderr
    rerun = run_cli(argv + ["--resume_from_checkpoint", "latest"])
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    state = model_state(out)
    assert not state["missing"] and state["global_step"] == TRAIN_STEPS


# -- eval -------------------------------------------------------------------------------------------


def test_eval_ctrl_c_leaves_no_results_and_rerun_completes(shared_datasets, minilm_path, tmp_path):
    """Ctrl-C while mteb encodes a 300-document slice of Cranfield."""
    beir = tmp_path / "cranfield300"
    (beir / "qrels").mkdir(parents=True)
    corpus = (shared_datasets / "cranfield" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:300]
    (beir / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    ids = {json.loads(line)["_id"] for line in corpus}
    qrels = [
        line
        for line in (shared_datasets / "cranfield" / "qrels" / "test.tsv").read_text().splitlines()[1:]
        if line.split("\t")[1] in ids
    ]
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "\n".join(qrels) + "\n")
    wanted = {line.split("\t")[0] for line in qrels}
    (beir / "queries.jsonl").write_text(
        "".join(
            line + "\n"
            for line in (shared_datasets / "cranfield" / "queries.jsonl").read_text().splitlines()
            if json.loads(line)["_id"] in wanted
        )
    )
    out = tmp_path / "eval"
    argv = ["eval", "--model", minilm_path, "--tasks", str(beir), "--out", str(out), "--no-bm25"]
    result = interrupt_when(argv, lambda: bool(temp_siblings(out)) and time.sleep(3) is None)
    assert_stopped_with_one_line(result, "eval")
    assert not out.exists() and not temp_siblings(out)
    rerun = run_cli(argv)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["scores"] and (out / "eval_manifest.json").is_file()
