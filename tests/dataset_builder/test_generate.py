"""Real SmolLM2 generations through the transformers backend: validation, resume, shards, build."""

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from datasets import load_dataset

from rankladder.dataset_builder.backends.base import Sampling
from rankladder.dataset_builder.build import build_dataset
from rankladder.dataset_builder.filters import reason_names
from rankladder.dataset_builder.generate import GenerationPlan, generate_run, record_key
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.parsing import validate
from rankladder.dataset_builder.prompts import load_template
from rankladder.dataset_builder.queries import QuerySpec, load_queries
from rankladder.dataset_builder.runfiles import RECORDS, REJECTS, iter_kind
from tests.helpers.console_checks import assert_quiet, summary_block

QUERY_IDS = ["rl-q001", "rl-q004", "rl-q019"]


def three_queries():
    queries, source = load_queries(QuerySpec())
    return [q for q in queries if q.id in QUERY_IDS], source


def config():
    return GenerationPlan(
        levels=load_levels(),
        template=load_template(),
        sampling=Sampling(temperature=0.7, top_p=0.95, max_new_tokens=72, seed=1),
        window=12,
        max_attempts=3,
    )


def keys_of(run_dir: Path) -> list[str]:
    return [row["key"] for row in iter_kind(run_dir, RECORDS)]


def final_keys(run_dir: Path) -> list[str]:
    return [row["key"] for row in iter_kind(run_dir, REJECTS) if row["final"]]


@pytest.fixture(scope="module")
def smollm_run(tmp_path_factory, smollm2_backend):
    queries, source = three_queries()
    run_dir = tmp_path_factory.mktemp("gen") / "run"
    terminal = io.StringIO()
    with contextlib.redirect_stderr(terminal):
        manifest = generate_run(run_dir, queries, config(), lambda: smollm2_backend, query_source=source)
    _progress_lines.extend(line.strip() for line in re.split(r"[\r\n]", terminal.getvalue()) if line.strip())
    return run_dir, manifest


_progress_lines: list[str] = []
BAR = re.compile(r"(?P<n>\d+)/(?P<total>\d+) \[[^\]]*, (?P<tok>\d+) tok/s, (?P<in_flight>\d+) in flight\]")


def test_progress_counts_each_document_once_written_while_its_window_still_decodes(smollm_run):
    """transformers decodes the window in one call; each sequence is handed back and written as it ends,
    and the bar counts it only then (so the bar never runs ahead of the records on disk)."""
    _, manifest = smollm_run
    bars = [m for m in map(BAR.search, _progress_lines) if m]
    assert bars, _progress_lines[-5:]
    first_window = max(int(m["in_flight"]) for m in bars)
    moved = next((m for m in bars if int(m["n"]) > 0), None)
    assert moved is not None, _progress_lines
    # its result is back (fewer in flight) while others of the first window still decode
    assert 0 < int(moved["in_flight"]) < first_window and int(moved["tok"]) > 0, moved.group(0)
    last = bars[-1]
    assert last["n"] == last["total"] and int(last["total"]) == len(QUERY_IDS) * 4


def test_every_key_is_generated_or_rejected_with_a_reason(smollm_run):
    run_dir, manifest = smollm_run
    expected = {record_key(q, level, 0) for q in QUERY_IDS for level in (3, 2, 1, 0)}
    accepted, rejected = keys_of(run_dir), final_keys(run_dir)
    assert len(accepted) == len(set(accepted))
    assert set(accepted) | set(rejected) == expected and not set(accepted) & set(rejected)
    assert len(accepted) >= 9, f"SmolLM2 should pass validation for most documents, got {len(accepted)}/12"
    assert manifest["status"] == "complete" and manifest["counts"]["expected_records"] == 12
    for row in iter_kind(run_dir, RECORDS):
        assert validate(row["text"], query=row["query"]) is None  # incl. every degeneration filter
        assert "<|im_" not in row["text"] and not row["text"].lower().startswith(("sure", "here is"))
        assert row["model"]["id"].startswith("smollm2:") and len(row["model"]["file_sha256"]) == 64
        assert row["prompt"]["hash"] == manifest["prompt_template"]["hash"]
        assert row["sampling"]["max_new_tokens"] == 72 and row["backend"] == "transformers"
    for row in iter_kind(run_dir, REJECTS):
        assert row["reason"] in {
            "empty",
            "too_short",
            "too_long",
            "refusal",
            "chat_reply",
            "prompt_echo",
            "exact_duplicate",
            "near_duplicate",
            "missing_level",
            *reason_names(),
        }


def test_rerun_resumes_without_loading_the_model(smollm_run):
    run_dir, _ = smollm_run
    queries, source = three_queries()
    before = keys_of(run_dir)

    def must_not_load():
        raise AssertionError("nothing is pending: the backend must not be created")

    generate_run(run_dir, queries, config(), must_not_load, query_source=source, progress=False)
    assert keys_of(run_dir) == before


