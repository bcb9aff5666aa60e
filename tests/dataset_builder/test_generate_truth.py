"""generate tells the truth at every exit: the bar counts only what is on disk, Ctrl-C and SIGTERM keep
every finished document and leave a manifest that says ``interrupted`` with the counts on disk, counts
are per shard, and a run whose documents were all given up fails and can be retried in place.

The openai backend runs against the loopback server (tests/helpers/canned_openai.py) as a real ``rankladder``
subprocess; the transformers backend runs SmolLM2 in this process (the session's loaded model), with a
real SIGINT sent to this process while it decodes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from rankladder.dataset_builder.backends.base import Sampling
from rankladder.dataset_builder.generate import generate_run, record_key, shard_of
from rankladder.dataset_builder.runfiles import REJECTS, iter_kind, manifest_path
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.cli_cases import run_keys, write_generation_queries
from tests.helpers.console_checks import summary_block
from tests.reliability.test_bad_inputs import rankladder_command
from tests.reliability.test_kill import cli_env, run_cli

BAR = re.compile(r"(\d+)/(\d+) \[")


def bar_values(text: str) -> list[int]:
    """Every document count the progress bar printed (tqdm's ``n/total [`` ...)."""
    return [int(m.group(1)) for m in BAR.finditer(text)]


def done_on_disk(run_dir: Path) -> tuple[set[str], set[str]]:
    records, finals = run_keys(run_dir)
    return set(records), set(finals) - set(records)


def generate_argv(queries: Path, server: CannedOpenAI, out: Path, *extra: str) -> list[str]:
    """``rankladder generate`` through the openai backend, with its progress bar."""
    return [
        "generate",
        "--queries",
        str(queries),
        "--backend",
        "openai",
        "--model",
        "fake",
        "--base-url",
        server.url,
        "--concurrency",
        "2",
        "--window",
        "2",
        *extra,
        "--out",
        str(out),
    ]


def signal_when_bar_reaches(argv: list[str], count: int, signum: int) -> tuple[subprocess.CompletedProcess, int]:
    """Run ``rankladder ARGV``; once its bar shows ``count`` documents, send ``signum`` to its process group.
    Returns the finished process and the bar's count when the signal was sent."""
    process = subprocess.Popen(
        rankladder_command() + argv,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(process.stderr.fileno(), 4096), b"")))
    reader.start()
    deadline, shown = time.time() + 300, 0
    while time.time() < deadline and process.poll() is None:
        shown = max(bar_values(b"".join(chunks).decode(errors="replace")) or [0])
        if shown >= count:
            break
        time.sleep(0.01)
    assert process.poll() is None, f"finished before the bar reached {count}: {b''.join(chunks)[-2000:]!r}"
    os.killpg(process.pid, signum)
    out = process.stdout.read().decode()
    process.wait(timeout=120)
    reader.join()
    return subprocess.CompletedProcess(argv, process.returncode, out, b"".join(chunks).decode()), shown


def manifest_of(run_dir: Path, shard: tuple[int, int] = (0, 1)) -> dict:
    return json.loads(manifest_path(run_dir, *shard).read_text(encoding="utf-8"))


# -- progress equals durable work; Ctrl-C / SIGTERM keep it and say so --------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_openai_interrupt_keeps_what_the_bar_showed_and_the_manifest_says_interrupted(tmp_path, signum):
    queries = tmp_path / "queries.jsonl"
    expected = write_generation_queries(queries, 4)
    server = CannedOpenAI(delay=0.3)
    run_dir = tmp_path / "run"
    try:
        result, shown = signal_when_bar_reaches(generate_argv(queries, server, run_dir), 3, signum)
        assert result.returncode == 130, result.stderr[-3000:]
        assert "Traceback" not in result.stderr and result.stderr.rstrip().endswith("rankladder generate: interrupted")
        records, given_up = done_on_disk(run_dir)
        assert len(records | given_up) >= max(bar_values(result.stderr)) >= shown >= 3
        assert len(records | given_up) < len(expected)
        manifest = manifest_of(run_dir)
        assert manifest["status"] == "interrupted"
        assert manifest["counts"]["records_all_runs"] == len(records) and manifest["counts"]["this_run"]["accepted"]
        rerun = run_cli(generate_argv(queries, server, run_dir, "--no-progress"))
        assert rerun.returncode == 0, rerun.stderr[-3000:]
    finally:
        server.close()
    keys = sum(run_keys(run_dir), [])
    assert sorted(keys) == sorted(expected)  # resumed: nothing lost, nothing generated twice
    assert manifest_of(run_dir)["status"] == "complete"
    assert manifest_of(run_dir)["counts"]["records_all_runs"] == len(run_keys(run_dir)[0])


