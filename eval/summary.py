"""Summaries of result folders in mteb's ResultCache layout (``results/<model>/<revision>/<Task>.json``).

``collect(dirs)`` reads one or several eval output folders (or bare ``results`` folders) with mteb's
``TaskResult`` and returns the summary dict that ``summary.json`` holds::

    {"models": [{"name", "revision", "path"}],
     "tasks":  [{"name", "type": "Retrieval", "dataset": {"name", "path_or_repo", "revision", "split"}}],
     "scores": {model: {task: {"ndcg_at_10", "mrr_at_10", "recall_at_100", "main_score"}}},
     "mean":   {model: {metric: mean over the model's tasks, "n_tasks": n}},
     "level_order": {model: {task: {"mean_kendall_tau", "mean_ndcg", "n_lists", ...}}}}

``write_summary`` adds ``summary.md`` (one table per metric) and ``summary.png`` (nDCG@10 bars).
"""

from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import write_json_atomic, write_text_atomic

METRICS = ("ndcg_at_10", "mrr_at_10", "recall_at_100", "main_score")
REFERENCE_MODELS = ("mteb/baseline-bm25s",)  # listed last and marked "(reference)" in summary.md
LABELS = {"ndcg_at_10": "nDCG@10", "mrr_at_10": "MRR@10", "recall_at_100": "Recall@100"}
MANIFEST = "eval_manifest.json"
LEVEL_ORDER = "level_order.json"


def _results_root(folder: Path) -> Path:
    if (folder / "results").is_dir():
        return folder / "results"
    if folder.is_dir():
        return folder
    raise UserError(f"{folder}: result folder not found")


def task_scores(task_result, splits=None) -> dict[str, float]:
    """Mean of each metric over the subsets (and splits) of one mteb ``TaskResult``."""
    entries = [e for split, rows in task_result.scores.items() if not splits or split in splits for e in rows]
    out = {}
    for metric in METRICS:
        values = [e[metric] for e in entries if metric in e]
        out[metric] = sum(values) / len(values) if values else math.nan
    return out


def collect(dirs) -> dict:
    from mteb.results import TaskResult

    models, tasks, scores, level_order = {}, {}, {}, {}
    given: list[str] = []  # model names in the order the runs listed them
    for folder in map(Path, dirs):
        if (folder / LEVEL_ORDER).is_file():
            for model, per_task in _read_json(folder / LEVEL_ORDER).items():
                level_order.setdefault(model, {}).update(per_task)
        root = _results_root(folder)
        manifest = _read_json(folder / MANIFEST) if (folder / MANIFEST).is_file() else {}
        paths = {(m["name"], m["revision"]): m.get("path") for m in manifest.get("models", [])}
        given += [m["name"] for m in manifest.get("models", []) if m["name"] not in given]
        for t in manifest.get("tasks", []):
            tasks.setdefault(t["name"], t)
        found = sorted(p for p in root.glob("*/*/*.json") if p.name != "model_meta.json")
        if not found:
            raise UserError(f"{root}: no mteb result files (<model>/<revision>/<Task>.json) found")
        for path in found:
            name, revision = _model_of(path.parent)
            key = name if models.get(name, {}).get("revision", revision) == revision else f"{name}@{revision}"
            models.setdefault(key, {"name": name, "revision": revision, "path": paths.get((name, revision))})
            try:
                result = TaskResult.from_disk(path)
            except Exception as exc:
                raise UserError(f"{path}: not an mteb TaskResult: {type(exc).__name__}") from exc
            split = tasks.get(result.task_name, {}).get("dataset", {}).get("split")
            scores.setdefault(key, {})[result.task_name] = task_scores(result, split.split(",") if split else None)
            tasks.setdefault(
                result.task_name,
                {
                    "name": result.task_name,
                    "type": "Retrieval",
                    "dataset": {
                        "name": result.task_name,
                        "path_or_repo": None,
                        "revision": result.dataset_revision,
                        "split": ",".join(result.scores),
                    },
                },
            )
    scores = {key: scores[key] for key in _row_order(scores, models, given)}
    mean = {}
    for key, per_task in scores.items():
        mean[key] = {m: _mean(s[m] for s in per_task.values()) for m in METRICS}
        mean[key]["n_tasks"] = len(per_task)
    task_names = [t for t in tasks if any(t in s for s in scores.values())]
    return {
        "models": list(models.values()),
        "tasks": [tasks[t] for t in task_names],
        "scores": scores,
        "mean": mean,
        "level_order": level_order,
    }


