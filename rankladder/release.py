"""A release described by one YAML: queries → generation → build → training → eval → publish.

The sections are the stages' own typed configs (one set of defaults, shared with the CLI flags and
the Python API, under the same names): ``generation:`` is ``GenerateConfig`` (queries included),
``judge:`` ``JudgeConfig`` (plus ``enabled``), ``build:`` ``BuildConfig``. The embedded defaults are the quickstart (``configs/quickstart.yaml`` spells them
out; a test keeps the two equal). A release file overrides any key; unknown keys, wrong types and
out-of-range values are one error naming ``file:line`` and the key, before any work starts.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from pydantic import Field

from rankladder.core.config import KeyLines, StrictModel, dump, load_yaml, validate
from rankladder.core.errors import UserError
from rankladder.core.renames import RENAMED_FLAGS, field_name
from rankladder.dataset_builder.config import BuildConfig, GenerateConfig, JudgeConfig
from rankladder.eval.config import EvalConfig
from rankladder.model_cards.config import TaggedPublishOptions

log = logging.getLogger(__name__)

# The quickstart's training recipe: a tiny dataset (8 queries × 4 levels), so several epochs, one
# document per level in every group, and logging often enough to see a loss curve. Everything not
# named here is `rankladder train`'s own default.
QUICKSTART_TRAINING: dict[str, Any] = {
    "loss": "wasserstein",
    "model": None,
    "group_size": 4,
    "group_strategy": "one_per_level",
    "per_device_train_batch_size": 16,
    "num_train_epochs": 4,
    "learning_rate": 3e-5,
    "warmup_steps": 0.1,  # a fraction of the run below 1 (transformers 5 deprecates warmup_ratio)
    "seed": 0,
    "save_strategy": "no",  # logging_steps: train's short-run default (every ~5% of the steps)
    "report_to": "none",
    "disable_tqdm": False,
}


class ReleaseJudge(JudgeConfig):
    """``rankladder judge``'s options, and whether the release judges at all."""

    enabled: bool = Field(True, description="judge, and report intended-vs-judged agreement in stats and card")


class ReleaseEval(EvalConfig):
    """``rankladder eval``'s options; ``tasks`` are evaluated besides the release's own dataset."""

    include_base: bool = Field(True, description="evaluate the base model beside the fine-tuned one")


class ReleasePublish(TaggedPublishOptions):
    """``rankladder publish``'s options for the release's dataset and model (its version is the release's).

    A release only writes what it would upload unless its YAML says ``dry_run: false``, and its cards
    carry a license even when the built card has none."""

    dataset_repo: str = Field("rankladder/quickstart-synthetic-graded", description="the dataset's Hub repo")
    model_repo: str = Field("rankladder/quickstart-minilm-wasserstein", description="the model's Hub repo")
    license: str = Field("apache-2.0", description="Hub license id of both cards")
    dry_run: bool = Field(True, description="write the folders that would be pushed instead of pushing")


class ReleaseConfig(StrictModel):
    name: str = "rankladder-quickstart"
    version: str = Field("0.1.0", pattern=r"^\d+\.\d+\.\d+$", description="dataset/model version X.Y.Z")
    generation: GenerateConfig = Field(default_factory=GenerateConfig)
    judge: ReleaseJudge = Field(default_factory=ReleaseJudge)
    build: BuildConfig = Field(default_factory=BuildConfig)
    training: dict[str, Any] = Field(
        default_factory=lambda: dict(QUICKSTART_TRAINING),
        description="`rankladder train` options (rankladder's and the Trainer's)",
    )
    eval: ReleaseEval = Field(default_factory=ReleaseEval)
    publish: ReleasePublish = Field(default_factory=ReleasePublish)


DEFAULTS: dict = dump(ReleaseConfig())
FREE_FORM = {("training",)}  # passed through to the stage, which checks it
# old keys, still read: renamed (old key → new key), or a mapping the stage's config spreads (with a warning)
RENAMED = {
    (section, field_name(old)): field_name(new)
    for section, command in (("generation", "generate"), ("judge", "judge"), ("build", "build"))
    for old, new in RENAMED_FLAGS.get(command, {}).items()
}  # from the one table of renamed options (rankladder.core.renames)
SPREAD = {("generation", "backend_options"), ("judge", "backend_options")}
OLD_QUERY_KEYS = {"source": "queries", "format": "queries_format"}  # the old `queries:` section's keys


