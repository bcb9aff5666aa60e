"""publish checks what a card claims about the Hub on the Hub itself (the one HF_ENDPOINT names) before
uploading anything: the training dataset's repo, tag and content hash; pinned revisions stay pinned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankladder.cli import main
from tests.helpers.hubserver import inputs
from tests.helpers.hubserver.client import TOKEN


@pytest.fixture(scope="module")
def ladder(tmp_path_factory):
    """The dataset the model was trained on (v0.1.0) and another build of it (other dev split: other hash)."""
    root = tmp_path_factory.mktemp("ladder")
    trained_on = inputs.make_dataset_dir(root / "ladder", version="0.1.0")
    other = inputs.make_dataset_dir(root / "ladder-other", version="0.2.0", seed=1)
    return trained_on, other


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, ladder):
    content_hash = json.loads((ladder[0] / "rankladder_manifest.json").read_text())["content_hash"]
    return inputs.make_trained_checkpoint_dir(
        tmp_path_factory.mktemp("model") / "m", dataset=str(ladder[0]), content_hash=content_hash
    )


def _publish_model(model_dir, repo, dataset_repo):
    return main(
        [
            "publish",
            "model",
            str(model_dir),
            "--repo",
            repo,
            "--version",
            "0.1.0",
            "--license",
            "mit",
            "--dataset-repo",
            dataset_repo,
        ]
    )


def _error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("rankladder publish")]
    assert len(lines) == 1, lines
    return lines[0]


def _exists(hub, repo) -> bool:
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=TOKEN).repo_exists(repo)


def test_dataset_repo_that_does_not_exist_is_refused(hub, hub_env, ladder, model_dir, capsys):
    assert _publish_model(model_dir, "me/m-missing", "me/doesnotexist") == 2
    error = _error(capsys)
    assert f"me/doesnotexist on {hub.endpoint}: no such dataset repo" in error
    # the command that would publish it, with the folder the model was trained on
    assert f"rankladder publish dataset {ladder[0]} --repo me/doesnotexist --version 0.1.0" in error
    assert not _exists(hub, "me/m-missing")  # nothing uploaded


def test_dataset_repo_without_the_trained_version_or_hash_is_refused(hub, hub_env, ladder, model_dir, capsys):
    """me/ladder holds only v0.2.0 and v0.3.0 (another build): the card used to say "me/ladder @ v0.1.0"."""
    for version in ("0.2.0", "0.3.0"):
        folder = ladder[1] if version == "0.2.0" else inputs.make_dataset_dir(ladder[1].parent / "v3", version, seed=1)
        assert main(["publish", "dataset", str(folder), "--repo", "me/ladder", "--version", version]) == 0
    capsys.readouterr()
    assert _publish_model(model_dir, "me/m-ladder", "me/ladder") == 2
    error = _error(capsys)
    assert "has no revision v0.1.0 (tags: v0.2.0, v0.3.0)" in error
    assert f"rankladder publish dataset {ladder[0]} --repo me/ladder --version 0.1.0" in error
    assert not _exists(hub, "me/m-ladder")

    # a v0.1.0 tag that holds another dataset (another content hash) is refused too
    relabelled = inputs.make_dataset_dir(ladder[1].parent / "v1-other", "0.1.0", seed=1)
    assert main(["publish", "dataset", str(relabelled), "--repo", "me/other-ladder", "--version", "0.1.0"]) == 0
    capsys.readouterr()
    assert _publish_model(model_dir, "me/m-other", "me/other-ladder") == 2
    assert "v0.1.0 holds content hash" in _error(capsys) and not _exists(hub, "me/m-other")


def test_verified_dataset_is_linked_on_the_target_hub(hub, hub_env, ladder, model_dir, capsys):
    from huggingface_hub import HfApi, ModelCard

    assert main(["publish", "dataset", str(ladder[0]), "--repo", "me/true-ladder", "--version", "0.1.0"]) == 0
    assert _publish_model(model_dir, "me/m-true", "me/true-ladder") == 0
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = ModelCard.load(api.hf_hub_download("me/m-true", "README.md", revision="v0.1.0"))
    assert card.data.datasets[0] == "me/true-ladder"
    assert f"[`me/true-ladder`]({hub.endpoint}/datasets/me/true-ladder/tree/v0.1.0) @ `v0.1.0`" in card.text
    assert str(ladder[0]) not in card.content  # the local folder the trainer recorded is not in the card
    uploaded = json.loads(Path(api.hf_hub_download("me/m-true", "rankladder_train_manifest.json")).read_text())
    assert uploaded["dataset"]["path_or_repo"] == "me/true-ladder" and str(ladder[0]) not in json.dumps(uploaded)


def test_model_trained_on_a_local_dataset_names_it_without_a_link_or_path(hub, hub_env, model_dir):
    from huggingface_hub import HfApi, ModelCard

    assert (
        main(["publish", "model", str(model_dir), "--repo", "me/m-local", "--version", "0.1.0", "--license", "mit"])
        == 0
    )
    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = ModelCard.load(api.hf_hub_download("me/m-local", "README.md", revision="v0.1.0"))
    assert "local dataset `ladder` (not published on the target Hub)" in card.text
    assert str(model_dir.parent) not in card.content and "/tmp/" not in card.content
    assert not any(str(d).startswith("/") for d in card.data.datasets or [])
    uploaded = Path(api.hf_hub_download("me/m-local", "rankladder_train_manifest.json")).read_text()
    assert "/tmp/" not in uploaded and '"path_or_repo": "local:ladder"' in uploaded  # the record leaves portable


def test_train_hint_keeps_a_pinned_dataset_revision(tmp_path):
    """`train --data me/ladder@v0.2.0` used to end with `--tasks me/ladder` (which resolves to the newest tag)."""
    from rankladder.training.summary import next_steps

    manifest = {"dataset": {"path_or_repo": "me/ladder", "revision": "v0.2.0"}, "sources": []}
    (tmp_path / "rankladder_train_manifest.json").write_text(json.dumps(manifest))
    (hint,) = next_steps(tmp_path)
    assert "--tasks me/ladder@v0.2.0 " in hint


def test_leaderboard_bundle_has_mteb_tasks_only_under_the_hub_revision(hub, hub_env, model_dir, tmp_path):
    """eval names a local model's revision by a folder hash (``sha256-…``): the bundle used to carry it, with
    the local collections as if they were MTEB tasks and links to huggingface.co."""
    from huggingface_hub import HfApi

    assert (
        main(["publish", "model", str(model_dir), "--repo", "me/m-bundle", "--version", "0.1.0", "--license", "mit"])
        == 0
    )
    commit = HfApi(endpoint=hub.endpoint, token=TOKEN).model_info("me/m-bundle").sha
    results = inputs.make_results_dir(
        tmp_path / "eval", model_name="local/m", revision="sha256-0123456789abcdef", model_path=str(model_dir)
    )
    bundle = tmp_path / "bundle"
    argv = ["publish", "results", str(results), "--model-repo", "me/m-bundle", "--model", "local/m"]
    assert main([*argv, "--bundle-dir", str(bundle)]) == 0
    (folder,) = (bundle / "results" / "me__m-bundle").iterdir()
    assert folder.name == commit  # the model's commit on the Hub, not eval's folder hash
    assert sorted(p.name for p in folder.iterdir()) == [f"{inputs.MTEB_TASK}.json", "model_meta.json"]
    meta = json.loads((folder / "model_meta.json").read_text())
    assert meta["revision"] == commit and meta["reference"] == f"{hub.endpoint}/me/m-bundle"
    assert "huggingface.co" not in (bundle / "model_meta_snippet.py").read_text()