def test_changed_settings_are_refused_on_resume(smollm_run):
    from rankladder.core.errors import UserError

    run_dir, _ = smollm_run
    queries, _ = three_queries()
    changed = config()
    changed.sampling = Sampling(temperature=0.1, max_new_tokens=72, seed=1)
    with pytest.raises(UserError, match="different 'sampling'"):
        generate_run(run_dir, queries, changed, lambda: None, progress=False)


@pytest.mark.slow  # SmolLM2 generates the run again, in two shards
def test_shards_together_equal_the_unsharded_run(smollm_run, tmp_path, smollm2_backend):
    run_dir, _ = smollm_run
    queries, source = three_queries()
    shard_dirs = []
    for index in range(2):
        shard_dir = tmp_path / f"shard{index}"
        generate_run(
            shard_dir, queries, config(), lambda: smollm2_backend, shard=(index, 2), query_source=source, progress=False
        )
        shard_dirs.append(shard_dir)
    sharded = set(keys_of(shard_dirs[0])) | set(final_keys(shard_dirs[0]))
    other = set(keys_of(shard_dirs[1])) | set(final_keys(shard_dirs[1]))
    assert not sharded & other
    assert sharded | other == set(keys_of(run_dir)) | set(final_keys(run_dir))
    merged = build_dataset(shard_dirs, tmp_path / "merged", version="0.1.0")
    assert merged["counts"]["records"] == len(keys_of(shard_dirs[0])) + len(keys_of(shard_dirs[1]))
    assert len(merged["source_runs"]) == 2


def test_generated_run_builds_and_loads_for_every_config(smollm_run, tmp_path):
    run_dir, _ = smollm_run
    manifest = build_dataset([run_dir], tmp_path / "smollm2-generated", version="1.0.0", dev_fraction=0.34)
    folder = str(tmp_path / "smollm2-generated")
    lists = load_dataset(folder, "lists")
    assert set(lists) == {"train", "dev"} and len(lists["dev"]) == 1
    records = {row["key"]: row for row in iter_kind(run_dir, RECORDS)}
    for split in lists.values():
        for row in split:
            assert row["levels"] == sorted(row["levels"], reverse=True)
            for text, level in zip(row["documents"], row["levels"]):
                assert records[record_key(row["query_id"], level, 0)]["text"] == text
    corpus = load_dataset(folder, "corpus", split="corpus")
    qrels = load_dataset(folder, split="train")
    assert len(corpus) == len(records) == manifest["counts"]["documents"]
    assert set(qrels.column_names) == {"query-id", "corpus-id", "score"}
    assert len(load_dataset(folder, "queries", split="queries")) == 3


GENERATE = [
    sys.executable,
    "-m",
    "rankladder.cli",
    "generate",
    "--window",
    "1",
    "--max-new-tokens",
    "48",
    "--queries",
    "QUERIES",
    "--no-progress",
]


@pytest.mark.slow  # two `rankladder generate` processes, each loading SmolLM2
def test_kill_9_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"_id": f"k{i}", "text": text}) + "\n"
            for i, text in enumerate(["how do bees make honey", "why is the sky blue"])
        )
    )
    run_dir = tmp_path / "run"
    command = [arg if arg != "QUERIES" else str(queries) for arg in GENERATE] + ["--out", str(run_dir)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        if (run_dir / RECORDS).is_dir() and len(keys_of(run_dir)) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, "generate finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    survived = keys_of(run_dir)
    assert len(survived) >= 2 and len(survived) == len(set(survived))
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert_quiet(finished.stdout + finished.stderr)  # SmolLM2's GGUF loading: bars and INFO in run/logs/ only
    rows = summary_block(finished.stdout, "generate")
    assert " of 8 documents · 2 queries · 4 levels" in rows["wrote"] and "rankladder build" in rows["next"]
    assert list((run_dir / "logs").glob("generate-*.log"))
    keys = keys_of(run_dir) + final_keys(run_dir)
    assert Counter(keys).most_common(1)[0][1] == 1, "a key was generated twice"
    assert set(keys) == {record_key(f"k{i}", level, 0) for i in range(2) for level in (3, 2, 1, 0)}
    assert set(survived) <= set(keys_of(run_dir))


def test_per_query_mode_accounts_for_every_level(tmp_path, smollm2_backend):
    """One call per query returning JSON: a 135M model often fails the format, and then every level
    is retried and finally rejected with a reason — nothing is lost silently."""
    queries, source = three_queries()
    per_query = GenerationPlan(
        levels=load_levels(),
        template=load_template(mode="per-query"),
        sampling=Sampling(temperature=0.7, max_new_tokens=160, seed=2),
        window=4,
        max_attempts=2,
    )
    manifest = generate_run(
        tmp_path / "run", queries[:1], per_query, lambda: smollm2_backend, query_source=source, progress=False
    )
    expected = {record_key(queries[0].id, level, 0) for level in (3, 2, 1, 0)}
    accepted, rejected = keys_of(tmp_path / "run"), final_keys(tmp_path / "run")
    assert set(accepted) | set(rejected) == expected and len(accepted) + len(rejected) == 4
    assert manifest["prompt_template"]["mode"] == "per-query"
    for row in iter_kind(tmp_path / "run", REJECTS):
        assert row["raw"] is not None and row["reason"]
