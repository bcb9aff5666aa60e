"""``build``: the data contract (every config loads through datasets and mteb), ids, splits, atomicity."""

import json

import pytest
from datasets import load_dataset

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import write_run_dir


def test_every_config_round_trips_through_load_dataset(tiny_dataset_dir, graded_rows):
    folder = str(tiny_dataset_dir)
    corpus = load_dataset(folder, "corpus", split="corpus")
    queries = load_dataset(folder, "queries", split="queries")
    qrels = load_dataset(folder)  # config "default"
    lists = load_dataset(folder, "lists")
    assert corpus.features == schema.features("corpus") and queries.features == schema.features("queries")
    assert qrels["train"].features == schema.features("default")
    assert len(corpus) == 64 and len(queries) == 16
    assert set(qrels) == set(lists) == {"train", "dev"}
    assert len(lists["train"]) == 12 and len(lists["dev"]) == 4
    assert not set(lists["train"]["query_id"]) & set(lists["dev"]["query_id"])
    by_text = {row["text"]: row for row in graded_rows}
    docs = {row["_id"]: row["text"] for row in corpus}
    for split in ("train", "dev"):
        for row in qrels[split]:
            source = by_text[docs[row["corpus-id"]]]
            assert source["query_id"] == row["query-id"] and source["level"] == row["score"]
        for row in lists[split]:
            assert row["levels"] == [3, 2, 1, 0]
            assert [docs[d] for d in row["doc_ids"]] == row["documents"]


def test_doc_ids_are_stable_content_hashes(tiny_dataset_dir, graded_rows):
    corpus = load_dataset(str(tiny_dataset_dir), "corpus", split="corpus")
    for row in corpus:
        assert row["_id"] == schema.doc_id(row["text"])
    assert schema.doc_id("Bees  make HONEY.") == schema.doc_id("bees make honey.")


def test_mteb_loader_reads_the_folder_like_a_hub_dataset(tiny_dataset_dir):
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalDatasetLoader

    data = RetrievalDatasetLoader(hf_repo=str(tiny_dataset_dir), revision=None, split="dev").load()
    assert len(data["queries"]) == 4 and len(data["corpus"]) == 64  # mteb keeps judged queries
    assert len(data["relevant_docs"]) == 4
    assert all(sorted(docs.values()) == [0, 1, 2, 3] for docs in data["relevant_docs"].values())


def test_manifest_stats_plot_and_card(tiny_dataset_dir):
    manifest = json.loads((tiny_dataset_dir / schema.MANIFEST_FILE).read_text())
    assert manifest["kind"] == schema.DATASET_KIND and manifest["version"] == "0.1.0"
    assert manifest["counts"]["per_level"] == {"3": 16, "2": 16, "1": 16, "0": 16}
    assert [lv["value"] for lv in manifest["levels"]] == [3, 2, 1, 0]
    assert set(manifest["files"]) == {
        "corpus/corpus",
        "queries/queries",
        "default/train",
        "default/dev",
        "lists/train",
        "lists/dev",
    }
    stats = json.loads((tiny_dataset_dir / schema.STATS_FILE).read_text())
    assert set(stats["words_per_level"]) == {"3", "2", "1", "0"}
    assert (tiny_dataset_dir / schema.STATS_PLOT).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(tiny_dataset_dir / "README.md")
    assert [c["config_name"] for c in card.data.configs] == ["corpus", "queries", "default", "lists"]


def test_card_names_the_dataset_and_its_loading_snippet_runs_as_written(tiny_dataset_dir, tmp_path):
    """The card's snippet loads the folder it sits in (not a PATH_OR_REPO placeholder)."""
    import os
    import re
    import subprocess
    import sys

    card = (tiny_dataset_dir / "README.md").read_text()
    assert card.count("# rankladder-tiny (v0.1.0)") == 1 and "PATH_OR_REPO" not in card
    (snippet,) = re.findall(r"```python\n(.*?)```", card, re.S)
    assert f"path = {str(tiny_dataset_dir)!r}" in snippet
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "cache")}  # a first load, as a user's would be
    result = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "num_rows: 12" in result.stdout and "num_rows: 64" in result.stdout  # train lists, corpus