def test_transformers_ctrl_c_keeps_every_document_the_bar_showed(tmp_path, smollm2_backend):
    """One window of 4 sequences: each is written as its sequence ends, while the others still decode."""
    from tests.dataset_builder.test_generate import config, three_queries

    queries, source = three_queries()
    queries = queries[:1]
    run_dir, terminal, seen = tmp_path / "run", io.StringIO(), []
    settings = config()  # one attempt, short replies: a CPU shared with other work must finish it soon
    settings.window, settings.max_attempts = 4, 1
    settings.sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=56, seed=1)

    def interrupt_once_the_bar_moves() -> None:
        deadline = time.time() + 600
        while time.time() < deadline:
            values = bar_values(terminal.getvalue())
            if values and max(values) >= 1:
                seen.append(max(values))
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=interrupt_once_the_bar_moves, daemon=True)
    watcher.start()
    with contextlib.redirect_stderr(terminal), pytest.raises(KeyboardInterrupt):
        generate_run(run_dir, queries, settings, lambda: smollm2_backend, query_source=source)
        time.sleep(5)  # finished before the watcher's signal: let it arrive here (the test then fails below)
    watcher.join()
    records, given_up = done_on_disk(run_dir)
    shown = max(bar_values(terminal.getvalue()))
    assert seen and len(records | given_up) >= shown >= seen[0] >= 1, terminal.getvalue()[-1000:]
    assert len(records | given_up) < 4, "the interrupt came after the window: nothing was tested"
    manifest = manifest_of(run_dir)
    assert manifest["status"] == "interrupted" and manifest["counts"]["records_all_runs"] == len(records)
    resumed = generate_run(run_dir, queries, settings, lambda: smollm2_backend, query_source=source, progress=False)
    keys = sum(run_keys(run_dir), [])
    assert Counter(keys).most_common(1)[0][1] == 1 and records <= set(run_keys(run_dir)[0])
    assert set(keys) == {record_key(q.id, level, 0) for q in queries for level in (3, 2, 1, 0)}
    assert resumed["status"] == "complete"


def test_transformers_stream_hands_back_each_sequence_as_it_ends(smollm2_backend):
    """Results come back while the window still decodes, and equal the whole-window ``generate``'s."""
    from rankladder.dataset_builder.backends.base import GenerationRequest

    prompts = ["Reply with the single word yes.", "Describe the water cycle in detail.", "Say hi."]
    requests = [
        GenerationRequest(key=f"k{i}", messages=[{"role": "user", "content": p}], seed=i) for i, p in enumerate(prompts)
    ]
    sampling = Sampling(temperature=0.7, max_new_tokens=24, seed=1)
    events: list[str] = []
    smollm2_backend.progress_hook = lambda keys, tokens: events.append("step")
    pending = iter(requests)
    try:
        streamed = []
        for result in smollm2_backend.stream(lambda: next(pending, None), sampling, 3):
            events.append(result.key)
            streamed.append(result)
    finally:
        smollm2_backend.progress_hook = None
    first = events.index(streamed[0].key)
    assert streamed[0].finish_reason == "stop" and "step" in events[first:], events  # decoding went on after it
    whole = smollm2_backend.generate(requests, sampling)
    assert {r.key: (r.text, r.finish_reason, r.completion_tokens) for r in streamed} == {
        r.key: (r.text, r.finish_reason, r.completion_tokens) for r in whole
    }


# -- counts per shard -----------------------------------------------------------------------------------


def test_shards_into_one_run_dir_count_their_own_documents(tmp_path):
    queries = tmp_path / "queries.jsonl"
    write_generation_queries(queries, 8)
    server = CannedOpenAI(delay=0)
    run_dir = tmp_path / "run"
    try:
        for index in range(2):
            done = run_cli(generate_argv(queries, server, run_dir, "--shard", f"{index}/2", "--no-progress"))
            assert done.returncode == 0, done.stderr[-3000:]
    finally:
        server.close()
    records = run_keys(run_dir)[0]
    for index in range(2):
        mine = [k for k in records if shard_of(k.split("\t")[0], 2) == index]
        counts = manifest_of(run_dir, (index, 2))["counts"]
        assert counts["records_all_runs"] == len(mine) <= counts["expected_records"]
    rows = summary_block(done.stdout, "generate")
    written, expected = map(int, re.search(r"(\d+) of (\d+) documents", rows["wrote"]).groups())
    assert written == expected == manifest_of(run_dir, (1, 2))["counts"]["expected_records"], rows["wrote"]
    assert "shard 1/2" in rows["wrote"]


