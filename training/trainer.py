"""``run(config, trainer)``: lists → groups → loss → SentenceTransformerTrainer → checkpoint + manifest.

The one entry of the training stage (``rankladder train``, ``rankladder.train``, the release and the
study call it): ``config`` is a :class:`rankladder.training.config.TrainConfig`, ``trainer`` the
Trainer's own options (``{"max_steps": 20}``); both come from ``training.config.split_options``.

The output folder appears only when the run is complete (written to a temp sibling, then renamed): a
SentenceTransformer model with its card, the effective config (``rankladder_train_config.yaml``) and
``rankladder_train_manifest.json`` (provenance read by model_cards). The Trainer's ``checkpoint-N``
folders live in ``OUTPUT_DIR.checkpoints/`` beside it, where ``--resume_from_checkpoint latest`` looks;
they are removed after a successful run unless ``--keep_checkpoints``.

Under ``accelerate launch`` / ``torchrun`` every process runs this function and trains; only rank 0
(``training.distributed``) prepares and writes the output folder, evaluates at the end and removes the
checkpoints, while the others wait for it, so every process returns once the model exists.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any

from rankladder.core.errors import UserError
from rankladder.core.fsutil import (
    atomic_output_dir,
    check_replaceable,
    named_output,
    prepare_output_parent,
    write_json_atomic,
    write_text_atomic,
)
from rankladder.core.locks import hold_output
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.dataset_builder import schema
from rankladder.training import config as cfg
from rankladder.training import distributed
from rankladder.training.base_model import base_model_identity, check_base_model, default_base_model, load_base_model  # noqa: F401 (re-exported: the study and notebooks use these names)
from rankladder.training.checkpoints import (  # noqa: F401 (re-exported)
    _is_output_error,
    checkpoint_is_complete,
    checkpoints_dir,
    last_complete_checkpoint,
    resolve_resume,
)
from rankladder.training.curve import write_training_curve
from rankladder.training.provenance import (  # noqa: F401 (re-exported)
    CARD_SECTION,
    CONFIG_FILE,
    MANIFEST_FILE,
    append_card_section,
    card_section,
    input_hashes,
    provenance_callback,
)

logger = logging.getLogger(__name__)


def run(config: cfg.TrainConfig, trainer: dict[str, Any] | None = None) -> Path:
    """Train as ``config`` and the Trainer's options ``trainer`` say; returns the model folder (``config.out``)."""
    trainer = dict(trainer or {})
    targs, source_dicts, given = cfg.resolve(config, trainer)
    # first: a second writer of this folder, or one that cannot be written, is refused before any loading
    with hold_output(targs.output_dir):
        return _run_training(config, trainer, targs, source_dicts, given)


