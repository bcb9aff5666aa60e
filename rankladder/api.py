"""The Python API: the CLI's stages as functions, for notebooks and scripts.

Each function takes the same options as its subcommand (underscored: ``dev_fraction``, not
``--dev-fraction``), validates them through the same typed config before any work, and returns what
was written. Bad options raise :class:`rankladder.core.errors.UserError` with the same one-line message
the CLI prints.

>>> import rankladder
>>> run = rankladder.generate("runs/demo", queries={"limit": 3}, max_new_tokens=96)
>>> dataset = rankladder.build([run], "datasets/demo", version="0.1.0", dev_fraction=0.25)
>>> model = rankladder.train("models/demo", data=str(dataset), max_steps=20)
>>> summary = rankladder.evaluate([str(model)], [str(dataset)], "results/demo")
>>> rankladder.publish("dataset", dataset, "me/demo-graded", version="0.1.0", dry_run=True, out="release/ds")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rankladder.core.cli_model import config_from_options
from rankladder.core.config import validate_flags as _validate


def generate(
    out: str | Path,
    queries: str | dict[str, Any] | None = None,
    shard: str | None = None,
    progress: bool = True,
    retry_rejected: bool = False,
    **options: Any,
) -> Path:
    """Write graded documents into RUN_DIR ``out`` (resumed if it exists); returns ``out``.

    ``retry_rejected``: also try again the documents earlier runs gave up on (``--retry-rejected``).
    Raises ``RuntimeError`` when every document of the shard was given up (the command exits 1);
    the shard manifest's ``counts.rejected_keys_by_reason`` says why.

    ``queries``: a path (JSONL/TSV/BEIR folder/HF dataset) or a mapping of query options (``source``,
    ``limit``, ``seed``, ...; default: the bundled queries). ``options``: the generation options
    (``backend``, ``backend_options``, ``levels``, ``prompt_mode``, ``max_new_tokens``, ``batch_size``, ...).
    """
    from rankladder.dataset_builder.backends import create_backend
    from rankladder.dataset_builder.config import GenerationConfig, QueriesConfig, generate_config
    from rankladder.dataset_builder.generate import generate_run, parse_shard
    from rankladder.dataset_builder.queries import QuerySpec, load_queries

    query_options = {"source": queries} if isinstance(queries, (str, Path)) else dict(queries or {})
    query_options["source"] = str(query_options["source"]) if query_options.get("source") else None
    spec = QuerySpec(**_validate(QueriesConfig, query_options).model_dump())
    config = generate_config(_validate(GenerationConfig, options))
    shard_index = parse_shard(shard)
    loaded, source = load_queries(spec)
    manifest = generate_run(
        out,
        loaded,
        config,
        lambda: create_backend(config.backend, **config.backend_options),
        shard=shard_index,
        query_source=source,
        progress=progress,
        retry_rejected=retry_rejected,
    )
    counts = manifest["counts"]
    if counts["rejected_keys"] and not counts["records_all_runs"]:
        reasons = ", ".join(f"{r} {n}" for r, n in counts.get("rejected_keys_by_reason", {}).items())
        raise RuntimeError(
            f"{out}: every one of {counts['rejected_keys']} documents was given up ({reasons}); "
            "retry with retry_rejected=True or change the settings"
        )
    return Path(out)


def build(
    run_dirs: list[str | Path] | str | Path,
    out: str | Path,
    version: str,
    overwrite: bool = False,
    name: str | None = None,
    separability: str | bool | None = None,
    **options: Any,
) -> Path:
    """Merge RUN_DIRs into the versioned dataset folder ``out``; returns ``out``.

    ``options``: ``dev_fraction``, ``seed``, ``select_by_similarity``, ``labels``, ``max_disagreement``,
    ``allow_degenerate_labels``, ``merge`` (see ``rankladder build --help``).
    """
    from rankladder.dataset_builder.build import build_dataset
    from rankladder.dataset_builder.config import BuildConfig

    runs = [run_dirs] if isinstance(run_dirs, (str, Path)) else list(run_dirs)
    config = _validate(BuildConfig, options)
    build_dataset(
        [str(r) for r in runs],
        out,
        version,
        config.dev_fraction,
        config.seed,
        overwrite=overwrite,
        name=name,
        separability_model=separability,
        select_model=config.select_by_similarity,
        labels=config.labels,
        max_disagreement=config.max_disagreement,
        allow_degenerate_labels=config.allow_degenerate_labels,
        merge_rule=config.merge,
    )
    return Path(out)


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


def judge(run_dir: str | Path, progress: bool = True, **options: Any) -> Path:
    """Grade every kept document of RUN_DIR ``run_dir`` with a judge model (resumed if begun); returns ``run_dir``.

    ``options``: ``backend`` and ``backend_options`` (default: the generator's), ``prompt_template``,
    ``max_new_tokens``, ``logprobs``, ``batch_size`` (see ``rankladder judge --help``).
    """
    from rankladder.dataset_builder.backends import create_backend
    from rankladder.dataset_builder.backends.base import SamplingConfig
    from rankladder.dataset_builder.config import JudgeOptions
    from rankladder.dataset_builder.judge import JudgeConfig, generator_backend, judge_run, load_judge_template

    checked = _validate(JudgeOptions, options)
    backend, backend_options = generator_backend(Path(run_dir))
    if checked.backend:
        backend, backend_options = checked.backend, {}
    backend_options.update(checked.backend_options)
    config = JudgeConfig(
        template=load_judge_template(checked.prompt_template),
        sampling=SamplingConfig(0.0, 1.0, checked.max_new_tokens, 0),
        logprobs=checked.logprobs or None,
        batch_size=checked.batch_size,
        backend=backend,
        backend_options=backend_options,
    )
    judge_run(run_dir, config, lambda: create_backend(backend, **backend_options), progress=progress)
    return Path(run_dir)


def mine(
    collection: str | Path, out: str | Path, overwrite: bool = False, progress: bool = True, **options: Any
) -> Path:
    """Mine hard negatives for a BEIR folder's judged queries into ``out``; returns ``out``.

    ``options``: ``method``, ``negatives_per_query``, ``split``, ``model``, ... (see ``rankladder mine --help``).
    """
    from dataclasses import fields

    from rankladder.core.errors import UserError
    from rankladder.dataset_builder.mining import MineOptions
    from rankladder.dataset_builder.mining import mine as mine_negatives

    unknown = sorted(set(options) - {f.name for f in fields(MineOptions)})
    if unknown:
        raise UserError(f"{unknown[0]}: unknown option")
    mine_negatives(collection, out, MineOptions(**options), overwrite=overwrite, progress=progress)
    return Path(out)
