"""One release, one command: the config, and the real pipeline end to end with stage skipping."""

import json
from pathlib import Path

import pytest

from rankladder.core.errors import UserError
from rankladder.pipeline import STAGES, Pipeline
from rankladder.release import DEFAULTS, load_release

ROOT = Path(__file__).resolve().parents[1]


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
    return load_release(
        None,
        {
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
            "eval": {"include_base": False, "bm25": False},
        },
    )


def records(out: Path) -> dict:
    return {stage: json.loads((out / "stages" / f"{stage}.json").read_text()) for stage in STAGES}


@pytest.mark.slow
def test_pipeline_runs_resumes_and_reruns_only_what_changed(tmp_path):
    out = tmp_path / "release"
    release = Pipeline(tiny_release(), out, progress=False).run()
    first = records(out)
    assert release["dataset"]["content_hash"] == release["model"]["trained_on"]["content_hash"]
    assert json.loads((out / "release.json").read_text())["version"] == "0.1.0"
    for folder in ("dataset", "model", "results", "leaderboard"):
        assert any((out / "release" / folder).iterdir()), folder
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
        assert again[stage]["config_hash"] != first[stage]["config_hash"]
