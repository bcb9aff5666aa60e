"""Issue 22: a dataset built by an older rankladder (no ``readback`` record in its manifest, fixed parquet
names, the old ``files`` layout) is read back after ``publish dataset`` too: the expectations come from the
folder's own files (``model_cards/release_rows.py``). A card that disagrees with the files, or points
``load_dataset`` at files the Hub will never hold, is refused before anything is uploaded."""

from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from rankladder.cli import main
from tests.helpers.hubserver import inputs


def _make_legacy(modern, legacy):
    """``modern`` rewritten as the build before content-addressed shards left it: ``<folder>/<split>.parquet``,
    the card's ``configs:`` naming those, manifest ``files`` as ``{"path", "sha256"}``, no ``readback``."""
    from huggingface_hub import DatasetCard

    from rankladder.core.fsutil import sha256_file

    shutil.copytree(modern, legacy)
    manifest = json.loads((legacy / "rankladder_manifest.json").read_text())
    files = {}
    for key, entry in manifest["files"].items():
        (shard,) = entry["shards"]  # the tiny dataset has one shard per split
        config_folder, split = shard["path"].split("/")[0], key.split("/")[1]
        rel = f"{config_folder}/{split}.parquet"
        (legacy / shard["path"]).rename(legacy / rel)
        files[key] = {"path": rel, "sha256": sha256_file(legacy / rel)}
    manifest["files"] = files
    del manifest["readback"]
    (legacy / "rankladder_manifest.json").write_text(json.dumps(manifest, indent=2))
    card = DatasetCard.load(legacy / "README.md")
    for entry in card.data.configs:
        for item in entry["data_files"]:
            item["path"] = files[f"{entry['config_name']}/{item['split']}"]["path"]
    card.save(legacy / "README.md")
    return legacy


@pytest.fixture(scope="module")
def legacy_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("legacy")
    return _make_legacy(inputs.make_dataset_dir(root / "modern", version="1.0.0"), root / "old")


def _rows(folder) -> int:
    manifest = json.loads((folder / "rankladder_manifest.json").read_text())
    return sum(pq.read_metadata(folder / entry["path"]).num_rows for entry in manifest["files"].values())


def test_a_dataset_without_a_readback_record_is_read_back_from_the_hub(hub, hub_env, legacy_dir, capsys):
    before = len(hub.requests)
    assert main(["publish", "dataset", str(legacy_dir), "--repo", "org/old", "--version", "1.0.0"]) == 0
    out = capsys.readouterr().out
    assert "read back: skipped" not in out
    assert f"read back: load_dataset('org/old', revision='v1.0.0') returns the {_rows(legacy_dir)} rows written" in out
    assert "checked against the folder's files (built by an older rankladder: no readback record)" in out
    # the fresh read-back process downloaded the data files of the tag from the Hub
    downloads = [path for method, path in hub.requests[before:] if method == "GET" and path.endswith(".parquet")]
    assert any("/lists/" in path for path in downloads) and any("/qrels/" in path for path in downloads)


def _swap_lists_splits(folder, card):
    lists = next(c for c in card.data.configs if c["config_name"] == "lists")
    paths = {item["split"]: item["path"] for item in lists["data_files"]}
    lists["data_files"] = [{"split": "train", "path": paths["dev"]}, {"split": "dev", "path": paths["train"]}]


def _point_at_a_missing_file(folder, card):
    """A file renamed after the build, the card left as it was."""
    (folder / "lists" / "train.parquet").rename(folder / "lists" / "train-cleaned.parquet")


def _point_at_a_hidden_file(folder, card):
    """The card follows a rename to a hidden file: it is in the folder, but publish never uploads it."""
    (folder / "lists" / "train.parquet").rename(folder / "lists" / ".train.parquet")
    lists = next(c for c in card.data.configs if c["config_name"] == "lists")
    next(item for item in lists["data_files"] if item["split"] == "train")["path"] = "lists/.train.parquet"


def _edit_a_parquet_file(folder, card):
    """Rows dropped from a split with pyarrow after the build (the card still states the build's counts)."""
    table = pq.read_table(folder / "lists" / "train.parquet")
    pq.write_table(table.slice(1), folder / "lists" / "train.parquet")


def _add_a_config(folder, card):
    shutil.copy2(folder / "corpus" / "corpus.parquet", folder / "corpus" / "extra.parquet")
    card.data.configs.append(
        {"config_name": "extra", "data_files": [{"split": "train", "path": "corpus/extra.parquet"}]}
    )


def _no_files_record_and_corpus_pointing_at_lists(folder, card):
    """A manifest without ``files`` (nothing to compare with): the id column still has to be there."""
    manifest = json.loads((folder / "rankladder_manifest.json").read_text())
    del manifest["files"]
    (folder / "rankladder_manifest.json").write_text(json.dumps(manifest))
    corpus = next(c for c in card.data.configs if c["config_name"] == "corpus")
    corpus["data_files"] = [{"split": "corpus", "path": "lists/train.parquet"}]


PLANTED = {
    "swapped lists splits": (_swap_lists_splits, "config 'lists' split 'train' lists ['lists/dev.parquet'], but"),
    "card names a missing file": (_point_at_a_missing_file, "'lists/train.parquet', which is not in the dataset"),
    "card names a hidden file": (_point_at_a_hidden_file, "'lists/.train.parquet', which publish does not upload"),
    "parquet edited after build": (_edit_a_parquet_file, "lists/train.parquet: changed since the build"),
    "unknown config": (_add_a_config, "config 'extra' is not a rankladder config"),
    "no files record, wrong id column": (_no_files_record_and_corpus_pointing_at_lists, "column '_id' is missing"),
}


@pytest.mark.parametrize("case", list(PLANTED))
def test_a_card_that_disagrees_with_the_files_is_refused_before_upload(
    hub, hub_env, legacy_dir, tmp_path, capsys, case
):
    from huggingface_hub import DatasetCard

    plant, message = PLANTED[case]
    planted = shutil.copytree(legacy_dir, tmp_path / "planted")
    card = DatasetCard.load(planted / "README.md")
    plant(planted, card)
    card.save(planted / "README.md")
    repo = f"org/planted-{list(PLANTED).index(case)}"
    before = len(hub.requests)

    code = main(["publish", "dataset", str(planted), "--repo", repo, "--version", "1.0.0"])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("rankladder publish")]
    assert code == 2, captured.out
    assert len(errors) == 1 and "\n" not in errors[0], captured.err
    assert message in errors[0]
    assert not [method for method, _ in hub.requests[before:] if method != "GET"]  # nothing uploaded
    assert "read back" not in captured.out


def test_a_dry_run_refuses_the_same_card_and_writes_no_release_folder(legacy_dir, tmp_path, capsys):
    planted = shutil.copytree(legacy_dir, tmp_path / "planted")
    _point_at_a_missing_file(planted, None)
    out = tmp_path / "release"
    args = ["publish", "dataset", str(planted), "--repo", "org/dry", "--version", "1.0.0", "--dry-run", "--out"]
    assert main([*args, str(out)]) == 2
    assert "which is not in the dataset folder" in capsys.readouterr().err
    assert not out.exists()