def fold_queries_section(data: dict, where: str, lines: KeyLines | None = None) -> dict:
    """The old top-level ``queries:`` section moved into ``generation:`` (its keys are generate's options:
    ``source`` → ``queries``, ``format`` → ``queries_format``); a key given in both is an error."""
    if "queries" not in data:
        return data
    data, old = dict(data), data["queries"]
    del data["queries"]
    line = lines.line_of(("queries",)) if lines else None
    at = f"{where}:{line}" if line else where
    if not isinstance(old, dict):
        raise UserError(f"{at}: key 'queries' must be a mapping")
    generation = dict(data.get("generation") or {})
    for key, value in old.items():
        new = OLD_QUERY_KEYS.get(key, key)
        if new in generation and generation[new] != value:
            raise UserError(
                f"{at}: key 'queries.{key}' conflicts with 'generation.{new}' (give it once, in generation)"
            )
        generation[new] = value
        if lines is not None and lines.line_of(("queries", key)) is not None:
            lines.setdefault(("generation", new), lines.line_of(("queries", key)))
    log.warning("%s: the 'queries:' section is now part of 'generation:' (queries, queries_format, limit, ...)", where)
    return {**data, "generation": generation}


def _merge(base: dict, override: dict, where: str, path: tuple = (), lines: KeyLines | None = None) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        line = lines.line_of(path + (key,)) if lines else None
        key = RENAMED.get(path + (key,), key)
        here = path + (key,)
        if lines is not None and line is not None:
            lines.setdefault(here, line)  # an old key's line stands for its new name in later errors
        at = f"{where}:{line}" if line else where
        if here in SPREAD:
            _spread(merged, value, here, at, line, lines)
            continue
        if key not in base and path not in FREE_FORM:
            raise UserError(f"{at}: unknown key '{'.'.join(here)}'")
        if isinstance(base.get(key), dict) and here not in FREE_FORM:
            if not isinstance(value, dict):
                raise UserError(f"{at}: key '{'.'.join(here)}' must be a mapping")
            merged[key] = _merge(base[key], value, where, here, lines)
        else:
            merged[key] = value
    return merged


def _spread(section: dict, value, here: tuple, at: str, line: int | None, lines: KeyLines | None) -> None:
    """An old nested mapping (``generation.backend_options``): its keys set on the section itself."""
    name = ".".join(here)
    if not isinstance(value, dict):
        raise UserError(f"{at}: key '{name}' must be a mapping")
    for key, item in value.items():
        if key == "api_key":
            raise UserError(f"{at}: key '{name}.api_key': put the key in an environment variable named by api_key_env")
        if key not in section:
            raise UserError(f"{at}: unknown key '{name}.{key}'")
        section[key] = item
        if lines is not None and line is not None:
            lines.setdefault(here[:-1] + (key,), line)
    if value:
        log.warning("%s: '%s' is deprecated: write its keys (%s) directly in '%s'", at, name, ", ".join(value), here[0])


def load_layered(
    defaults: dict, path: str | Path | None, overrides: dict | None, what: str, model: type[StrictModel] | None = None
) -> dict:
    """Embedded ``defaults`` < YAML file at ``path`` < ``overrides``; unknown keys are errors.

    With ``model``, the merged result is validated by it (types and ranges), the error naming the YAML
    file and line of the offending key.
    """
    return _layers(defaults, path, overrides, what, model)[0]


def _layers(defaults: dict, path, overrides, what: str, model) -> tuple[dict, str, KeyLines]:
    config, source, lines = copy.deepcopy(defaults), "command line", KeyLines()
    if path is not None:
        data, lines = load_yaml(path, what=f"{what} config")
        source = str(path)
        config = _merge(config, fold_queries_section(data, source, lines), source, lines=lines)
    if overrides:
        config = _merge(config, fold_queries_section(overrides, "command line"), "command line")
    if model is not None:
        config = dump(validate(model, config, source, lines))
    return config, source, lines


def load_release(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The effective release config: defaults < YAML file < overrides, validated by :class:`ReleaseConfig`."""
    from rankladder.training.config import check_options

    config, source, lines = _layers(DEFAULTS, path, overrides, "release", ReleaseConfig)
    check_options(config["training"], source, lines)
    return config
