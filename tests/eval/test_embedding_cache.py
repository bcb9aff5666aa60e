"""``--embedding-cache`` never scores a model with another model's vectors.

Measured: the cache was keyed by the model's recorded name only. A model retrained in place (same folder,
so same name ``local/model``, new content hash) was evaluated with the old model's cached vectors: the
summary recorded the new revision next to the old model's nDCG@10 (25.53 instead of 24.32), exit 0.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rankladder.cli import main
from tests.helpers.tiny_models import write_tiny_bert


def _medline_cut(folder: Path, source: Path, queries: int = 5, others: int = 40) -> Path:
    """A small real collection: the first queries of medline, their judged documents and a few others."""
    qrels = [line.split("\t") for line in (source / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    rows = [json.loads(line) for line in (source / "queries.jsonl").read_text().splitlines()][:queries]
    ids = {row["_id"] for row in rows}
    qrels = [row for row in qrels if row[0] in ids]
    judged = {row[1] for row in qrels}
    corpus = [json.loads(line) for line in (source / "corpus.jsonl").read_text().splitlines()]
    corpus = [d for d in corpus if d["_id"] in judged] + [d for d in corpus if d["_id"] not in judged][:others]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in rows))
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join("\t".join(row) + "\n" for row in qrels)
    )
    return folder


def _ndcg(tmp_path: Path, model: Path, task: Path, out: str, *extra: str) -> float:
    assert main(["eval", "--model", str(model), "--tasks", str(task), "--out", str(tmp_path / out), "-q", *extra]) == 0
    summary = json.loads((tmp_path / out / "summary.json").read_text())
    return summary["scores"]["local/model"][task.name]["ndcg_at_10"]


def test_a_model_retrained_in_place_is_not_scored_with_its_old_cached_vectors(
    tmp_path, shared_datasets, minilm_path, capsys
):
    task = _medline_cut(tmp_path / "med", shared_datasets / "medline")
    model, cache = tmp_path / "model", ["--embedding-cache", str(tmp_path / "cache")]
    write_tiny_bert(model, minilm_path, seed=0)
    first = _ndcg(tmp_path, model, task, "first", *cache)
    for folder in (model, model.with_name("model.bert")):  # write_tiny_bert's own working folder too
        shutil.rmtree(folder, ignore_errors=True)
    write_tiny_bert(model, minilm_path, seed=1)  # "retrained": same folder, same recorded name, other weights
    uncached = _ndcg(tmp_path, model, task, "uncached")
    assert uncached != first  # the two models rank differently, so stale vectors would show
    assert _ndcg(tmp_path, model, task, "cached", *cache) == uncached
    assert _ndcg(tmp_path, model, task, "cached-again", *cache) == uncached  # and its own vectors are reused


def test_a_second_eval_writing_the_same_model_cache_waits_for_the_first(
    tmp_path, shared_datasets, minilm_path, capsys, monkeypatch
):
    """mteb's NumpyCache rewrites its index and rows in place: two evals filling one model's cache at once
    left vectors under other texts' keys. The second waits for the first (here: a short wait, then refused)."""
    from rankladder.eval import run as eval_run
    from rankladder.eval.models import resolve_model
    from tests.reliability.test_locks import held

    task = _medline_cut(tmp_path / "med", shared_datasets / "medline", others=5)
    model = write_tiny_bert(tmp_path / "model", minilm_path, seed=0)
    cache_dir = eval_run.embedding_cache_dir(tmp_path / "cache", "local/model", resolve_model(str(model)).revision)
    monkeypatch.setattr(eval_run, "CACHE_WAIT_SECONDS", 0.5)  # our own constant: the test need not wait 15 min
    argv = ["eval", "--model", str(model), "--tasks", str(task), "--out", str(tmp_path / "out")]
    capsys.readouterr()  # the model writer's own bars
    with held("output", cache_dir) as holder:
        assert main([*argv, "--embedding-cache", str(tmp_path / "cache")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and f"in use by pid {holder.pid}" in lines[0] and str(cache_dir) in lines[0], lines
    assert not (tmp_path / "out").exists()
    assert main([*argv, "--embedding-cache", str(tmp_path / "cache")]) == 0  # once the holder is gone
