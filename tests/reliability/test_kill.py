"""Reliability: ``kill -9`` of ``rankladder build`` and ``rankladder train`` at random points, then a re-run.

build: a killed build leaves no DATASET_DIR, or a complete one (temp folder + rename); the re-run gives
the same content_hash, records and (query, doc) keys as an uninterrupted build.
train: a killed run is re-run (``--resume_from_checkpoint latest`` when a finished checkpoint exists,
else fresh) and ends with a complete model folder equal to an uninterrupted run's.

The trial functions are reused by ``benchmarks/reliability_report.py`` (with many more trials).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.reliability.test_bad_inputs import rankladder_command

ROOT = Path(__file__).resolve().parents[2]


def cli_env() -> dict:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return env


def run_and_kill(argv: list[str], delay: float, cwd: Path | None = None) -> bool:
    """Start ``rankladder ARGV``, SIGKILL it after ``delay`` s; True when it was still running (killed)."""
    process = subprocess.Popen(
        rankladder_command() + argv, env=cli_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        process.wait(timeout=delay)
        return False  # finished before the kill
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def run_cli(argv: list[str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(rankladder_command() + argv, env=cli_env(), capture_output=True, text=True, timeout=timeout)


# -- build ------------------------------------------------------------------------------------------


def write_big_run_dir(run_dir: Path, copies: int) -> Path:
    """The 16 hand-graded queries x 4 levels, ``copies`` times with distinct ids/texts (a RUN_DIR)."""
    from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    many = [
        {
            **row,
            "query_id": f"{row['query_id']}-c{i}",
            "query": f"{row['query']} (variant {i})",
            "text": f"{row['text']} Variant {i}.",
        }
        for i in range(copies)
        for row in rows
    ]
    return write_run_dir(run_dir, many)


def dataset_keys(dataset_dir: Path) -> dict:
    """What an uninterrupted build is compared on: content hash, counts and the (query, doc, level) keys."""
    import pyarrow.parquet as pq

    manifest = json.loads((dataset_dir / "rankladder_manifest.json").read_text(encoding="utf-8"))
    keys = []
    for split in ("train", "dev"):
        for shard in manifest["files"].get(f"default/{split}", {}).get("shards", []):
            table = pq.read_table(dataset_dir / shard["path"])
            keys += zip(
                table.column("query-id").to_pylist(),
                table.column("corpus-id").to_pylist(),
                table.column("score").to_pylist(),
            )
    corpus_ids = [
        doc_id
        for shard in manifest["files"]["corpus/corpus"]["shards"]
        for doc_id in pq.read_table(dataset_dir / shard["path"]).column("_id").to_pylist()
    ]
    return {
        "content_hash": manifest["content_hash"],
        "records": manifest["counts"]["records"],
        "documents": manifest["counts"]["documents"],
        "keys": keys,
        "corpus_ids": corpus_ids,
    }


def dataset_looks_complete_and_is(dataset_dir: Path) -> bool:
    """A DATASET_DIR that exists must be whole: manifest present and every listed file matching its sha256."""
    from rankladder.core.fsutil import sha256_file

    manifest_path = dataset_dir / "rankladder_manifest.json"
    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return all(
        (dataset_dir / shard["path"]).is_file() and sha256_file(dataset_dir / shard["path"]) == shard["sha256"]
        for entry in manifest["files"].values()
        for shard in entry["shards"]
    )


def build_argv(run_dir: Path, out: Path) -> list[str]:
    return ["build", str(run_dir), "--out", str(out), "--version", "1.0.0", "--dev-fraction", "0.25"]


def build_reference(run_dir: Path, out: Path) -> tuple[dict, float]:
    started = time.time()
    result = run_cli(build_argv(run_dir, out))
    assert result.returncode == 0, result.stderr[-2000:]
    return dataset_keys(out), time.time() - started


def build_kill_trial(run_dir: Path, out: Path, reference: dict, delay: float) -> dict:
    """Kill a build after ``delay`` s, check what is left, re-run, compare with the reference."""
    killed = run_and_kill(build_argv(run_dir, out), delay)
    problems = []
    if out.exists() and not dataset_looks_complete_and_is(out):
        problems.append("killed build left an incomplete DATASET_DIR")
    leftovers = sorted(p.name for p in out.parent.glob(f".{out.name}.*"))
    rerun = run_cli(build_argv(run_dir, out) + ["--overwrite"])
    after = sorted(p.name for p in out.parent.glob(f".{out.name}.*"))
    if after:  # the re-run removes what the killed writer left behind
        problems.append(f"temp folders left after the re-run: {after}")
    if rerun.returncode != 0:
        problems.append(f"re-run failed: {rerun.stderr.strip().splitlines()[-1:]}")
        return {
            "killed": killed,
            "problems": problems,
            "lost": reference["records"],
            "duplicated": 0,
            "leftover_temp_dirs": leftovers,
            "temp_dirs_after_rerun": after,
        }
    got = dataset_keys(out)
    if got["content_hash"] != reference["content_hash"]:
        problems.append("content_hash differs from the uninterrupted build")
    if sorted(got["keys"]) != sorted(reference["keys"]):
        problems.append("qrels keys differ from the uninterrupted build")
    lost = len(set(reference["keys"]) - set(got["keys"]))
    duplicated = (len(got["keys"]) - len(set(got["keys"]))) + (len(got["corpus_ids"]) - len(set(got["corpus_ids"])))
    return {
        "killed": killed,
        "delay": round(delay, 2),
        "problems": problems,
        "lost": lost,
        "duplicated": duplicated,
        "leftover_temp_dirs": leftovers,
        "temp_dirs_after_rerun": after,
    }


# -- train ------------------------------------------------------------------------------------------

TRAIN_STEPS = 6
TRAIN_FLAGS = [
    "--loss",
    "ws2",
    "--group_size",
    "4",
    "--group_strategy",
    "one_per_level",
    "--eval_split",
    "none",
    "--per_device_train_batch_size",
    "4",
    "--max_steps",
    str(TRAIN_STEPS),
    "--save_steps",
    "2",
    "--logging_steps",
    "1",
    "--learning_rate",
    "3e-5",
    "--warmup_steps",
    "0",
    "--seed",
    "7",
    "--use_cpu",
    "true",
    "--report_to",
    "none",
    "--disable_tqdm",
    "true",
    "--dataloader_num_workers",
    "0",
]
PROBE_TEXTS = ["what makes bread rise", "Yeast ferments the sugars in dough."]


def train_argv(dataset_dir: Path, out: Path) -> list[str]:
    return ["train", "--data", str(dataset_dir), "--out", str(out), *TRAIN_FLAGS]


def model_state(out: Path) -> dict:
    """Complete-folder check plus what runs are compared on (files, final step, embeddings)."""
    manifest_path = out / "rankladder_train_manifest.json"
    needed = [
        "modules.json",
        "config.json",
        "config_sentence_transformers.json",
        "model.safetensors",
        "tokenizer.json",
        "rankladder_train_config.yaml",
    ]
    missing = [name for name in needed if not (out / name).is_file()] + (
        [] if manifest_path.is_file() else [manifest_path.name]
    )
    state = {"missing": missing}
    if not missing:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        state["global_step"] = manifest["final_metrics"].get("global_step")
        state["files"] = sorted(
            p.relative_to(out).as_posix()
            for p in out.rglob("*")
            if p.is_file() and not p.relative_to(out).as_posix().startswith("runs/")
        )
    return state


def embeddings(out: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(out), device="cpu").encode(PROBE_TEXTS, convert_to_tensor=True)


def train_reference(dataset_dir: Path, out: Path) -> tuple[dict, float]:
    started = time.time()
    result = run_cli(train_argv(dataset_dir, out))
    assert result.returncode == 0, result.stderr[-3000:]
    return model_state(out), time.time() - started


def train_kill_trial(dataset_dir: Path, out: Path, reference_dir: Path, reference: dict, delay: float) -> dict:
    from rankladder.training.trainer import checkpoints_dir, last_complete_checkpoint

    killed = run_and_kill(train_argv(dataset_dir, out), delay)
    resumable = last_complete_checkpoint(checkpoints_dir(out))
    argv = train_argv(dataset_dir, out) + (["--resume_from_checkpoint", "latest"] if resumable else [])
    finished = (out / "rankladder_train_manifest.json").is_file()  # the kill came after the final rename
    rerun = None if finished else run_cli(argv)
    problems = []
    if rerun is not None and rerun.returncode != 0:
        lines = [line for line in rerun.stderr.splitlines() if line.strip()]
        problems.append(f"re-run failed ({rerun.returncode}): {lines[-1:]}")
        return {"killed": killed, "resumed_from": resumable and resumable.name, "problems": problems}
    state = model_state(out)
    if state["missing"]:
        problems.append(f"model folder incomplete after re-run: missing {state['missing']}")
    elif state["global_step"] != TRAIN_STEPS:
        problems.append(f"global_step {state['global_step']} != {TRAIN_STEPS}")
    elif set(reference["files"]) - set(state["files"]):
        problems.append(f"files missing vs uninterrupted run: {sorted(set(reference['files']) - set(state['files']))}")
    else:
        import torch

        if not torch.allclose(embeddings(out), embeddings(reference_dir), atol=1e-4):
            problems.append("weights differ from the uninterrupted run")
    return {
        "killed": killed,
        "delay": round(delay, 2),
        "resumed_from": resumable and resumable.name,
        "problems": problems,
    }


# -- tests ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill_build")
    run_dir = write_big_run_dir(root / "run", copies=60)
    reference, seconds = build_reference(run_dir, root / "reference")
    return root, run_dir, reference, seconds


@pytest.mark.slow  # build processes killed mid-write, then re-run
@pytest.mark.parametrize("fraction", [0.55, 0.85])
def test_build_killed_mid_write_leaves_nothing_half_done_and_rerun_matches(big_run, fraction):
    root, run_dir, reference, seconds = big_run
    result = build_kill_trial(run_dir, root / f"ds-{fraction}", reference, delay=seconds * fraction)
    assert not result["problems"], result
    assert result["lost"] == 0 and result["duplicated"] == 0


@pytest.mark.slow  # build processes killed at random points, then re-run
def test_build_killed_at_random_points(big_run):
    root, run_dir, reference, seconds = big_run
    rng = random.Random(11)
    result = build_kill_trial(run_dir, root / "ds-random", reference, delay=rng.uniform(0.3, seconds))
    assert not result["problems"], result


@pytest.mark.slow  # train processes killed and resumed
def test_train_killed_after_a_checkpoint_resumes_to_a_complete_model(tiny_dataset_dir, tmp_path):
    """Killed right after checkpoint-2 is saved; ``--resume_from_checkpoint latest`` finishes the run.
    (Weights equal to an uninterrupted run: tests/training/test_run.py; random kill points: the report.)"""
    out = tmp_path / "killed"
    process = subprocess.Popen(
        rankladder_command() + train_argv(tiny_dataset_dir, out),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    checkpoint = out.with_name(out.name + ".checkpoints") / "checkpoint-2"
    while (
        time.time() < deadline
        and process.poll() is None
        and not (checkpoint / "rankladder_train_config.yaml").is_file()
    ):
        time.sleep(0.05)
    assert process.poll() is None, "training finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not out.exists()  # a killed run leaves no folder that looks like a finished model
    rerun = run_cli(train_argv(tiny_dataset_dir, out) + ["--resume_from_checkpoint", "latest"])
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    state = model_state(out)
    assert not state["missing"] and state["global_step"] == TRAIN_STEPS


def test_latest_skips_a_checkpoint_whose_save_was_killed(tmp_path):
    from rankladder.training.trainer import CONFIG_FILE, last_complete_checkpoint, resolve_resume

    for step, complete in ((2, True), (4, False)):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        if complete:
            (folder / "trainer_state.json").write_text("{}")
            (folder / CONFIG_FILE).write_text("loss: ws2\n")
    assert last_complete_checkpoint(tmp_path) == tmp_path / "checkpoint-2"
    assert resolve_resume("latest", tmp_path) == str(tmp_path / "checkpoint-2")
    from rankladder.core.errors import UserError

    with pytest.raises(UserError, match="incomplete checkpoint"):
        resolve_resume(str(tmp_path / "checkpoint-4"), tmp_path)
