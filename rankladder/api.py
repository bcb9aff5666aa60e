"""The Python API: the CLI's stages as functions, for notebooks and scripts.

Each function takes the same options as its subcommand under the same names (underscored:
``dev_fraction`` for ``--dev-fraction``), validates them through the stage's typed config before any
work, calls the stage's entry function, and returns what was written. Bad options raise
:class:`rankladder.core.errors.UserError` naming the option as key and flag (``window (--window): ...``).

>>> import rankladder
>>> run = rankladder.generate("runs/demo", limit=3, max_new_tokens=96)
>>> dataset = rankladder.build([run], "datasets/demo", version="0.1.0", dev_fraction=0.25)
>>> model = rankladder.train("models/demo", data=str(dataset), max_steps=20)
>>> summary = rankladder.evaluate([str(model)], [str(dataset)], "results/demo")
>>> rankladder.publish("dataset", dataset, "me/demo-graded", version="0.1.0", dry_run=True, out="release/ds")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rankladder.core.cli_model import config_from_options

#: the old ``queries={...}`` mapping of ``generate`` (a YAML ``queries:`` section): keys renamed to the options
OLD_QUERY_KEYS = {"source": "queries", "format": "queries_format"}


def generate(
    out: str | Path,
    queries: str | Path | dict[str, Any] | None = None,
    shard: str | None = None,
    progress: bool = True,
    retry_rejected: bool = False,
    **options: Any,
) -> Path:
    """Write graded documents into RUN_DIR ``out`` (resumed if it exists); returns ``out``.

    ``options``: every option of ``rankladder generate`` under its flag's name (``limit``, ``backend``,
    ``model``, ``base_url`` (a list or one URL), ``concurrency``, ``levels``, ``prompt_mode``,
    ``max_new_tokens``, ``window``, ...: :class:`rankladder.dataset_builder.config.GenerateConfig`).
    ``queries``: a path (JSONL/TSV/BEIR folder/HF dataset; default: the bundled queries); a mapping of
    query options (``{"limit": 3}``, the old spelling) is still read. ``shard``: ``"I/N"``;
    ``retry_rejected``: also try again the documents earlier runs gave up on.
    Raises ``RuntimeError`` when every document of the shard was given up (the command exits 1);
    the shard manifest's ``counts.rejected_keys_by_reason`` says why.
    """
    from rankladder.dataset_builder.config import GenerateConfig
    from rankladder.dataset_builder.stages import run_generate

    if isinstance(queries, dict):
        options = {**{OLD_QUERY_KEYS.get(k, k): v for k, v in queries.items()}, **options}
    elif queries is not None:
        options["queries"] = queries
    if isinstance(options.get("queries"), Path):
        options["queries"] = str(options["queries"])
    config = config_from_options(GenerateConfig, options)
    manifest = run_generate(config, out, shard=shard, retry_rejected=retry_rejected, progress=progress)
    counts = manifest["counts"]
    if counts["rejected_keys"] and not counts["records_all_runs"]:
        reasons = ", ".join(f"{r} {n}" for r, n in counts.get("rejected_keys_by_reason", {}).items())
        raise RuntimeError(
            f"{out}: every one of {counts['rejected_keys']} documents was given up ({reasons}); "
            "retry with retry_rejected=True or change the settings"
        )
    return Path(out)


def judge(
    run_dirs: list[str | Path] | str | Path, shard: str | None = None, progress: bool = True, **options: Any
) -> list[dict]:
    """Grade every kept document of the RUN_DIRs with an LLM judge; returns each RUN_DIR's judge manifest.

    ``options``: every option of ``rankladder judge`` (``backend``, ``model``, ``base_url``, ``logprobs``,
    ``batch_size``, ...: :class:`rankladder.dataset_builder.config.JudgeConfig`; default: the generator's
    backend and model)."""
    from rankladder.dataset_builder.config import JudgeConfig
    from rankladder.dataset_builder.stages import run_judge

    runs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    config = config_from_options(JudgeConfig, options)
    return [manifest for _, manifest in run_judge(config, [str(r) for r in runs], shard=shard, progress=progress)]


def build(
    run_dirs: list[str | Path] | str | Path,
    out: str | Path,
    version: str,
    overwrite: bool = False,
    name: str | None = None,
    **options: Any,
) -> Path:
    """Merge RUN_DIRs into the versioned dataset folder ``out``; returns ``out``.

    ``options``: every option of ``rankladder build`` (``dev_fraction``, ``seed``, ``select_by_similarity``,
    ``separability``, ``labels``, ``max_disagreement``, ``allow_degenerate_labels``, ``merge``:
    :class:`rankladder.dataset_builder.config.BuildConfig`).
    """
    from rankladder.dataset_builder.build import build_dataset
    from rankladder.dataset_builder.config import BuildConfig

    runs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    config = config_from_options(BuildConfig, options)
    build_dataset([str(r) for r in runs], out, version, config, name=name, overwrite=overwrite)
    return Path(out)


def mine(folder: str | Path, out: str | Path, overwrite: bool = False, progress: bool = True, **options: Any) -> dict:
    """Mine hard negatives from the BEIR ``folder`` into ``out``; returns the manifest.

    ``options``: every option of ``rankladder mine`` (``split``, ``method``, ``negatives_per_query``,
    ``range_max``, ``sampling``, ...: :class:`rankladder.dataset_builder.config.MineConfig`)."""
    from rankladder.dataset_builder.config import MineConfig
    from rankladder.dataset_builder.mining import mine as run_mine

    return run_mine(folder, out, config_from_options(MineConfig, options), overwrite=overwrite, progress=progress)


def train(out: str | Path, **options: Any) -> Path:
    """Fine-tune a retriever into ``out``; returns the model folder.

    ``options``: the fields of :class:`rankladder.training.config.TrainConfig` (``data``, ``loss``,
    ``group_size``, ``config`` (a YAML file under the keywords), ...) and the Trainer's own options
    (``max_steps``, ``learning_rate``, ...), named as ``rankladder train``'s flags."""
    from rankladder.training import trainer
    from rankladder.training.config import split_options

    return Path(trainer.run(*split_options({**options, "out": str(out)}, keywords=True)))


