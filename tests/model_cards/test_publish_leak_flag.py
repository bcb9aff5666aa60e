"""Issue 22: eval's flag of a score on a collection split the model was trained (mined) on travels into the
eval summary and into the model card `publish model --results` and `publish results` write, rendered from
summary.json's `leaks` (no machine path in the card)."""

from __future__ import annotations

import json

import pytest

from rankladder.cli import main
from tests.dataset_builder.test_mine import small_beir

pytestmark = pytest.mark.slow  # mine + train + eval with MiniLM: minutes; .ci/run runs it (make test-slow)


def test_leak_flag_travels_into_the_summary_and_the_model_cards(tmp_path, shared_datasets, minilm_path, capsys):
    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield", n_docs=30, n_queries=4)
    mined, model, results = tmp_path / "mined", tmp_path / "model", tmp_path / "eval"
    assert main(["mine", str(folder), "--split", "train", "-k", "2", "--out", str(mined), "--no-progress"]) == 0
    train = ["train", "--data", str(mined), "--out", str(model), "--model", minilm_path, "--max_steps", "1"]
    assert main([*train, "--group_size", "2", "--eval_split", "none", "--max_seq_length", "32", "-q"]) == 0
    evaluate = ["eval", "--model", str(model), "--name", "org/leaky", "--tasks", str(folder), "--split", "train"]
    assert main([*evaluate, "--no-bm25", "--out", str(results), "-q"]) == 0
    leaks = json.loads((results / "summary.json").read_text())["leaks"]
    assert [(leak["model"], leak["task"], leak["split"]) for leak in leaks] == [("org/leaky", "beir", "train")]
    assert "## Not held out" in (results / "summary.md").read_text()
    assert "was trained on beir's train split" in (results / "summary.md").read_text()

    card_out, results_out = tmp_path / "release-model", tmp_path / "release-results"
    publish = ["publish", "model", str(model), "--repo", "org/leaky", "--version", "0.1.0", "--license", "mit"]
    assert main([*publish, "--results", str(results), "--dry-run", "--out", str(card_out)]) == 0
    assert (
        main(["publish", "results", str(results), "--model-repo", "org/leaky", "--dry-run", "--out", str(results_out)])
        == 0
    )
    capsys.readouterr()
    for card in (card_out / "README.md", results_out / "README.md"):
        text = card.read_text()
        row = next(line for line in text.splitlines() if line.startswith("| beir "))
        assert "| train ⚠ not held out |" in row, row
        assert "**⚠ not held out:** this model was trained on data drawn from the split" in text
        note = next(line for line in text.splitlines() if line.startswith("**⚠ not held out:**"))
        assert "beir (local collection, not MTEB) `train` split (negatives mined into local:mined)" in note, note
        assert str(tmp_path) not in note + row  # the flag names no machine path
