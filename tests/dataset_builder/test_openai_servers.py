"""The openai backend over several OpenAI-compatible servers (one per vLLM replica): throughput scales with
the servers, a server that dies mid-run loses no document and duplicates none, records name their server.

The servers are loopback canned servers (``tests/helpers/canned_openai.py``), each held to a fixed rate (a sleep
per reply, at most two replies worked on at once) so that throughput is bound by the servers, as it is
with GPU replicas; what is under test is rankladder's routing, re-sending and records.
"""

from __future__ import annotations

import json
import logging

import pytest

import rankladder
from rankladder.cli import main
from rankladder.core.errors import UserError
from rankladder.dataset_builder.backends import GenerationRequest, Sampling
from rankladder.dataset_builder.backends.openai_backend import OpenAIBackend
from rankladder.dataset_builder.runfiles import RECORDS, iter_kind
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.cli_cases import write_generation_queries

DELAY = 0.4  # seconds per reply
SLOTS = 2  # replies a server works on at once: 5 replies/s per server
QUERIES = 6  # x 4 levels = 24 requests


def generate(queries, out, *urls: str, concurrency: int = SLOTS) -> int:
    argv = ["generate", "--queries", str(queries), "--backend", "openai", "--model", "fake"]
    argv += [arg for url in urls for arg in ("--base-url", url)]
    return main([*argv, "--concurrency", str(concurrency), "--no-progress", "--out", str(out)])


def records(run_dir) -> list[dict]:
    return list(iter_kind(run_dir, RECORDS))


def serving_seconds(servers: list[CannedOpenAI]) -> float:
    """From the first completion asked of any server to the last reply: the job's time at the servers,
    without the client's start-up (imports, queries, the model check)."""
    return max(s.last_answer_at for s in servers) - min(s.first_request_at for s in servers)


def test_two_servers_give_twice_the_throughput_of_one(tmp_path, capsys):
    queries = tmp_path / "queries.jsonl"
    expected = write_generation_queries(queries, QUERIES)
    alone = [CannedOpenAI(delay=DELAY, max_concurrent=SLOTS)]
    pair = [CannedOpenAI(delay=DELAY, max_concurrent=SLOTS) for _ in range(2)]
    try:
        assert generate(queries, tmp_path / "one", alone[0].url) == 0
        assert generate(queries, tmp_path / "two", *(s.url for s in pair)) == 0
    finally:
        for server in alone + pair:
            server.close()
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    assert sorted(r["key"] for r in one) == sorted(expected) == sorted(r["key"] for r in two)
    assert {r["server"] for r in one} == {alone[0].url}
    by_server = {s.url: sum(r["server"] == s.url for r in two) for s in pair}
    assert min(by_server.values()) >= len(expected) // 2 - SLOTS, by_server  # least-loaded: an even split
    seconds = {"one_server_s": serving_seconds(alone), "two_servers_s": serving_seconds(pair)}
    ratio = seconds["one_server_s"] / seconds["two_servers_s"]
    measured = {"requests": len(expected), **{k: round(v, 3) for k, v in seconds.items()}}
    print(json.dumps({**measured, "throughput_ratio": round(ratio, 2)}))
    assert ratio >= 1.8, ratio


def test_a_server_killed_mid_run_loses_no_key_and_duplicates_none(tmp_path, caplog):
    queries = tmp_path / "queries.jsonl"
    expected = write_generation_queries(queries, QUERIES)
    live = CannedOpenAI(delay=0.05, max_concurrent=SLOTS)
    dying = CannedOpenAI(delay=0.3, max_concurrent=SLOTS, kill_after=5)  # dies with requests in flight
    options = {"model": "fake", "base_url": [live.url, dying.url], "concurrency": SLOTS, "max_retries": 1}
    try:  # the Python API (base_url a list, as in YAML); max_retries 1: the dead server is given up on quickly
        rankladder.generate(tmp_path / "run", queries=queries, progress=False, backend="openai", **options)
    finally:
        live.close()
        dying.close()
    assert dying.killed
    rows = records(tmp_path / "run")
    keys = [r["key"] for r in rows]
    assert sorted(keys) == sorted(expected)  # every key exactly once: none lost, none twice
    # each record names the server that answered it: the dying one only for replies it sent before it died
    # (at most: a reply written as the connection was reset may never arrive, and is asked of the live one)
    from_dying = sum(r["server"] == dying.url for r in rows)
    assert from_dying <= dying.answered < dying.requests
    assert sum(r["server"] == live.url for r in rows) == len(expected) - from_dying
    assert f"server {dying.url} taken out" in caplog.text


