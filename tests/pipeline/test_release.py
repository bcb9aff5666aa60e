"""One release, one command: the config, and the real pipeline end to end with stage skipping."""

import json
import re
from pathlib import Path

import pytest

from rankladder.core.errors import UserError
from rankladder.pipeline import STAGES, Pipeline
from rankladder.release import DEFAULTS, load_release

ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_yaml_is_exactly_the_embedded_defaults():
    assert load_release(ROOT / "configs" / "quickstart.yaml") == DEFAULTS


def test_unknown_keys_and_missing_files_are_errors(tmp_path):
    bad = tmp_path / "release.yaml"
    bad.write_text("generation:\n  temprature: 0.5\n")
    with pytest.raises(UserError, match="unknown key 'generation.temprature'"):
        load_release(bad)
    with pytest.raises(UserError, match="release config not found"):
        load_release(tmp_path / "nope.yaml")
    bad.write_text("queries: 5\n")
    with pytest.raises(UserError, match="'queries' must be a mapping"):
        load_release(bad)


def tiny_release(**training) -> dict:
    return load_release(None, tiny_overrides(**training))


def tiny_overrides(**training) -> dict:
    return {
        "queries": {"limit": 2},
        "generation": {"max_new_tokens": 48, "batch_size": 8},
        "build": {"dev_fraction": 0.5},
        "training": {
            "max_steps": 2,
            "per_device_train_batch_size": 2,
            "num_train_epochs": 1,
            "logging_steps": 1,
            "disable_tqdm": True,
            **training,
        },
        "eval": {"include_base": True, "bm25": False},  # base vs fine-tuned: the summary's verdict
    }


def records(out: Path) -> dict:
    return {stage: json.loads((out / "steps" / f"{stage}.json").read_text()) for stage in STAGES}


@pytest.mark.slow
def test_pipeline_runs_resumes_and_reruns_only_what_changed(tmp_path, capsys):
    import yaml

    from rankladder.cli import main
    from tests.helpers.console_checks import assert_quiet, summary_block

    out = tmp_path / "release"
    config = tmp_path / "release.yaml"
    config.write_text(yaml.safe_dump(tiny_overrides()))
    # the whole release through the console command, as a user runs it: every stage's terminal output
    assert main(["run", str(config), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert_quiet(captured.out + captured.err)
    release = json.loads((out / "release.json").read_text())
    first = records(out)
    rows = summary_block(captured.out, "run")
    assert re.match(
        r"the fine-tuned model (beat|did NOT beat|tied with) the base on the synthetic dev split: nDCG@10 ",
        rows["result"],
    )
    assert rows["synthetic dev split"].startswith("nDCG@10 base ")
    assert rows["training"].startswith("wasserstein loss, 2 steps") and str(out / "model") in rows["wrote"]
    assert (out / "model" / "training_curve.png").is_file()
    assert release["dataset"]["content_hash"] == release["model"]["trained_on"]["content_hash"]
    assert json.loads((out / "release.json").read_text())["version"] == "0.1.0"
    for folder in ("dataset", "model", "results"):
        assert any((out / "release" / folder).iterdir()), folder
    # the leaderboard takes MTEB tasks only: the quickstart evaluates on its own dev split, so no bundle
    assert not (out / "release" / "leaderboard").exists()
    card = (out / "release" / "model" / "README.md").read_text()
    assert "rankladder/quickstart-synthetic-graded" in card  # model card → dataset repo@tag
    dataset_card = (out / "release" / "dataset" / "README.md").read_text()
    assert "rankladder/quickstart-minilm-wasserstein" in dataset_card and "[user]" in dataset_card

    Pipeline(tiny_release(), out, progress=False).run()
    assert records(out) == first, "an unchanged config must skip every stage"

    Pipeline(tiny_release(learning_rate=1e-5), out, progress=False).run()
    again = records(out)
    for stage in ("generate", "build"):
        assert again[stage] == first[stage]
    for stage in ("train", "eval", "publish"):
        assert again[stage]["finished"] >= first[stage]["finished"]
        assert again[stage]["fingerprint"] != first[stage]["fingerprint"]


def test_verdict_puts_the_real_collection_first_and_says_plainly_who_won(tmp_path):
    from rankladder.pipeline_summary import comparisons, score_row, verdict

    def scores(dev, real):
        return {"dataset": {"ndcg_at_10": dev}, "cranfield": {"ndcg_at_10": real}}

    summary = {
        "tasks": [
            {"name": "dataset", "dataset": {"path_or_repo": str(tmp_path / "dataset")}},
            {"name": "cranfield", "dataset": {"path_or_repo": "/data/cranfield"}},
        ],
        "scores": {
            "sentence-transformers/all-MiniLM-L6-v2": scores(0.92, 0.39),
            "org/tuned": scores(0.93, 0.37),
            "mteb/baseline-bm25s": scores(0.86, 0.31),
        },
    }
    rows = comparisons(summary, "org/tuned", str(tmp_path / "dataset"))
    assert [r["label"] for r in rows] == ["cranfield", "synthetic dev split"]
    assert (
        verdict(rows)
        == "the fine-tuned model did NOT beat the base on the real collection cranfield: nDCG@10 39.0 → 37.0 (-2.0)"
    )
    assert score_row(rows[1]) == "nDCG@10 base 92.0 → fine-tuned 93.0 (+1.0) · BM25 86.0"


def test_quickstart_eval_data_default_degrades_to_a_note_without_the_collection(tmp_path, monkeypatch):
    from rankladder.pipeline_cli import DEFAULT_EVAL_DATA, eval_data

    monkeypatch.chdir(tmp_path)  # a fresh machine: no ../shared/datasets/cranfield
    folders, notes = eval_data(None)
    assert folders == [] and DEFAULT_EVAL_DATA in notes[0] and "--eval-data" in notes[0]
    assert eval_data(["none"]) == ([], [])
    with pytest.raises(UserError, match="not a BEIR folder"):
        eval_data([str(tmp_path)])
    beir = tmp_path / "beir"
    beir.mkdir()
    (beir / "corpus.jsonl").write_text("{}\n")
    assert eval_data([str(beir)]) == ([str(beir)], [])
