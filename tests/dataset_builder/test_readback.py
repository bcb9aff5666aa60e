"""Issue 22: what ``build`` writes is what ``load_dataset(folder, config)`` returns, every time.

``datasets`` caches a local folder under the folder's *name* and the card's ``data_files`` patterns, so
with fixed file names a rebuilt folder, or another folder of the same name, loaded a stale cache entry.
The shards' names now carry their content hash (``schema.shard_file``), and every write is read back.
"""

from __future__ import annotations

import json

import pytest
from datasets import load_dataset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rankladder.core.errors import UserError
from rankladder.core.readback import verify_dataset
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import write_run_dir


def _rows(queries: int, salt: int) -> list[dict]:
    return [
        {
            "query_id": f"q{salt}-{i}",
            "query": f"query {salt} number {i}",
            "level": level,
            "text": f"Document {salt}/{i} at level {level}: water boils at lower temperatures up high.",
        }
        for i in range(queries)
        for level in (3, 2, 1, 0)
    ]


step = st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(1, 4), st.integers(0, 2))


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One root and one ``datasets`` cache for every example, so a stale entry from an earlier build can show."""
    root = tmp_path_factory.mktemp("readback")
    return {"root": root, "cache": root / "hf-cache", "builds": 0}


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=2, max_size=3))
def test_load_dataset_returns_the_current_rows_after_builds_rebuilds_and_same_named_folders(shared, steps):
    for parent, queries, salt in steps:
        shared["builds"] += 1
        run = write_run_dir(shared["root"] / "runs" / str(shared["builds"]), _rows(queries, salt))
        folder = shared["root"] / parent / "ds"  # same folder name under every parent
        build_dataset([run], folder, version="1.0.0", overwrite=True, dev_fraction=0.0)
        lists = load_dataset(str(folder), schema.LISTS_CONFIG, split=schema.TRAIN_SPLIT, cache_dir=shared["cache"])
        assert sorted(lists["query_id"]) == sorted(f"q{salt}-{i}" for i in range(queries))
        assert all(f"Document {salt}/" in doc for row in lists["documents"] for doc in row)
        corpus = load_dataset(str(folder), schema.CORPUS_CONFIG, split=schema.CORPUS_SPLIT, cache_dir=shared["cache"])
        assert len(corpus) == 4 * queries


def test_shards_are_content_addressed_and_the_card_lists_them(tmp_path, graded_rows):
    run = write_run_dir(tmp_path / "run", graded_rows)
    manifest = build_dataset([run], tmp_path / "ds", version="1.0.0", dev_fraction=0.25)
    declared = schema.card_data_files(tmp_path / "ds")
    for key, entry in manifest["files"].items():
        config, split = key.split("/")
        paths = [shard["path"] for shard in entry["shards"]]
        assert declared[config][split] == paths
        for shard in entry["shards"]:
            assert shard["sha256"][:16] in shard["path"]
    assert {e["config"] + "/" + e["split"]: e["rows"] for e in manifest["readback"]} == {
        key: entry["rows"] for key, entry in manifest["files"].items()
    }


def test_tiny_shards_stream_and_read_back_whole(tmp_path, graded_rows):
    """Issue 23: a split too big for one shard is several content-addressed files; ``streaming=True`` and
    the plain load both see every row, in order."""
    run = write_run_dir(tmp_path / "run", graded_rows)
    out = tmp_path / "ds"
    # every group of 10 rows overfills a 1-byte shard: one shard per group
    manifest = build_dataset([run], out, version="1.0.0", dev_fraction=0.25, shard_bytes=1, rows_per_group=10)
    corpus = manifest["files"]["corpus/corpus"]
    names = [shard["path"] for shard in corpus["shards"]]
    assert len(names) == 7 and all(f"-of-{len(names):05d}-" in name for name in names)
    assert [name.split("-of-")[0] for name in names] == [f"corpus/corpus-{i:05d}" for i in range(len(names))]
    whole = schema.read_split(out, schema.CORPUS_CONFIG, schema.CORPUS_SPLIT).column("_id").to_pylist()
    streamed = load_dataset(str(out), schema.CORPUS_CONFIG, split=schema.CORPUS_SPLIT, streaming=True)
    assert [row["_id"] for row in streamed] == whole and len(whole) == corpus["rows"] == 64
    lists = load_dataset(str(out), schema.LISTS_CONFIG, split=schema.TRAIN_SPLIT, streaming=True)
    assert sum(1 for _ in lists) == manifest["files"]["lists/train"]["rows"] == 12


@pytest.mark.parametrize("prepare", [None, False], ids=["as-users-load", "in-place"])
def test_verifier_catches_stale_rows_of_a_same_named_legacy_folder(tmp_path, prepare):
    """The old layout (fixed names ``lists/train.parquet``): the second folder loads the first one's rows;
    the read-back says so instead of passing, also when it would read a large config in place."""
    from datasets import Dataset

    cache = tmp_path / "cache"
    for parent, queries in (("a", 3), ("b", 8)):
        folder = tmp_path / parent / "ds"
        (folder / "lists").mkdir(parents=True)
        rows = [
            {"query_id": f"{parent}{i}", "query": "q", "doc_ids": ["d"], "documents": ["t"], "levels": [1]}
            for i in range(queries)
        ]
        Dataset.from_list(rows, features=schema.features(schema.LISTS_CONFIG)).to_parquet(
            str(folder / "lists" / "train.parquet")
        )
        card = (
            "---\nconfigs:\n- config_name: lists\n  data_files:\n  - split: train\n    path: lists/train.parquet\n---\n"
        )
        (folder / "README.md").write_text(card)
    load_dataset(str(tmp_path / "a" / "ds"), "lists", split="train", cache_dir=cache)
    from rankladder.core.readback import IdDigest, expectation

    digest = IdDigest()
    digest.update([f"b{i}" for i in range(8)])
    with pytest.raises(UserError, match="loads 3 rows, 8 were written"):
        verify_dataset(
            tmp_path / "b" / "ds", [expectation("lists", "train", "query_id", digest)], cache_dir=cache, prepare=prepare
        )


def test_verifier_names_the_split_whose_ids_differ(tiny_dataset_dir, tmp_path):
    manifest = json.loads((tiny_dataset_dir / schema.MANIFEST_FILE).read_text())
    verify_dataset(tiny_dataset_dir, manifest["readback"], cache_dir=tmp_path / "cache")  # as written: passes
    wrong = [
        dict(e, ids_sha256="0" * 64) if e["config"] == "lists" and e["split"] == "dev" else e
        for e in manifest["readback"]
    ]
    with pytest.raises(UserError, match="config 'lists' split 'dev' loads other 'query_id' values"):
        verify_dataset(tiny_dataset_dir, wrong, cache_dir=tmp_path / "cache")


def test_same_named_folders_and_rebuilds_load_their_own_rows_online_too(tmp_path):
    """With ``HF_HUB_OFFLINE=0`` (datasets' config is read at import: a fresh process) the same holds."""
    import os
    import subprocess
    import sys

    builds = []  # (parent folder, RUN_DIR): the RUN_DIRs are written here, built in the fresh process
    for parent, queries, salt in (("a", 3, 0), ("b", 8, 1), ("b", 2, 2)):
        builds.append(
            (str(tmp_path / parent / "ds"), str(write_run_dir(tmp_path / f"run-{salt}", _rows(queries, salt))))
        )
    script = f"""
import json
from pathlib import Path
from datasets import load_dataset
from rankladder.dataset_builder.build import build_dataset
got = []
for out, run in {builds!r}:
    build_dataset([Path(run)], Path(out), version="1.0.0", overwrite=True, dev_fraction=0.0)
    got.append(len(load_dataset(out, "lists", split="train")))
print(json.dumps(got))
"""
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_DATASETS_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [3, 8, 2]
