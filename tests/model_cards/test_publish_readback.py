"""Issue 22: `publish dataset` reports success only once `load_dataset(repo, config, revision=tag)` returns
exactly the rows build wrote, read in a fresh process with empty caches from the (loopback) Hub."""

from __future__ import annotations

import shutil

import pytest

from rankladder.cli import main
from tests.helpers.console_checks import summary_block
from tests.helpers.hubserver import inputs


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return inputs.make_dataset_dir(tmp_path_factory.mktemp("data") / "rb", version="1.0.0")


def test_published_dataset_is_read_back_from_the_hub_at_its_tag(hub, hub_env, dataset_dir, capsys):
    before = len(hub.requests)
    assert main(["publish", "dataset", str(dataset_dir), "--repo", "org/rb", "--version", "1.0.0"]) == 0
    out = capsys.readouterr().out
    assert "read back: load_dataset('org/rb', revision='v1.0.0') returns the" in out
    assert summary_block(out, "publish dataset")["revision"] == "tag v1.0.0"
    # the read-back downloaded the data files from the Hub (the fresh process had nothing cached)
    downloads = [path for method, path in hub.requests[before:] if method == "GET" and path.endswith(".parquet")]
    assert any("/lists/" in path for path in downloads) and any("/corpus/" in path for path in downloads)


def test_a_tag_that_loads_other_rows_fails_the_publish(hub, hub_env, dataset_dir, tmp_path, capsys):
    """The card's `configs:` (the public path `load_dataset` follows) edited to swap lists train and dev:
    the files upload fine, but the tag loads other rows than were written, so the command must not exit 0."""
    from huggingface_hub import DatasetCard

    planted = tmp_path / "planted"
    shutil.copytree(dataset_dir, planted)
    card = DatasetCard.load(planted / "README.md")
    lists = next(c for c in card.data.configs if c["config_name"] == "lists")
    files = {entry["split"]: entry["path"] for entry in lists["data_files"]}
    lists["data_files"] = [{"split": "train", "path": files["dev"]}, {"split": "dev", "path": files["train"]}]
    card.save(planted / "README.md")

    code = main(["publish", "dataset", str(planted), "--repo", "org/planted", "--version", "1.0.0"])
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("rankladder publish")]
    assert code == 2, captured.out
    assert len(errors) == 1
    assert "org/planted@v1.0.0: read-back failed: config 'lists' split 'train'" in errors[0]
    assert "tag v1.0.0" in errors[0] and "--force" in errors[0]
    assert "v1.0.0" in hub.store.load("dataset", "org/planted")["tags"]  # the upload itself happened
    assert "published" not in captured.out  # no success summary
