"""A release described by one YAML: queries → generation → build → training → eval → publish.

The embedded defaults below are the quickstart (``configs/quickstart.yaml`` spells them out; a test
keeps the two equal). A release file overrides any key; unknown keys are errors.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from rankladder.core.errors import UserError

DEFAULTS: dict = {
    "name": "rankladder-quickstart",
    "version": "0.1.0",
    "queries": {"source": None, "format": "auto", "id_field": None, "text_field": None, "qrels_split": None,
                "hf_config": None, "hf_split": "train", "limit": None, "seed": 0},
    "generation": {"backend": "transformers", "backend_options": {}, "levels_config": None, "levels": None,
                   "prompt_mode": "per-level", "prompt_template": None, "samples_per_level": 1,
                   "temperature": 0.7, "top_p": 0.95, "max_new_tokens": 128, "seed": 0, "batch_size": 16,
                   "max_attempts": 3},
    # the relevance judge: backend/options null = the generator's; enabled: judge, report agreement in the card
    "judge": {"enabled": True, "backend": None, "backend_options": {}, "prompt_template": None,
              "max_new_tokens": 8, "logprobs": 20, "batch_size": 16},
    "build": {"dev_fraction": 0.2, "seed": 0, "select_by_similarity": None, "labels": "intended",
              "max_disagreement": 1},
    "training": {"loss": "wasserstein", "model": None, "group_size": 4, "group_strategy": "one_per_level",
                 "per_device_train_batch_size": 16, "num_train_epochs": 4, "learning_rate": 3e-5,
                 "warmup_ratio": 0.1, "seed": 0, "save_strategy": "no", "logging_steps": 5,
                 "report_to": "none", "disable_tqdm": False},
    "eval": {"tasks": [], "include_base": True, "bm25": True, "split": None, "batch_size": 32},
    "publish": {"dataset_repo": "rankladder/quickstart-synthetic-graded",
                "model_repo": "rankladder/quickstart-minilm-wasserstein", "license": "apache-2.0",
                "dry_run": True, "force": False, "private": False},
}
FREE_FORM = {("generation", "backend_options"), ("judge", "backend_options"), ("training",)}  # passed through to the stage


def _merge(base: dict, override: dict, where: str, path: tuple = ()) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        here = path + (key,)
        if key not in base and path not in FREE_FORM:
            raise UserError(f"{where}: unknown key '{'.'.join(here)}'")
        if isinstance(base.get(key), dict) and here not in FREE_FORM:
            if not isinstance(value, dict):
                raise UserError(f"{where}: key '{'.'.join(here)}' must be a mapping")
            merged[key] = _merge(base[key], value, where, here)
        else:
            merged[key] = value
    return merged


def load_layered(defaults: dict, path: str | Path | None, overrides: dict | None, what: str) -> dict:
    """Embedded ``defaults`` < YAML file at ``path`` < ``overrides``; unknown keys are errors."""
    config = copy.deepcopy(defaults)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"{path}: {what} config not found")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: a {what} config is a mapping")
        config = _merge(config, data, str(path))
    if overrides:
        config = _merge(config, overrides, "command line")
    return config


def load_release(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The effective release config: defaults < YAML file < overrides."""
    return load_layered(DEFAULTS, path, overrides, "release")