def evaluate(
    models: list[str] | str,
    tasks: list[str] | str,
    out: str | Path,
    names: list[str] | None = None,
    revisions: list[str] | None = None,
    overwrite: bool = False,
    loaded_models: dict | None = None,
    **options: Any,
) -> dict:
    """Evaluate models on tasks (mteb names, BEIR folders, built datasets) into ``out``; returns the summary.

    ``options``: the fields of :class:`rankladder.eval.config.EvalConfig` (``split``, ``bm25``,
    ``level_order``, ``batch_size``, ``embedding_cache``, ``save_predictions``, ``base``), named as
    ``rankladder eval``'s flags. ``names``/``revisions``: what to record for each model (``--name``,
    ``--revision``); ``loaded_models``: already loaded SentenceTransformers by model argument.
    """
    from rankladder.eval.config import EvalConfig
    from rankladder.eval.run import run

    tasks = [tasks] if isinstance(tasks, (str, Path)) else tasks
    config = config_from_options(EvalConfig, {"tasks": [str(t) for t in tasks], **options})
    return run(
        config,
        [str(models)] if isinstance(models, (str, Path)) else [str(m) for m in models],
        out,
        names=list(names or []),
        revisions=list(revisions or []),
        overwrite=overwrite,
        loaded_models=loaded_models,
    )


def publish(
    kind: str, folder: str | Path, repo_id: str, out: str | Path | None = None, overwrite: bool = False, **options: Any
) -> int:
    """Publish a ``dataset``, ``model`` or ``results`` folder to the Hub (or ``dry_run=True, out=DIR``); 0 when done.

    ``options``: the fields of that kind's config in :mod:`rankladder.model_cards.config`, named as the flags of
    ``rankladder publish KIND`` (``version``, ``license``, ``dry_run``, ``dataset_repo``, ``create_pr``, ...).
    """
    from rankladder.core.errors import UserError
    from rankladder.model_cards.config import PUBLISH_CONFIGS
    from rankladder.model_cards.publish import run

    if kind not in PUBLISH_CONFIGS:
        raise UserError(f"kind: expected one of {', '.join(PUBLISH_CONFIGS)}, got {kind!r}")
    config = config_from_options(PUBLISH_CONFIGS[kind], options)
    return run(kind, config, folder, repo_id, out=out, overwrite=overwrite)
