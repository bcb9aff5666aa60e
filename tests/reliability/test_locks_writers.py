"""One writer per output (issue 22), for the writers that orchestrate others: `run`, `quickstart` and `study`
lock their own --out; and the shards of one RUN_DIR share one count (0/2 and 0/3 own overlapping keys)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from rankladder.cli import main  # noqa: E402
from rankladder.core.errors import UserError  # noqa: E402
from rankladder.core.locks import lock_path  # noqa: E402
from rankladder.dataset_builder.runfiles import ShardLock, manifest_path  # noqa: E402
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.cli_cases import canned_generate_argv, run_keys, write_generation_queries
from tests.reliability.test_bad_inputs import rankladder_command
from tests.reliability.test_kill import cli_env
from tests.reliability.test_locks import _assert_refused, _error_lines, held

ROOT = Path(__file__).resolve().parents[2]


def _argv(command: str, tmp_path: Path, out: Path) -> list[str]:
    if command == "run":
        (tmp_path / "release.yaml").write_text("queries:\n  limit: 1\n")
        return ["run", str(tmp_path / "release.yaml"), "--out", str(out), "--quiet"]
    if command == "quickstart":
        return ["quickstart", "--out", str(out), "--eval-data", "none", "--limit", "1", "--quiet"]
    return ["study", str(ROOT / "configs" / "study_cpu.yaml"), "--out", str(out), "--no-progress"]


@pytest.mark.parametrize("command", ["run", "quickstart", "study"])
def test_second_writer_of_an_orchestrated_output_is_refused(tmp_path, capsys, command):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.txt").write_text("the first writer's")
    with held("output", out) as holder:
        _assert_refused(capsys, _argv(command, tmp_path, out), holder, out)
    assert not lock_path(out).exists()


def _plain_text_release(tmp_path: Path, server: CannedOpenAI) -> str:
    queries = tmp_path / "queries.jsonl"
    write_generation_queries(queries, 1)
    generation = {
        "backend": "openai",
        "backend_options": {"model": "fake", "base_url": server.url},
        "prompt_mode": "per-query",
        "max_attempts": 1,
    }
    (tmp_path / "release.yaml").write_text(
        yaml.safe_dump({"queries": {"source": str(queries)}, "generation": generation})
    )
    return str(tmp_path / "release.yaml")


def test_run_takes_over_the_lock_of_a_killed_run(tmp_path, capsys):
    out = tmp_path / "out"
    with held("output", out) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    assert lock_path(out).exists()  # left behind by the kill
    server = CannedOpenAI(delay=0)  # plain text in per-query mode: generate gives up, so the run stops early
    try:
        config = _plain_text_release(tmp_path, server)
        code = main(["run", config, "--out", str(out)])
    finally:
        server.close()
    err = capsys.readouterr().err
    assert "took over a stale lock" in err and f"pid {holder.pid} " in err, err
    assert (
        code == 1 and "generate gave up every document" in err
    )  # it ran: past the lock, into generate (a failed step: 1)
    assert not lock_path(out).exists()


# -- shards of one RUN_DIR: one count ----------------------------------------------------------------------


def test_a_live_shard_of_another_count_refuses_the_writer(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with held("file", run_dir / ".lock.shard-00000-of-00002") as holder:
        with ShardLock(run_dir, 1, 2):  # same count, other shard: free
            pass
        with pytest.raises(UserError, match=f"shard 0/2 is being written by pid {holder.pid} .*--shard I/2"):
            with ShardLock(run_dir, 0, 3):
                pass
    with ShardLock(run_dir, 0, 3):  # the 0/2 writer is gone and left no unfinished run: free
        pass
    assert sorted(p.name for p in run_dir.iterdir()) == [], "lock files left behind"


def test_an_unfinished_run_of_another_count_refuses_generate_until_it_is_complete(tmp_path, capsys):
    queries, run_dir = tmp_path / "queries.jsonl", tmp_path / "run"
    expected = write_generation_queries(queries, 4)
    server = CannedOpenAI(delay=0, json_levels=True)

    def generate(shard: str) -> int:
        return main(canned_generate_argv(queries, server.url, run_dir, 2, 2, "--shard", shard))

    try:
        assert generate("0/2") == 0
        capsys.readouterr()
        before = sorted(p.name for p in run_dir.rglob("*"))
        assert generate("0/3") == 2
        lines = _error_lines(capsys)
        assert len(lines) == 1 and "unfinished run of --shard I/2 (1 of 2 shards complete)" in lines[0], lines
        assert sorted(p.name for p in run_dir.rglob("*")) == before  # refused before any work
        assert generate("1/2") == 0
        assert generate("0/3") == 0  # the 2-shard run is complete: its keys are all there, nothing overlaps
    finally:
        server.close()
    records, _ = run_keys(run_dir)
    assert sorted(records) == sorted(expected)  # every key once: no shard wrote another count's keys


def test_two_generates_of_different_counts_started_together_one_is_refused(tmp_path):
    """The race: 0/2 and 0/3 into one RUN_DIR at once. Whichever comes second is refused (the first is
    still writing, or left an unfinished run of its count); never both write."""
    queries, run_dir = tmp_path / "queries.jsonl", tmp_path / "run"
    write_generation_queries(queries, 8)
    server = CannedOpenAI(delay=0.05, json_levels=True)
    try:
        procs = {
            shard: subprocess.Popen(
                rankladder_command() + canned_generate_argv(queries, server.url, run_dir, 1, 1, "--shard", shard),
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for shard in ("0/2", "0/3")
        }
        results = {shard: (proc.wait(timeout=300), proc.communicate()[1]) for shard, proc in procs.items()}
    finally:
        server.close()
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], {shard: (code, err[-500:]) for shard, (code, err) in results.items()}
    (loser,) = [shard for shard, (code, _) in results.items() if code == 2]
    lines = [line for line in results[loser][1].splitlines() if line.strip()]
    assert len(lines) == 1 and ("is being written by" in lines[0] or "unfinished run of" in lines[0]), lines
    assert not manifest_path(run_dir, *map(int, loser.split("/"))).exists()