def _run_training(rl: cfg.TrainConfig, trainer: dict[str, Any], targs, source_dicts, given) -> Path:
    import yaml

    from rankladder.training.data import Source, check_source_exists, dataset_provenance, load_lists
    from rankladder.training.grouping import GroupedLists, make_train_dataset
    from rankladder.training.losses import build_loss

    if source_dicts is None and not rl.data:
        raise UserError("--data is required (or --sources)")
    if source_dicts and rl.label_policy:
        raise UserError("--label_policy applies to --data; with --sources give each source its own label_policy")
    sources = (
        [Source.from_dict(d) for d in source_dicts]
        if source_dicts
        else [
            Source(
                path=rl.data,
                split=rl.train_split,
                label_policy=rl.label_policy,
                max_disagreement=rl.max_disagreement,
            )
        ]
    )
    for source in sources:  # inputs exist before anything is loaded or written
        check_source_exists(source)
    base = rl.model or default_base_model()
    check_base_model(base)
    # checked before anything is loaded or written: a bad --resume_from_checkpoint leaves no output folder
    output_dir = named_output(targs.output_dir)
    work_dir = checkpoints_dir(output_dir)
    resume = resolve_resume(targs.resume_from_checkpoint, work_dir)
    check_outputs(output_dir, work_dir, rl.overwrite, resuming=resume is not None)
    # the Trainer's arguments join a launch's processes into one group; from here on ranks are known
    processes = targs.world_size
    if distributed.is_writer():
        prepare_output_parent(output_dir)
    if processes > 1 and not rl.gather_across_devices:
        logger.warning(
            "%d processes without --gather_across_devices: each scores its queries against its own %d lists' "
            "documents only, not the global batch's",
            processes,
            targs.per_device_train_batch_size,
        )

    from rankladder.training import data_checks
    from rankladder.training.progress import datasets_bars_off

    label_policy_report: list[dict] = []
    with datasets_bars_off():
        lists = load_lists(sources, label_policy_report)
    list_figures = data_checks.list_figures(lists["labels"])
    data_checks.check_training_lists(list_figures)  # before any model loads or any step
    random_k = {i: s.random_k for i, s in enumerate(sources) if s.random_k}
    grouper = GroupedLists(rl.group_size, rl.group_strategy, rl.cycle, random_k, seed=targs.seed)
    train_dataset = make_train_dataset(lists, grouper)
    with datasets_bars_off():
        evaluator = make_evaluator(rl)  # checks the dev lists too, before the model loads
    model = load_base_model(base, rl.max_seq_length)
    loss = build_loss(rl.loss, model, **rl.loss_kwargs())
    import torch

    from rankladder.core.logs import QUIET, verbosity

    quiet = verbosity() == QUIET
    defaults = cfg.run_defaults(given, evaluate=evaluator is not None, gpu=torch.cuda.is_available(), quiet=quiet)
    if defaults:  # short-run logging, dev evaluation: under what the user gave, so re-resolved
        with _logs_said_once():
            targs, source_dicts, given = cfg.resolve(rl, trainer, defaults)

    dataset_info = dataset_provenance(rl.data or sources[0].path)
    identity = base_model_identity(base)
    describe_in_card(model, output_dir, identity)
    manifest: dict[str, Any] = {
        "kind": "rankladder-model",
        "base_model": identity["id"],  # a Hub id people can load, never a site-packages path
        "base_model_source": identity["source"],
        "dataset": dataset_info,
        "sources": [s.to_dict() for s in sources],
        "data_checks": {"train_lists": list_figures, "label_policy": label_policy_report},
        "collection_splits": data_checks.collection_splits(sources),  # eval flags a task on one of them
        "group": {
            "size": rl.group_size,
            "strategy": rl.group_strategy,
            "cycle": rl.cycle,
            "train_queries": len(train_dataset),
        },
        "loss": {"name": rl.loss, "class": type(loss).__name__, "config": loss.get_config_dict()},
        "training_args": json.loads(json.dumps(targs.to_dict(), default=str)),
        "seed": targs.seed,
        "distributed": distributed.describe(
            targs.per_device_train_batch_size, targs.gradient_accumulation_steps, rl.gather_across_devices
        ),
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

    manifest["training_args"]["output_dir"] = str(output_dir)
    if distributed.is_writer():
        if rl.overwrite and work_dir.exists() and resume is None:
            shutil.rmtree(work_dir)  # an earlier unfinished run's checkpoints: --overwrite starts over
        work_dir.mkdir(parents=True, exist_ok=True)
    distributed.barrier()  # no rank starts (or saves a checkpoint) before the folder is ready
    targs.output_dir = str(work_dir)  # the Trainer's checkpoint-N folders (and logs) go beside the model

    from sentence_transformers import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from rankladder.training.grouping import EpochBatchSampler
    from rankladder.training.progress import progress_callbacks

    if targs.batch_sampler in (BatchSamplers.BATCH_SAMPLER, "batch_sampler"):  # the default: ours, epoch-seeded
        targs.batch_sampler = EpochBatchSampler  # sentence-transformers' own hook (a DefaultBatchSampler class)
        if "dataloader_drop_last" not in given:
            # sentence-transformers turns drop_last on under DDP against uneven last batches; ours cuts every
            # global batch into equal local ones, so the epoch's last rows are trained as in one process
            targs.dataloader_drop_last = manifest["training_args"]["dataloader_drop_last"] = False
    if targs.dataloader_persistent_workers and targs.dataloader_num_workers > 0:
        logger.warning("persistent dataloader workers keep the first epoch's groups; later epochs redraw none")
    from rankladder.core.logs import unswitchable_bars_hidden

    with unswitchable_bars_hidden():  # sentence-transformers' "Computing widget examples" bar (for the card)
        trainer = SentenceTransformerTrainer(
            model=model,
            args=targs,
            train_dataset=train_dataset,
            loss=loss,
            evaluator=evaluator,
            callbacks=[provenance_callback(effective_yaml, section)],
        )
    progress_callbacks(trainer)
    started = time.monotonic()
    try:
        result = trainer.train(resume_from_checkpoint=resume)
    except Exception as exc:
        if not _is_output_error(exc):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"{work_dir}: cannot write checkpoint: {first} (no model folder was written; "
            f"free space and re-run with --resume_from_checkpoint latest)"
        ) from exc

    # sentence-transformers runs the in-training evaluator on rank 0 only; the manifest shows it did
    manifest["distributed"]["evaluator_calls_per_rank"] = distributed.gather(evaluator.calls if evaluator else 0)
    if not distributed.is_writer():
        logger.info("rank %d of %d: rank 0 writes %s; waiting for it", distributed.rank(), processes, output_dir)
        failed = distributed.share(None)  # rank 0 says whether it wrote the model
        if failed:
            raise UserError(f"{output_dir}: rank 0 could not write the model ({failed})")
        return output_dir
    if processes > 1:
        logger.info("rank 0 of %d: writing %s", processes, output_dir)
    try:
        finish_on_writer(
            trainer, result, manifest, evaluator, rl, sources, output_dir, work_dir, effective_yaml, section, started
        )
    except BaseException as exc:
        distributed.share(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)  # release the others
        raise
    distributed.share(None)
    return output_dir