# -- a run whose documents were all given up fails; --retry-rejected retries them in place ---------------


def test_all_given_up_exits_1_with_reasons_and_retry_rejected_finishes_it(tmp_path):
    queries = tmp_path / "queries.jsonl"
    expected = write_generation_queries(queries, 2)
    server = CannedOpenAI(delay=0)  # plain text: no JSON of the levels, so per-query mode can never parse it
    run_dir = tmp_path / "run"
    argv = generate_argv(queries, server, run_dir, "--prompt-mode", "per-query", "--max-attempts", "2", "--no-progress")
    try:
        failed = run_cli(argv)
        assert failed.returncode == 1, failed.stdout + failed.stderr[-3000:]
        rows = summary_block(failed.stdout, "generate")
        assert "8 of 8 documents after every attempt failed" in rows["gave up"] and "missing_level 8" in rows["gave up"]
        assert "--retry-rejected" in rows["next"] and "rankladder build" not in rows["next"]
        again = run_cli(argv)  # a plain re-run has nothing left to try: it still fails, and says how to retry
        assert again.returncode == 1 and "--retry-rejected" in summary_block(again.stdout, "generate")["next"]
        still = run_cli(argv + ["--retry-rejected"])
        assert still.returncode == 1
        counts = manifest_of(run_dir)["counts"]
        assert counts["rejected_keys"] == 8 and counts["rejected_keys_by_reason"] == {"missing_level": 8}
        server.json_levels = True  # the server now answers in the levels' JSON
        retried = run_cli(argv + ["--retry-rejected"])
        assert retried.returncode == 0, retried.stdout + retried.stderr[-3000:]
    finally:
        server.close()
    records, finals = run_keys(run_dir)
    assert sorted(records) == sorted(expected)  # each given-up key now has exactly one record
    attempts = Counter(row["attempt"] for row in iter_kind(run_dir, REJECTS))
    assert attempts == {0: 8, 1: 8, 2: 8, 3: 8}  # rejects kept as history; the retry continued the numbering
    counts = manifest_of(run_dir)["counts"]
    assert counts["records_all_runs"] == 8 and counts["rejected_keys"] == 0 and len(set(finals)) == 8
    assert "gave up" not in summary_block(retried.stdout, "generate")
    from rankladder.dataset_builder.build import build_dataset

    built = build_dataset([run_dir], tmp_path / "retried-ds", version="0.1.0")
    assert built["counts"]["rejected_keys"] == 0 and built["counts"]["records"] == 8  # history, not given up


def test_api_generate_raises_when_all_given_up_and_takes_retry_rejected(tmp_path):
    import rankladder

    queries = tmp_path / "queries.jsonl"
    write_generation_queries(queries, 1)
    server = CannedOpenAI(delay=0)
    options = dict(
        backend="openai",
        model="fake",
        base_url=server.url,
        prompt_mode="per-query",
        max_attempts=1,
    )
    try:
        with pytest.raises(RuntimeError, match="given up .*missing_level 4"):
            rankladder.generate(tmp_path / "run", str(queries), progress=False, **options)
        server.json_levels = True
        out = rankladder.generate(tmp_path / "run", str(queries), progress=False, retry_rejected=True, **options)
    finally:
        server.close()
    assert len(run_keys(out)[0]) == 4 and manifest_of(out)["counts"]["rejected_keys"] == 0


# -- judge: the same truth at an interrupt --------------------------------------------------------------


def test_judge_interrupt_leaves_a_manifest_that_says_interrupted(tmp_path, graded_rows):
    from rankladder.dataset_builder import schema
    from rankladder.dataset_builder.judge import judge_manifest_path
    from tests.helpers.run_fixtures import write_run_dir

    run_dir = write_run_dir(tmp_path / "run", graded_rows)
    server = CannedOpenAI(delay=0.2)  # replies are passages, not digits: every judgement is "unparsed"
    argv = ["judge", str(run_dir), "--backend", "openai", "--model", "fake", "--base-url", server.url]
    try:
        result, shown = signal_when_bar_reaches(argv + ["--batch-size", "4", "--concurrency", "4"], 4, signal.SIGTERM)
    finally:
        server.close()
    assert result.returncode == 130, result.stderr[-3000:]
    judged = {row["key"] for row in iter_kind(run_dir, schema.JUDGEMENTS)}
    assert len(judged) >= max(bar_values(result.stderr)) >= shown >= 4 and len(judged) < len(graded_rows)
    manifest = json.loads(judge_manifest_path(run_dir, 0, 1).read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted" and manifest["counts"]["judged_all_runs"] == len(judged)
