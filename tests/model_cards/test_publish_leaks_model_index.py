"""Issue 21/22: a score on a split the model trained on (eval's ``leaks``) stays in the card's results table,
marked "not held out", but never reaches the card's ``model-index`` (what leaderboards and Papers with Code
read) nor the leaderboard bundle; the card audit (``card_audit_model.audit_results``) checks it."""

from __future__ import annotations

import json

import pytest

from rankladder.cli import main
from tests.helpers.card_audit_model import audit_results
from tests.helpers.hubserver import inputs

MODEL = "local/demo"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return inputs.make_trained_checkpoint_dir(tmp_path_factory.mktemp("models") / "demo")


def _leaky_results(folder, checkpoint, task: str):
    """eval's RESULTS_DIR for ``checkpoint`` with ``task`` flagged: the model trained on its split."""
    results = inputs.make_results_dir(folder, model_name=MODEL, model_path=str(checkpoint.resolve()))
    summary = json.loads((results / "summary.json").read_text())
    split = next(t["dataset"]["split"] for t in summary["tasks"] if t["name"] == task)
    summary["leaks"] = [
        {"model": MODEL, "task": task, "collection": "/home/me/heldout", "split": split, "via": "training data"}
    ]
    (results / "summary.json").write_text(json.dumps(summary))
    return results, summary


def test_leaked_score_is_marked_in_the_table_and_left_out_of_model_index(checkpoint, tmp_path, capsys):
    from huggingface_hub import ModelCard

    from rankladder.model_cards.model_card import eval_results

    results, summary = _leaky_results(tmp_path / "eval", checkpoint, inputs.TASK)
    model_out, results_out = tmp_path / "release-model", tmp_path / "release-results"
    publish = ["publish", "model", str(checkpoint), "--repo", "org/demo", "--version", "0.1.0", "--license", "mit"]
    assert main([*publish, "--results", str(results), "--dry-run", "--out", str(model_out)]) == 0
    assert f"not held out: {inputs.TASK}" in capsys.readouterr().out
    argv = ["publish", "results", str(results), "--model-repo", "org/demo", "--model", MODEL, "--dry-run"]
    assert main([*argv, "--out", str(results_out)]) == 0

    for folder in (model_out, results_out):
        card = ModelCard.load(folder / "README.md")
        indexed = {result.task_name for result in card.data.eval_results or []}
        assert indexed == {inputs.MTEB_TASK}, indexed  # the held-out task only
        row = next(line for line in card.text.splitlines() if line.startswith(f"| {inputs.TASK} "))
        assert "| test ⚠ not held out |" in row
        assert "left out of the card's `model-index` metadata" in card.text
        assert audit_results(card, summary, MODEL) == []

        # the card as it was published before: the leaked score in model-index too; the audit names it
        planted = ModelCard(card.content)
        planted.data.eval_results = eval_results(MODEL, summary["tasks"], summary["scores"][MODEL])
        problems = audit_results(planted, summary, MODEL)
        assert problems == [f"model-index holds not-held-out scores of ['{inputs.TASK}'] (eval's leaks)"]


def test_a_leaked_mteb_score_stays_out_of_the_hub_card_and_the_leaderboard_bundle(
    hub, hub_env, checkpoint, tmp_path, capsys
):
    """``publish results`` replaces the task's entries of the card already on the Hub: a leaked score that an
    earlier release put in model-index is taken out, and the bundle for the MTEB leaderboard leaves it out."""
    from huggingface_hub import HfApi, ModelCard

    from tests.helpers.hubserver.client import TOKEN

    publish = ["publish", "model", str(checkpoint), "--repo", "org/leaky", "--version", "0.1.0", "--license", "mit"]
    clean = inputs.make_results_dir(tmp_path / "clean", model_name=MODEL, model_path=str(checkpoint.resolve()))
    assert main([*publish, "--results", str(clean)]) == 0  # model-index holds SciFact
    results, summary = _leaky_results(tmp_path / "eval", checkpoint, inputs.MTEB_TASK)
    bundle = tmp_path / "bundle"
    argv = ["publish", "results", str(results), "--model-repo", "org/leaky", "--model", MODEL]
    assert main([*argv, "--bundle-dir", str(bundle)]) == 0
    out = capsys.readouterr().out
    assert f"leaderboard bundle: leaves out {inputs.MTEB_TASK} (not held out)" in out
    assert "no held-out MTEB task among the results" in out and not bundle.exists()

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    card = ModelCard.load(api.hf_hub_download("org/leaky", "README.md"))
    assert {result.task_name for result in card.data.eval_results or []} == {inputs.TASK}
    assert audit_results(card, summary, MODEL) == []