def finish_on_writer(
    trainer, result, manifest, evaluator, rl, sources, output_dir, work_dir, effective_yaml, section, started
) -> None:
    """Rank 0 (the only process in a single-process run): final metrics, the model folder, cleanup."""
    model = trainer.model
    final = {"train_loss": result.training_loss, "global_step": result.global_step, "epoch": trainer.state.epoch}
    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    if logged:
        final["last_logged_loss"] = logged[-1]
    final.update(grad_norm_summary(trainer.state.log_history))
    manifest["train_log"] = [  # losses, and the dev metrics where the Trainer evaluated
        {k: v for k, v in entry.items() if k in ("step", "epoch", "loss", "grad_norm", "learning_rate") or is_dev(k)}
        for entry in trainer.state.log_history
        if "loss" in entry or "grad_norm" in entry or any(map(is_dev, entry))
    ]
    manifest["train_seconds"] = round(time.monotonic() - started, 1)
    evaluated = dev_metrics(trainer.state.log_history, evaluator.name if evaluator is not None else rl.eval_split)
    if evaluated.get(0):  # eval_on_start: the base model on the dev lists
        manifest["initial_metrics"] = evaluated[0]
    if evaluator is not None:
        # the Trainer's last evaluation when it was at the final step, else one more
        final.update(evaluated.get(result.global_step) or evaluator(model))
        manifest["distributed"]["evaluator_calls_per_rank"][0] = evaluator.calls
    manifest["final_metrics"] = final
    replace = rl.overwrite or (output_dir.is_dir() and not any(output_dir.iterdir()))
    try:
        with atomic_output_dir(output_dir, overwrite=replace, replaces=MANIFEST_FILE) as staging:
            trainer.save_model(str(staging))
            write_text_atomic(staging / CONFIG_FILE, effective_yaml)
            write_json_atomic(staging / MANIFEST_FILE, manifest)
            append_card_section(staging / "README.md", section)
            (staging / "training_args.bin").unlink(missing_ok=True)  # a pickle; the config and manifest say it all
            title = f"{output_dir.name}: {rl.loss} loss on {Path(rl.data or sources[0].path).name}"
            write_training_curve(staging, trainer.state.log_history, title)
    except Exception as exc:
        if isinstance(exc, UserError) or not _is_output_error(exc):
            raise
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"{output_dir}: cannot write the model: {first} (nothing was written; the checkpoints "
            f"in {work_dir} are kept for --resume_from_checkpoint latest)"
        ) from exc
    if not rl.keep_checkpoints:
        shutil.rmtree(work_dir, ignore_errors=True)


@contextlib.contextmanager
def _logs_said_once():
    """The second build of the training arguments repeats the first one's warnings (deprecated flags)."""
    loggers = [logging.getLogger(name) for name in ("transformers", "sentence_transformers")]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for each, level in zip(loggers, levels):
            each.setLevel(level)