def test_rebuild_is_deterministic_and_merging_duplicates_keeps_one(tmp_path, graded_rows):
    run_a = write_run_dir(tmp_path / "a", graded_rows)
    run_b = write_run_dir(tmp_path / "b", graded_rows[:8])  # same keys again: merged, not duplicated
    one = build_dataset([run_a], tmp_path / "one", version="1.0.0", dev_fraction=0.25)
    two = build_dataset([run_a, run_b], tmp_path / "two", version="1.0.0", dev_fraction=0.25)
    assert one["content_hash"] == two["content_hash"]
    assert two["counts"]["duplicate_keys_merged"] == 8 and two["counts"]["records"] == 64


def test_torn_last_line_is_skipped(tmp_path, graded_rows):
    run = write_run_dir(tmp_path / "run", graded_rows)
    records = next((run / "records").glob("*.jsonl"))
    with open(records, "a") as handle:
        handle.write('{"key": "tq01\\t3\\t9", "query_id": "tq01", "text": "half a rec')
    manifest = build_dataset([run], tmp_path / "ds", version="1.0.0")
    assert manifest["counts"]["records"] == 64


def test_failed_build_leaves_no_output_and_no_temp(tmp_path, graded_rows):
    run = write_run_dir(tmp_path / "run", graded_rows)
    records = next((run / "records").glob("*.jsonl"))
    records.write_text(records.read_text() + "{not json}\n")
    with pytest.raises(UserError, match="corrupt records file"):
        build_dataset([run], tmp_path / "out" / "ds", version="1.0.0")
    assert not (tmp_path / "out" / "ds").exists()
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert leftovers == []


def test_existing_output_is_refused_then_replaced_with_overwrite(tmp_path, graded_rows):
    run = write_run_dir(tmp_path / "run", graded_rows)
    build_dataset([run], tmp_path / "ds", version="1.0.0")
    with pytest.raises(UserError, match="already exists"):
        build_dataset([run], tmp_path / "ds", version="1.0.1")
    build_dataset([run], tmp_path / "ds", version="1.0.1", overwrite=True)
    assert json.loads((tmp_path / "ds" / schema.MANIFEST_FILE).read_text())["version"] == "1.0.1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "run"]


@pytest.mark.parametrize("version", ["1.0", "one", "1.0.0.0"])
def test_bad_versions(tmp_path, graded_rows, version):
    run = write_run_dir(tmp_path / "run", graded_rows)
    with pytest.raises(UserError, match="not a semantic version"):
        build_dataset([run], tmp_path / "ds", version=version)


def test_not_a_run_dir(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a generation RUN_DIR"):
        build_dataset([tmp_path / "empty"], tmp_path / "ds", version="1.0.0")
    with pytest.raises(UserError, match="RUN_DIR not found"):
        build_dataset([tmp_path / "missing"], tmp_path / "ds", version="1.0.0")


def test_same_folder_name_and_rebuilds_never_read_a_stale_cache(tmp_path, graded_rows):
    """datasets keys offline caches of local folders by name; readers key them by content hash."""
    from rankladder.eval.tasks import BuiltDatasetTask
    from rankladder.training.data import read_lists

    full, small = tmp_path / "a" / "dataset", tmp_path / "b" / "dataset"
    build_dataset([write_run_dir(tmp_path / "ra", graded_rows)], full, version="1.0.0", dev_fraction=0.25)
    build_dataset([write_run_dir(tmp_path / "rb", graded_rows[:32])], small, version="1.0.0", dev_fraction=0.25)
    assert len(read_lists(str(full), None, "train")) == 12
    assert len(read_lists(str(small), None, "train")) == 6
    assert len(BuiltDatasetTask.from_path(str(small)).load_lists()) == 2
    build_dataset(
        [write_run_dir(tmp_path / "rc", graded_rows[:16])], small, version="1.0.1", overwrite=True, dev_fraction=0.25
    )
    assert len(read_lists(str(small), None, "train")) == 3


def test_the_same_run_dir_twice_counts_once(tmp_path, graded_rows):
    """`build run1 run1` (or run1 and a symlink to it) used to double-count every statistic."""
    run_a = write_run_dir(tmp_path / "ra", graded_rows[:32])
    (tmp_path / "alias").symlink_to(run_a)
    once = build_dataset([run_a], tmp_path / "once", version="1.0.0", dev_fraction=0.25)
    twice = build_dataset([run_a, run_a, tmp_path / "alias"], tmp_path / "twice", version="1.0.0", dev_fraction=0.25)
    assert twice["counts"] == once["counts"] and twice["content_hash"] == once["content_hash"]
    assert json.loads((tmp_path / "twice" / "stats.json").read_text()) == json.loads(
        (tmp_path / "once" / "stats.json").read_text()
    )