def test_all_servers_down_stops_the_run_and_it_resumes_on_other_servers(tmp_path):
    """Both replicas die mid-run: one error, the records so far are kept; the same run resumes on a new
    server (another URL, another --concurrency) and ends with every key exactly once."""
    queries = tmp_path / "queries.jsonl"
    expected = write_generation_queries(queries, QUERIES)
    dying = [CannedOpenAI(delay=0.1, max_concurrent=SLOTS, kill_after=4) for _ in range(2)]
    options = {"model": "fake", "base_url": [s.url for s in dying], "concurrency": SLOTS, "max_retries": 0}
    run = tmp_path / "run"
    try:
        with pytest.raises(UserError, match=r"^all 2 OpenAI-compatible servers failed \(.*re-run the same command"):
            rankladder.generate(run, queries=queries, progress=False, backend="openai", **options)
    finally:
        for server in dying:
            server.close()
    kept = [r["key"] for r in records(run)]
    assert 0 < len(kept) < len(expected) and len(set(kept)) == len(kept)
    fresh = CannedOpenAI()
    try:
        options = {"model": "fake", "base_url": fresh.url, "concurrency": 4}
        rankladder.generate(run, queries=queries, progress=False, backend="openai", **options)
    finally:
        fresh.close()
    rows = records(run)
    assert sorted(r["key"] for r in rows) == sorted(expected)
    assert sum(r["server"] == fresh.url for r in rows) == len(expected) - len(kept)


TWO = Sampling(max_new_tokens=8)


def _requests(count: int) -> list[GenerationRequest]:
    return [GenerationRequest(f"k{i}", [{"role": "user", "content": f"question {i}"}], seed=i) for i in range(count)]


def test_all_servers_down_is_one_error_naming_each(tmp_path):
    servers = [CannedOpenAI(delay=0.2), CannedOpenAI(delay=0.2)]
    backend = OpenAIBackend("fake", base_url=[s.url for s in servers], max_retries=0)
    try:
        for server in servers:
            server.kill()
        with pytest.raises(UserError) as caught:
            backend.generate(_requests(4), TWO)
    finally:
        backend.close()
    message = str(caught.value)
    assert message.startswith("all 2 OpenAI-compatible servers failed (")
    assert all(s.url in message for s in servers) and "re-run the same command to resume" in message
    assert "\n" not in message


def test_a_server_down_at_start_is_left_out_then_rechecked_back(caplog):
    """A replica still loading (refusing connections) at start: the run goes on without it, and the
    re-check brings it back once it answers."""
    up = CannedOpenAI(delay=0.2)
    late = CannedOpenAI()
    late.kill()
    caplog.set_level(logging.WARNING)
    backend = OpenAIBackend("fake", base_url=[up.url, late.url], concurrency=1, max_retries=0, recheck_seconds=0.3)
    restarted = None
    try:
        assert [s.healthy for s in backend.pool.servers] == [True, False]
        (alone,) = backend.generate(_requests(1), TWO)
        assert alone.server == up.url
        restarted = CannedOpenAI(delay=0.2, port=int(late.url.rsplit(":", 1)[1].split("/")[0]))
        results = backend.generate(_requests(8), TWO)
    finally:
        backend.close()
        up.close()
        if restarted:
            restarted.close()
    assert sorted(r.key for r in results) == [f"k{i}" for i in range(8)]
    assert {r.server for r in results} == {up.url, late.url}  # back in rotation
    assert "taken out" in caplog.text and "answers again" in caplog.text


def test_a_recheck_still_running_when_a_stream_ends_is_made_again_by_the_next(caplog):
    """The judge sends one batch per stream: a re-check cut short by the end of one batch (the server still
    hanging) must not leave the server out for good."""
    import socket

    up = CannedOpenAI(delay=0.2)
    hanging = socket.socket()  # accepts connections, never answers: every request to it times out
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(64)
    port = hanging.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    caplog.set_level(logging.WARNING)
    backend = OpenAIBackend(
        "fake", base_url=[up.url, url], concurrency=1, timeout=1.0, max_retries=0, recheck_seconds=0.01
    )
    restarted = None
    try:
        assert [s.healthy for s in backend.pool.servers] == [True, False]
        (first,) = backend.generate(_requests(1), TWO)  # its re-check of the hanging server is still waiting
        assert first.server == up.url
        hanging.close()
        restarted = CannedOpenAI(delay=0.2, port=port)
        results = backend.generate(_requests(8), TWO)
    finally:
        backend.close()
        up.close()
        hanging.close()
        if restarted:
            restarted.close()
    assert {r.server for r in results} == {up.url, url}
    assert "answers again" in caplog.text


