"""One writer per output (issue 22): a second writer of the same output folder or RUN_DIR shard is refused
before any work, with one line naming the holder, and exits 2; a lock left by a killed process is taken over.

Two real ``rankladder build`` processes race on one folder (the measured defect: both said "wrote").
For every writing command, a real second process holds the output's lock through ``rankladder.core.locks``
(most commands are too slow to start, or too quick to finish, to overlap reliably) and the command must
refuse, leaving the folder as it was; once the holder is gone the command writes and leaves no lock file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rankladder.cli import main
from rankladder.core.errors import UserError
from rankladder.core.locks import lock_path
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.runfiles import ShardLock
from tests.helpers.cli_cases import publish_dataset_dry_run_argv
from tests.reliability.test_bad_inputs import make_workspace, minilm_path, rankladder_command
from tests.reliability.test_disk import tree_state
from tests.reliability.test_kill import cli_env

# a real second process holding a lock through the lock module, until its stdin closes
HOLDER = """
import sys
from rankladder.core.locks import hold_file, hold_output
kind, target = sys.argv[1], sys.argv[2]
with (hold_output(target) if kind == "output" else hold_file(target, target)):
    print("held", flush=True)
    sys.stdin.read()
"""
SHARD_LOCK = ".lock.shard-00000-of-00001"


@contextlib.contextmanager
def held(kind: str, target: Path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("locks") / "w")


def _error_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def _assert_refused(capsys, argv: list[str], holder: subprocess.Popen, output: Path) -> None:
    before = tree_state(output)
    code = main(argv)
    lines = _error_lines(capsys)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert f"in use by pid {holder.pid} on " in lines[0] and " since " in lines[0], lines[0]
    assert tree_state(output) == before, "the refused writer changed the output"


def _folder_cases(w: Path, o: Path) -> dict[str, tuple[list[str], Path]]:
    return {
        "build": (["build", str(w / "run"), "--out", str(o / "ds"), "--version", "0.2.0"], o / "ds"),
        "mine": (["mine", str(w / "beir"), "--out", str(o / "mined"), "-k", "1", "--no-progress"], o / "mined"),
        "publish dataset": (publish_dataset_dry_run_argv(w / "ds", o / "release"), o / "release"),
        "train": (
            [
                "train",
                "--data",
                str(w / "ds"),
                "--out",
                str(o / "model"),
                "--max_steps",
                "1",
                "--use_cpu",
                "true",
                "--report_to",
                "none",
            ],
            o / "model",
        ),
        "eval": (
            ["eval", "--model", minilm_path(), "--tasks", str(w / "beir"), "--out", str(o / "eval")],
            o / "eval",
        ),
    }


@pytest.mark.parametrize("command", ["build", "mine", "publish dataset", "train", "eval"])
def test_second_writer_of_an_output_folder_is_refused(workspace, tmp_path, capsys, command):
    argv, output = _folder_cases(workspace, tmp_path)[command]
    with held("output", output) as holder:
        _assert_refused(capsys, argv, holder, output)
    if command in ("build", "mine", "publish dataset"):  # quick enough to also run once the holder is gone
        assert main(argv) == 0, _error_lines(capsys)
        assert output.is_dir()
    assert not lock_path(output).exists(), "lock file left behind"


@pytest.mark.parametrize("command", ["generate", "judge"])
def test_second_writer_of_a_run_dir_shard_is_refused(workspace, tmp_path, capsys, command):
    run_dir = tmp_path / "run"
    if command == "generate":
        run_dir.mkdir()
        argv = ["generate", "--out", str(run_dir), "--limit", "1", "--no-progress"]
    else:
        shutil.copytree(workspace / "run", run_dir)
        argv = ["judge", str(run_dir), "--no-progress"]
    with held("file", run_dir / SHARD_LOCK) as holder:
        _assert_refused(capsys, argv, holder, run_dir)


def test_two_shards_of_one_run_dir_may_run_at_once_the_same_shard_may_not(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with held("file", run_dir / ".lock.shard-00000-of-00002") as holder:
        with ShardLock(run_dir, 1, 2):  # another shard: free
            pass
        with pytest.raises(UserError, match=f"in use by pid {holder.pid} "), ShardLock(run_dir, 0, 2):
            pass
    assert sorted(p.name for p in run_dir.iterdir()) == [], "lock files left behind"


def test_two_builds_into_one_folder_one_wins_the_other_exits_2(workspace, tmp_path):
    """The measured defect: two builds (0.1.0 and 0.2.0) into one --out both exited 0 and said "wrote"."""
    out = tmp_path / "ds"
    procs = {
        version: subprocess.Popen(
            rankladder_command() + ["build", str(workspace / "run"), "--out", str(out), "--version", version],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for version in ("0.1.0", "0.2.0")
    }
    results = {version: (proc.wait(timeout=300), *proc.communicate()) for version, proc in procs.items()}
    winners = [version for version, (code, _, _) in results.items() if code == 0]
    assert len(winners) == 1, {v: (code, err[-300:]) for v, (code, _, err) in results.items()}
    (loser,) = set(results) - set(winners)
    code, stdout, stderr = results[loser]
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "wrote" not in stdout, (code, stdout, lines)
    # overlapping: refused naming the winner; started after the winner finished: the folder exists
    assert f"in use by pid {procs[winners[0]].pid} " in lines[0] or "already exists" in lines[0], lines[0]
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text(encoding="utf-8"))
    assert manifest["version"] == winners[0]
    assert not lock_path(out).exists()


def test_lock_of_a_killed_writer_is_taken_over(workspace, tmp_path, capsys):
    out = tmp_path / "ds"
    with held("output", out) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    assert json.loads(lock_path(out).read_text(encoding="utf-8"))["pid"] == holder.pid  # left behind by the kill
    assert main(["build", str(workspace / "run"), "--out", str(out), "--version", "0.3.0"]) == 0
    err = capsys.readouterr().err
    assert "took over a stale lock" in err and f"pid {holder.pid} " in err, err
    assert json.loads((out / schema.MANIFEST_FILE).read_text(encoding="utf-8"))["version"] == "0.3.0"
    assert not lock_path(out).exists()


def test_content_hash_ignores_lock_files(tmp_path):
    from rankladder.core.fsutil import hash_tree

    (tmp_path / "data.txt").write_text("x")
    before = hash_tree(tmp_path)
    (tmp_path / SHARD_LOCK).write_text('{"pid": 1}')
    (tmp_path / ".sub.lock").write_text('{"pid": 1}')
    assert hash_tree(tmp_path) == before
