"""``rankladder eval``: models × tasks through ``mteb.evaluate``, written in mteb's ResultCache layout.

OUTPUT_DIR after a run (written in a temp folder, renamed when complete)::

    results/<model>/<revision>/<Task>.json   mteb TaskResult files (+ model_meta.json), leaderboard-ready
    summary.json · summary.md · summary.png  nDCG@10, MRR@10, Recall@100 per task and the mean, Δ vs base
    summary.png.json                         the numbers summary.png draws (×100), see eval.plots
    level_order.json · level_order/*.png     graded-list diagnostics (built datasets only; each PNG + .json)
    predictions/<model>/<Task>_predictions.json   mteb's runs (with save_predictions)
    eval_manifest.json                       models, tasks, input revisions, tool versions

The BM25 reference row (mteb's ``mteb/baseline-bm25s``, i.e. the ``bm25s`` library) is added on
local tasks, scored by the same mteb code as the models.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from pathlib import Path

from rankladder.core.config import dump
from rankladder.core.errors import UserError
from rankladder.core.fsutil import atomic_output_dir, check_replaceable, check_writable, write_json_atomic
from rankladder.core.locks import hold_output
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.eval.config import EvalConfig

logger = logging.getLogger(__name__)

BM25_MODEL = "mteb/baseline-bm25s"
# Embedding caches live under EMBEDDING_DIR/<CACHE_LAYOUT>/<model>. mteb keys a cached vector by the
# text it was asked for, so vectors written before documents were handed over pre-joined (they were
# encoded from "title title text", see eval.task_common.joined_corpus) sit under the right keys;
# a new folder name keeps them from being reused. Under the model's name, one folder per revision (a local
# folder's content hash): a model retrained in place would otherwise be scored with the old model's vectors.
CACHE_LAYOUT = "joined-v2"
CACHE_WAIT_SECONDS = 900.0  # another eval filling the same model's cache: wait for it rather than fail


def embedding_cache_dir(root: str | Path, name: str, revision: str | None) -> Path:
    """Where one model's vectors are cached under ``--embedding-cache``: per name and revision (a model
    retrained in place keeps its name; its old vectors must not be reused)."""
    revision = re.sub(r"[^\w.-]+", "_", revision or "unknown")
    return Path(root) / CACHE_LAYOUT / name.replace("/", "__").replace(" ", "_") / revision


def run(
    config: EvalConfig,
    models: list[str],
    out: str | Path,
    names: list[str] = (),
    revisions: list[str] = (),
    overwrite: bool = False,
    loaded_models: dict | None = None,
) -> dict:
    """Evaluate ``models`` as ``config`` says, into ``out``; returns the summary (``summary.json``'s content).

    The one entry of the eval stage (``rankladder eval``, ``rankladder.evaluate``, the release and the
    study call it). ``names``/``revisions`` are aligned with ``models`` (``""``: the default);
    ``loaded_models`` maps a model argument to an already loaded SentenceTransformer."""
    out = str(out)
    # first: a second writer of this folder, or one that cannot be written, is refused before any loading
    with hold_output(out):
        if Path(out).exists() and not overwrite:
            raise UserError(f"{out}: output folder already exists (pass --overwrite / overwrite=True to replace it)")
        from rankladder.eval.summary import MANIFEST

        check_replaceable(out, MANIFEST)  # --overwrite replaces earlier results, never a model or a dataset
        if config.embedding_cache:  # a file or a read-only place failed only after the model had loaded
            cache = Path(config.embedding_cache)
            if cache.exists() and not cache.is_dir():
                raise UserError(f"{cache}: --embedding-cache exists and is not a folder")
            check_writable(cache / "x")
        return _run(config, list(models), out, list(names), list(revisions), overwrite, loaded_models)


def _run(
    config: EvalConfig,
    models: list[str],
    out: str,
    names: list[str],
    revisions: list[str],
    overwrite: bool,
    loaded_models: dict | None,
) -> dict:
    import mteb

    from rankladder.core.logs import unswitchable_bars_hidden
    from rankladder.eval import leaks
    from rankladder.eval import summary as summ
    from rankladder.eval.models import load_encoder, resolve_model
    from rankladder.eval.progress import corpus_sizes, quiet_third_party
    from rankladder.eval.tasks import ensure_loaded, resolve_tasks

    if not models:
        raise UserError("models (--model): give at least one model")
    if len(names) > len(models) or len(revisions) > len(models):
        raise UserError("names/revisions (--name/--revision): more values than models (--model entries)")
    specs = [resolve_model(m, _at(names, i), _at(revisions, i)) for i, m in enumerate(models)]
    names = [s.name for s in specs]
    if len(set(names)) < len(names):
        raise UserError(
            f"--model: two models would be recorded as the same name ({', '.join(names)}); give each its own --name"
        )
    preloaded = dict(loaded_models or {})  # keyed by the --model argument or its resolved path
    for spec, arg in zip(specs, models):
        preloaded.setdefault(spec.path, preloaded.get(arg))
    resolved = resolve_tasks(config.tasks, config.split)
    if not resolved:
        raise UserError("tasks (--tasks): give at least one task")
    tasks = [t for t, _ in resolved]
    sources = {s.name: s for _, s in resolved}

    with atomic_output_dir(out, overwrite=overwrite, replaces=summ.MANIFEST) as tmp, quiet_third_party():
        sizes = {}
        for task, source in resolved:
            ensure_loaded(task, source)
            sizes.update(corpus_sizes(task))
        cache = mteb.ResultCache(tmp)
        timings, level_rows = {}, {}
        for spec in specs:
            start = time.monotonic()
            # behind the cache only uncached documents reach the encoder: then each call gets its own bar total
            encoder = load_encoder(
                spec, preloaded.get(spec.path), None if config.embedding_cache else sizes, config.max_seq_length
            )
            model, cache_lock = encoder, contextlib.nullcontext()
            if config.embedding_cache:
                from mteb.models.cache_wrappers import CachedEmbeddingWrapper

                cache_dir = embedding_cache_dir(config.embedding_cache, spec.name, spec.revision)
                # mteb's NumpyCache rewrites its index and vector rows in place: two evals writing one model's
                # cache at once leave vectors under other texts' keys, read back silently by the next eval
                cache_lock = hold_output(cache_dir, wait=CACHE_WAIT_SECONDS)
                model = CachedEmbeddingWrapper(encoder, cache_dir)
            try:
                with cache_lock:
                    _evaluate(mteb, model, tasks, cache, config, tmp / "predictions" / spec.name.replace("/", "__"))
            finally:
                encoder.close_bars()
            if config.level_order:
                for task, source in resolved:
                    if source.kind == "built":
                        level_rows.setdefault(spec.name, {})[source.name] = _level_order(
                            encoder.model, task, tmp / "level_order", spec.name, config.batch_size
                        )
            timings[spec.name] = round(time.monotonic() - start, 2)
        local = [t for t, s in resolved if s.kind in ("beir", "built")]
        if config.bm25 and local:
            start = time.monotonic()
            with unswitchable_bars_hidden():  # mteb runs bm25s with its "Split strings"/"BM25S Retrieve" bars on
                _evaluate(mteb, mteb.get_model_meta(BM25_MODEL), local, cache, config, tmp / "predictions" / "bm25")
            timings[BM25_MODEL] = round(time.monotonic() - start, 2)
        for task in tasks:
            task.unload_data()

        found_leaks = leaks.leaks(specs, sources.values())
        task_entries = [
            {
                "name": s.name,
                "type": "Retrieval",
                "dataset": {"name": s.name, "path_or_repo": s.path_or_repo, "revision": s.revision, "split": s.split},
            }
            for s in sources.values()
        ]
        bm25_entry = [{"name": BM25_MODEL, "revision": mteb.get_model_meta(BM25_MODEL).revision, "path": None}]
        manifest = {
            "kind": "rankladder-eval",
            "created": utc_now(),
            "config": {**dump(config), "models": models, "names": names, "revisions": revisions},
            "models": [s.to_dict() for s in specs] + (bm25_entry if config.bm25 and local else []),
            "tasks": task_entries,
            "inputs": [{"kind": "model", "path_or_repo": s.path, "revision": s.revision} for s in specs]
            + [{"kind": "task", "path_or_repo": s.path_or_repo, "revision": s.revision} for s in sources.values()],
            "timings_s": timings,
            "leaks": found_leaks,
            "tool_versions": tool_versions(),
        }
        write_json_atomic(tmp / summ.MANIFEST, manifest)
        if level_rows:
            write_json_atomic(tmp / summ.LEVEL_ORDER, summ.jsonable(level_rows))
        summary = summ.collect([tmp], base=config.base)
        summary["leaks"] = found_leaks  # scores on a split the model trained on are not held out
        summ.write_summary(summary, tmp)
    return summary


def _evaluate(mteb, model, tasks, cache, config: EvalConfig, prediction_folder: Path) -> None:
    result = mteb.evaluate(
        model,
        tasks,
        cache=cache,
        overwrite_strategy="always",
        co2_tracker=False,
        # show_progress_bar=False hides mteb's frozen "Searching corpus chunks" bar; the encoder shows its own
        encode_kwargs={"batch_size": config.batch_size, "show_progress_bar": False},
        show_progress_bar=False,
        prediction_folder=prediction_folder if config.save_predictions else None,
    )
    if result.exceptions:
        raise UserError("; ".join(f"task {e.task_name}: {e.exception}" for e in result.exceptions))


def _level_order(st_model, task, out_dir: Path, model_name: str, batch_size: int = 32) -> dict:
    """Score each graded dev list with the model; mean Kendall τ / nDCG and a per-level PNG."""
    from rankladder.core.metrics import score_lists
    from rankladder.eval.level_order import level_order_metrics, plot_level_distributions, scores_by_level

    lists = task.load_lists()
    scores = score_lists(st_model, lists, batch_size)
    pairs = [(list_scores.tolist(), list(row["levels"])) for list_scores, row in zip(scores, lists)]
    metrics = level_order_metrics(pairs)
    out_dir.mkdir(exist_ok=True)
    png = out_dir / f"{task.metadata.name}__{model_name.replace('/', '__')}.png"
    plot_level_distributions(scores_by_level(pairs), png, f"{model_name} on {task.metadata.name} (dev lists)")
    metrics["plot"] = str(png.relative_to(out_dir.parent))
    return metrics


def _at(values: list[str], i: int) -> str | None:
    return values[i] if i < len(values) and values[i] else None


def compare(dirs: list[str], output_dir: str | None, base: str | None = None, overwrite: bool = False) -> dict:
    """``rankladder eval --compare DIR...``: one table from existing result folders, no model runs.

    When the folders' task sets differ, one line on stderr says so and the table keeps the tasks every
    model has (``summary["dropped_tasks"]`` names the others). ``output_dir`` follows the output rule: a folder
    of its own, written atomically; an existing one only with ``overwrite`` and only an earlier table (never a
    result folder: its summary.json describes its own models)."""
    import sys

    from rankladder.eval import summary as summ

    if output_dir:
        if (Path(output_dir) / summ.MANIFEST).is_file():
            raise UserError(
                f"{output_dir}: --out is a result folder of `rankladder eval` (its summary describes its own "
                "models); write the comparison into a folder of its own"
            )
        if Path(output_dir).exists() and not overwrite:
            raise UserError(f"{output_dir}: output folder already exists (pass --overwrite to replace it)")
        check_replaceable(output_dir, "summary.json")

    summary = summ.collect(dirs, base=base)
    if summary["dropped_tasks"]:
        kept = ", ".join(t["name"] for t in summary["tasks"]) or "none"
        print(
            f"warning: the result folders' task sets differ; comparing on the tasks every model has ({kept}), "
            f"leaving out {', '.join(summary['dropped_tasks'])}",
            file=sys.stderr,
        )
    if output_dir:
        with atomic_output_dir(output_dir, overwrite=overwrite, replaces="summary.json") as tmp:
            summ.write_summary(summary, tmp)
    return summary