@pytest.mark.parametrize(
    "base_url, message",
    [
        (["http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1/"], "is given twice"),
        (["runs/demo"], "'runs/demo' is not an http(s) URL"),
        ([1, 2], "must be a URL or a list of URLs"),
    ],
)
def test_bad_base_urls_are_one_line_errors(base_url, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OpenAIBackend("m", base_url=base_url)


# -- options ----------------------------------------------------------------------------------------


def _parsed(*argv: str):
    from rankladder.cli import build_parser

    return build_parser().parse_args(list(argv))


def test_several_base_urls_reach_generate_and_judge_as_a_list(tmp_path):
    from rankladder.core.cli_model import config_from_args
    from rankladder.dataset_builder.config import GenerateConfig, JudgeConfig

    spelling = ["--base-url", "http://a:8000/v1", "--base-url", "http://b:8000/v1"]
    common = ["--backend", "openai", "--model", "m", *spelling]
    generate = config_from_args(GenerateConfig, _parsed("generate", *common, "--out", str(tmp_path / "run")))
    assert generate.backend_options()["base_url"] == ["http://a:8000/v1", "http://b:8000/v1"]
    judge_args = _parsed("judge", str(tmp_path / "run"), *common)
    # RUN_DIR after the URLs is RUN_DIR, not a third URL
    after = _parsed("judge", "--backend", "openai", "--model", "m", *spelling, str(tmp_path / "run"))
    assert after.base_url == ["http://a:8000/v1", "http://b:8000/v1"] and after.run_dirs == [str(tmp_path / "run")]
    judge = config_from_args(JudgeConfig, judge_args)
    assert judge.backend_for(None)[1]["base_url"] == ["http://a:8000/v1", "http://b:8000/v1"]
    one = _parsed("generate", "--backend", "openai", "--model", "m", "--base-url", "http://a/v1", "--out", "x")
    # one URL stays a string: older runs still resume
    assert config_from_args(GenerateConfig, one).backend_options()["base_url"] == "http://a/v1"


@pytest.mark.parametrize("flag", ["--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size"])
def test_vllm_parallel_sizes_below_one_are_one_line_errors(flag, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["generate", "--backend", "vllm", flag, "0", "--out", str(out)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines[-1].endswith(f"{flag}: must be at least 1 (got 0)") and "Traceback" not in "\n".join(lines)
    assert not out.exists()


def test_vllm_parallel_sizes_are_passed_as_vllms_own_options(tmp_path):
    from rankladder.core.cli_model import config_from_args
    from rankladder.dataset_builder.backends.vllm_backend import VLLMBackend, parallel_sizes
    from rankladder.dataset_builder.config import GenerateConfig

    vllm = ["generate", "--backend", "vllm", "--out", str(tmp_path / "run")]
    args = _parsed(*vllm, "--data-parallel-size", "2", "--pipeline-parallel-size", "2")
    options = config_from_args(GenerateConfig, args).backend_options()
    assert (options["tensor_parallel_size"], options["pipeline_parallel_size"], options["data_parallel_size"]) == (
        1,
        2,
        2,
    )
    default = config_from_args(GenerateConfig, _parsed(*vllm)).backend_options()
    assert "data_parallel_size" not in default and "pipeline_parallel_size" not in default  # older runs resume
    assert parallel_sizes(tensor_parallel_size=2, data_parallel_size=1) == {"tensor_parallel_size": 2}
    with pytest.raises(UserError, match="data_parallel_size must be a whole number of at least 1, got 0"):
        VLLMBackend(data_parallel_size=0)  # checked before vLLM is imported


def test_a_run_from_before_records_named_their_server_still_builds(tmp_path, graded_rows):
    """``server`` is optional in the data contract: records without it (older runs) build as before."""
    from rankladder.dataset_builder import schema
    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.run_fixtures import write_run_dir

    run_dir = write_run_dir(tmp_path / "run", graded_rows[:8])
    for path in (run_dir / RECORDS).glob("*.jsonl"):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert all("server" in row for row in rows)  # what generate writes now (null: no server)
        path.write_text("".join(json.dumps({k: v for k, v in row.items() if k != "server"}) + "\n" for row in rows))
    assert set(schema.RECORD_OPTIONAL_FIELDS).isdisjoint(schema.RECORD_FIELDS)
    manifest = build_dataset([run_dir], tmp_path / "old-run-dataset", version="0.1.0", dev_fraction=0.0, seed=0)
    assert manifest["counts"]["documents"] == 8
