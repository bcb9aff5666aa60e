"""One typed config per stage: one set of defaults, every entry point validated the same way, one line per mistake."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rankladder.core.errors import UserError

RANKLADDER = [sys.executable, "-m", "rankladder.cli"]


def test_one_set_of_defaults_across_entry_points():
    from rankladder.cli import build_parser
    from rankladder.core.cli_model import config_from_args
    from rankladder.dataset_builder.config import BuildConfig, GenerateConfig
    from rankladder.release import DEFAULTS
    from rankladder.training.config import TrainConfig

    # the flags hold no defaults of their own: config_from_args fills them from the one model
    generate = config_from_args(GenerateConfig, build_parser().parse_args(["generate", "--out", "x"]))
    build = config_from_args(BuildConfig, build_parser().parse_args(["build", "r", "--out", "x", "--version", "1.0.0"]))
    generation = GenerateConfig()
    for key in ("max_new_tokens", "window", "temperature", "top_p", "max_attempts", "samples_per_level"):
        assert getattr(generate, key) == getattr(generation, key) == DEFAULTS["generation"][key], key
    assert build.dev_fraction == BuildConfig().dev_fraction == DEFAULTS["build"]["dev_fraction"]
    assert TrainConfig().loss == DEFAULTS["training"]["loss"]


@pytest.mark.parametrize(
    "section, text, expected",
    [
        ("generation", "  window: 0\n", "bad.yaml:3: key 'generation.window': must be at least 1 (got 0)"),
        (
            "generation",
            "  batch_size: 0\n",
            "bad.yaml:3: key 'generation.window': must be at least 1 (got 0)",
        ),  # old name
        ("generation", "  top_p: 1.5\n", "key 'generation.top_p': must be at most 1.0"),
        ("build", "  dev_fraction: 1.0\n", "bad.yaml:3: key 'build.dev_fraction': must be less than 1.0"),
        ("training", "  max_steps: -5\n", "bad.yaml:3: key 'training.max_steps'"),
        (
            "training",
            "  per_device_train_batch_size: 0\n",
            "key 'training.per_device_train_batch_size': must be at least 1",
        ),
        ("training", "  lossy: ws2\n", "bad.yaml:3: key 'training.lossy': unknown training option"),
        ("eval", "  batch_size: many\n", "bad.yaml:3: key 'eval.batch_size'"),
        ("generation", "  limit: -1\n", "key 'generation.limit': must be at least 1"),
        ("queries", "  limit: -1\n", "bad.yaml:3: key 'generation.limit': must be at least 1"),  # the old section
    ],
)
def test_release_yaml_mistakes_name_file_line_and_key(tmp_path, section, text, expected):
    from rankladder.release import load_release

    bad = tmp_path / "bad.yaml"
    bad.write_text(f"name: broken\n{section}:\n{text}")
    with pytest.raises(UserError) as caught:
        load_release(bad)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_run_refuses_a_zero_batch_size_before_any_work(tmp_path):
    """`generation: {batch_size: 0}` used to make `rankladder run` loop forever."""
    bad = tmp_path / "release.yaml"
    bad.write_text("generation:\n  batch_size: 0\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [*RANKLADDER, "run", str(bad), "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0 and f"{bad}:2" in result.stderr and "window" in result.stderr
    assert not out.exists()


def test_training_yaml_and_flags_are_checked_before_any_model_loads(tmp_path):
    from rankladder.training.config import split_options

    config = tmp_path / "train.yaml"
    config.write_text("loss: ws2\ngroup_size: 0\n")
    with pytest.raises(UserError, match=r"train.yaml:2: key 'group_size': must be at least 1 \(got 0\)"):
        split_options({"config": str(config), "out": str(tmp_path / "m")})
    with pytest.raises(UserError, match=r"--max_steps: must be a positive number of steps"):
        split_options({"max_steps": -5, "out": str(tmp_path / "m")})
    with pytest.raises(UserError, match=r"--learning_rate: must be greater than 0"):
        split_options({"learning_rate": 0.0, "out": str(tmp_path / "m")})
    assert not (tmp_path / "m").exists()


def test_python_api_validates_through_the_same_models(tmp_path):
    import rankladder

    with pytest.raises(UserError, match=r"^dev_fraction \(--dev-fraction\): must be less than 1.0 \(got 2.0\)"):
        rankladder.build([tmp_path / "run"], tmp_path / "ds", version="1.0.0", dev_fraction=2.0)
    with pytest.raises(UserError, match=r"^window \(--window\): must be at least 1"):
        rankladder.generate(tmp_path / "run", window=0)
    with pytest.raises(UserError, match=r"^bogus: unknown option"):
        rankladder.evaluate(["m"], ["t"], tmp_path / "r", bogus=1)
    assert not any(tmp_path.iterdir())