def describe_in_card(model, output_dir: Path, identity: dict[str, Any]) -> None:
    """Fill sentence-transformers' own card fields, so the card written with the weights says what the model
    is: title and usage snippet name the output folder (publish retargets them to the repo), base model by
    Hub id (set directly: ``set_base_model`` asks the Hub, which is offline here)."""
    card = model.model_card_data
    card.set_model_id(str(output_dir))
    card.model_name = f"{Path(output_dir).name} (fine-tuned from {identity['id']} with rankladder)"
    if "local_path" not in identity["source"]:
        card.base_model = identity["id"]


def check_outputs(output_dir: Path, work_dir: Path, overwrite: bool, resuming: bool) -> None:
    """The output rule, before any work: never replace a model or mix two runs' checkpoints silently."""
    if output_dir.exists() and not output_dir.is_dir():
        raise UserError(f"{output_dir}: exists and is not a folder")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not overwrite:
        raise UserError(
            f"{output_dir}: output folder already exists and is not empty (pass --overwrite to replace "
            "it once the new model is complete)"
        )
    check_replaceable(output_dir, MANIFEST_FILE)  # --overwrite replaces a model, never the data or other files
    stale = work_dir.is_dir() and any(work_dir.glob("checkpoint-*"))
    if stale and not resuming and not overwrite:
        raise UserError(
            f"{work_dir}: checkpoints of an earlier unfinished run (resume it with "
            "--resume_from_checkpoint latest, or pass --overwrite to start over)"
        )


def is_dev(key: str) -> bool:
    """An evaluator metric in the Trainer's logs (``eval_dev_ndcg@10``), not its bookkeeping (``eval_runtime``)."""
    return key.startswith("eval_") and key.endswith(("_ndcg@10", "_kendall_tau"))


def dev_metrics(log_history: list[dict], name: str = "dev") -> dict[int, dict[str, float]]:
    """The evaluator's metrics per evaluated step (``eval_dev_ndcg@10`` → ``dev_ndcg@10``)."""
    found: dict[int, dict[str, float]] = {}
    for entry in log_history:
        values = {k[len("eval_") :]: v for k, v in entry.items() if k.startswith(f"eval_{name}_")}
        if values:
            found[int(entry.get("step", 0))] = values
    return found


def grad_norm_summary(log_history: list[dict]) -> dict[str, float]:
    """Mean / first / last of the Trainer's logged ``grad_norm`` (total norm before clipping).

    Logged every ``logging_steps``; losses with very different gradient norms train at very
    different effective step sizes (see ``loss_scale``).
    """
    norms = [float(e["grad_norm"]) for e in log_history if e.get("grad_norm") is not None]
    if not norms:
        return {}
    return {
        "grad_norm_mean": sum(norms) / len(norms),
        "grad_norm_first": norms[0],
        "grad_norm_last": norms[-1],
        "grad_norm_logged": len(norms),
    }


def make_evaluator(rl):
    """Graded evaluator on the dev lists of --data, when it has them."""
    if not rl.data or rl.eval_split in ("", "none", None):
        return None
    from rankladder.training.data import dataset_configs, split_revision

    path, revision = split_revision(rl.data)
    local = Path(path)
    if local.is_dir():
        if schema.LISTS_CONFIG not in dataset_configs(local) or not schema.has_split(
            local, schema.LISTS_CONFIG, rl.eval_split
        ):
            if "eval_split" in rl.model_fields_set:  # asked for by name (a typo, or a dataset built without dev)
                raise UserError(
                    f"--eval_split {rl.eval_split}: {local} has no lists/{rl.eval_split} split, so there would be no "
                    "dev evaluation; name a split it has, or pass --eval_split none"
                )
            return None
    import datasets

    from rankladder.training.evaluator import GradedListEvaluator

    try:
        dev = datasets.load_dataset(path, schema.LISTS_CONFIG, split=rl.eval_split, revision=revision)
    except Exception:  # no dev split: train without evaluation
        logger.info("no %s lists in %s: no in-training evaluation", rl.eval_split, rl.data)
        return None
    dev = dev.select(range(min(len(dev), rl.max_eval_lists)))
    from rankladder.training.data_checks import check_dev_lists

    check_dev_lists(dev["levels"], rl.eval_split)
    return GradedListEvaluator(dev, name=rl.eval_split)