def _row_order(scores: dict, models: dict, given: list[str]) -> list[str]:
    """Evaluated models in the order given, then any others (sorted), the BM25 reference row last.

    Result folders are read in path order, which put ``mteb/baseline-bm25s`` above any model whose
    name sorts after "mteb/" (``sentence-transformers/...``): its number was read as the model's.
    """

    def rank(item):
        position, key = item
        name = models[key]["name"]
        return (name in REFERENCE_MODELS, given.index(name) if name in given else len(given), position)

    return [key for _, key in sorted(enumerate(scores), key=rank)]


def _read_json(path: Path) -> dict:
    """A JSON object from a results folder; a damaged file is one line naming it."""
    from rankladder.core.errors import UserError
    from rankladder.core.textio import read_text

    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object")
    return data


def _model_of(revision_dir: Path) -> tuple[str, str]:
    meta_file = revision_dir / "model_meta.json"
    if meta_file.is_file():
        meta = _read_json(meta_file)
        return meta.get("name") or revision_dir.parent.name.replace("__", "/"), meta.get(
            "revision"
        ) or revision_dir.name
    return revision_dir.parent.name.replace("__", "/"), revision_dir.name


def _mean(values) -> float:
    values = [v for v in values if not math.isnan(v)]
    return sum(values) / len(values) if values else math.nan


def to_markdown(summary: dict) -> str:
    task_names = [t["name"] for t in summary["tasks"]]
    lines = ["# Evaluation summary", ""]
    for metric in METRICS[:3]:
        lines += [
            f"## {LABELS[metric]}",
            "",
            "| model | " + " | ".join(task_names) + " | mean |",
            "|---|" + "---:|" * (len(task_names) + 1),
        ]
        for key, per_task in summary["scores"].items():
            cells = [_fmt(per_task.get(t, {}).get(metric)) for t in task_names]
            label = f"{key} (reference)" if key.split("@")[0] in REFERENCE_MODELS else key
            lines.append(f"| {label} | " + " | ".join(cells) + f" | {_fmt(summary['mean'][key][metric])} |")
        lines.append("")
    lines.append("Scores ×100; mean over the tasks each model has. Computed by mteb (pytrec_eval).")
    if summary.get("level_order"):
        lines += [
            "",
            "## Level order on graded dev lists",
            "",
            "| model | task | mean Kendall τ | nDCG of level order | lists |",
            "|---|---|---:|---:|---:|",
        ]
        for model, per_task in summary["level_order"].items():
            for task, m in per_task.items():
                lines.append(
                    f"| {model} | {task} | {_num(m['mean_kendall_tau'])} | {_num(m['mean_ndcg'])} | {m['n_lists']} |"
                )
    return "\n".join(lines) + "\n"


def _num(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _fmt(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def plot(summary: dict, path: Path, metric: str = "ndcg_at_10") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [t["name"] for t in summary["tasks"]] + ["mean"]
    keys = list(summary["scores"])
    width = 0.8 / max(1, len(keys))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(groups) * max(1, len(keys)) ** 0.5 + 2), 3.8))
    for i, key in enumerate(keys):
        values = [summary["scores"][key].get(g, {}).get(metric, math.nan) for g in groups[:-1]]
        values.append(summary["mean"][key][metric])
        ax.bar(np.arange(len(groups)) + (i - (len(keys) - 1) / 2) * width, values, width, label=key)
    ax.set_xticks(np.arange(len(groups)), groups, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_png_atomic(fig, path)
    plt.close(fig)


def save_png_atomic(fig, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.png")
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def write_summary(summary: dict, out_dir: Path) -> dict[str, Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"json": out_dir / "summary.json", "markdown": out_dir / "summary.md", "plot": out_dir / "summary.png"}
    write_json_atomic(files["json"], jsonable(summary))
    write_text_atomic(files["markdown"], to_markdown(summary))
    plot(summary, files["plot"])
    return files


def jsonable(obj):
    """NaN → None so that summary.json is strict JSON."""
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [jsonable(v) for v in obj]
    return obj
