"""publish dataset against the loopback Hub, read back with the real `datasets` client."""

from __future__ import annotations

import json

import pytest

from rankladder.cli import main
from tests.helpers.console_checks import assert_quiet, summary_block
from tests.helpers.hubserver import inputs
from tests.helpers.hubserver.client import TOKEN, run_client


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return inputs.make_dataset_dir(tmp_path_factory.mktemp("data") / "tiny", version="1.0.0")


def publish(*args):
    return main(["publish", "dataset", *map(str, args)])


def error_lines(err: str) -> list[str]:
    """The dispatcher's error lines (progress bars may also write to stderr)."""
    return [line for line in err.splitlines() if line.startswith("rankladder publish")]


def test_round_trip_load_dataset(hub, hub_env, dataset_dir, capsys):
    assert publish(dataset_dir, "--repo", "org/tiny", "--version", "1.0.0") == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "tag: v1.0.0" in out and "/datasets/org/tiny/commit/" in out and TOKEN not in out
    assert_quiet(out + captured.err)
    rows = summary_block(out, "publish dataset")
    assert rows["published"] == f"{hub.endpoint}/datasets/org/tiny" and rows["revision"] == "tag v1.0.0"
    assert "rankladder train --data org/tiny@v1.0.0" in rows["next"]
    assert not (dataset_dir / "logs").exists()  # publishing writes nothing into its input
    history = hub.store.history("dataset", "org/tiny")
    assert [c["title"] for c in history] == ["Release dataset v1.0.0", "initial commit"]

    got = run_client(
        """
        import json
        from datasets import load_dataset
        lists = load_dataset("org/tiny", "lists", revision="v1.0.0")
        corpus = load_dataset("org/tiny", "corpus")
        print(json.dumps({"lists": {s: lists[s].to_list() for s in lists}, "corpus": corpus["corpus"].to_list()}))
    """,
        hub_env,
    )
    from datasets import load_dataset

    from rankladder.dataset_builder import schema

    def files(config: str, split: str) -> list[str]:
        return [str(path) for path in schema.split_files(dataset_dir, config, split)]

    local_lists = load_dataset("parquet", data_files={s: files("lists", s) for s in ("train", "dev")})
    local_corpus = load_dataset("parquet", data_files={"corpus": files("corpus", "corpus")})
    assert got["lists"] == {s: local_lists[s].to_list() for s in ("train", "dev")}
    assert got["corpus"] == local_corpus["corpus"].to_list()

    # the card on the Hub: same metadata as the local one, no token anywhere
    from huggingface_hub import DatasetCard, HfApi

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = DatasetCard.load(api.hf_hub_download("org/tiny", "README.md", repo_type="dataset", revision="v1.0.0"))
    assert card.data.task_categories == ["text-retrieval"] and card.data.license == "cc-by-4.0"
    assert {c["config_name"] for c in card.data.configs} == {"corpus", "queries", "default", "lists"}
    assert TOKEN not in card.content


def test_existing_tag_is_refused_then_forced(hub, hub_env, dataset_dir, capsys):
    assert publish(dataset_dir, "--repo", "org/tag", "--version", "1.0.0") == 0
    before = hub.store.history("dataset", "org/tag")
    assert publish(dataset_dir, "--repo", "org/tag", "--version", "1.0.0", "--license", "mit") == 2
    assert "tag v1.0.0 already exists" in capsys.readouterr().err
    assert hub.store.history("dataset", "org/tag") == before
    assert publish(dataset_dir, "--repo", "org/tag", "--version", "1.0.0", "--license", "mit", "--force") == 0
    state = hub.store.load("dataset", "org/tag")
    assert state["tags"]["v1.0.0"] == state["branches"]["main"] != before[0]["id"]


@pytest.mark.parametrize("fault", ["drop", "drop_after_apply"])
def test_interrupted_commit_then_rerun(hub, hub_env, dataset_dir, capsys, fault):
    repo = f"org/cut-{fault.replace('_', '-')}"
    hub.fail_next_commit = fault
    assert publish(dataset_dir, "--repo", repo, "--version", "1.0.0") == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and "re-run" in error_lines(err)[0]
    assert "v1.0.0" not in hub.store.load("dataset", repo)["tags"]
    assert publish(dataset_dir, "--repo", repo, "--version", "1.0.0") == 0
    history = hub.store.history("dataset", repo)
    assert [c["title"] for c in history] == ["Release dataset v1.0.0", "initial commit"]
    state = hub.store.load("dataset", repo)
    assert state["tags"] == {"v1.0.0": history[0]["id"]}
    assert set(history[0]["files"]) >= {"README.md", *data_file_names(dataset_dir)}


def test_dry_run_writes_folder_and_uploads_nothing(hub, hub_env, dataset_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")  # a dry run needs no token
    out_dir = tmp_path / "plan"
    before = len(hub.requests)
    assert publish(dataset_dir, "--repo", "org/dry", "--version", "1.0.0", "--dry-run", "--out", out_dir) == 0
    assert len(hub.requests) == before
    out = capsys.readouterr().out
    assert "plan: publish dataset" in out
    rows = summary_block(out, "publish dataset")
    assert rows["wrote"].startswith(str(out_dir)) and "(not created)" in rows["revision"]
    assert not (out_dir / "logs").exists()  # the dry-run folder is exactly what would be uploaded
    files = {p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()}
    assert {"README.md", "rankladder_manifest.json", *data_file_names(dataset_dir)} <= files
    assert 'revision="v1.0.0"' in (out_dir / "README.md").read_text()


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("semver", ["--version", "1.0"], "not a semantic version"),
        ("not_built", ["--version", "1.0.0"], "not a dataset folder built by `rankladder build`"),
        ("license", ["--version", "1.0.0"], "missing required field(s) license"),
        ("token", ["--version", "1.0.0"], "no Hugging Face token"),
    ],
)
def test_bad_input_is_one_line_and_uploads_nothing(
    hub, hub_env, dataset_dir, tmp_path, capsys, monkeypatch, case, args, message
):
    import shutil

    target = tmp_path / "ds"
    shutil.copytree(dataset_dir, target)
    if case == "not_built":
        (target / "rankladder_manifest.json").unlink()
    if case == "license":
        text = (target / "README.md").read_text().replace("license: cc-by-4.0\n", "")
        (target / "README.md").write_text(text)
    if case == "token":
        monkeypatch.delenv("HF_TOKEN")
        monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_home"))
        from huggingface_hub import constants

        monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "empty_home" / "token"))
        monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "empty_home" / "stored_tokens"))
    before = len(hub.requests)
    assert publish(target, "--repo", "org/bad", *args) == 2
    err = capsys.readouterr().err
    assert len(error_lines(err)) == 1 and message in error_lines(err)[0]
    assert len(hub.requests) == before


def test_manifest_required_fields(tmp_path):
    from rankladder.core.errors import UserError
    from rankladder.model_cards.inputs import read_dataset_dir

    root = inputs.make_dataset_dir(tmp_path / "ds")
    manifest = json.loads((root / "rankladder_manifest.json").read_text())
    del manifest["content_hash"]
    (root / "rankladder_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="content_hash"):
        read_dataset_dir(root)


def data_file_names(dataset_dir) -> set[str]:
    """Every parquet file the build wrote (content-addressed shard names), from its manifest."""
    manifest = json.loads((dataset_dir / "rankladder_manifest.json").read_text())
    names = {shard["path"] for entry in manifest["files"].values() for shard in entry["shards"]}
    assert {"lists/train", "lists/dev", "default/train", "corpus/corpus", "queries/queries"} <= set(manifest["files"])
    return names
