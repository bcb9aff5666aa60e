"""Summaries of result folders in mteb's ResultCache layout (``results/<model>/<revision>/<Task>.json``).

``collect(dirs)`` reads one or several eval output folders (or bare ``results`` folders) with mteb's
``TaskResult`` and returns the summary dict that ``summary.json`` holds::

    {"models": [{"name", "revision", "path"}],
     "tasks":  [{"name", "type": "Retrieval", "dataset": {"name", "path_or_repo", "revision", "split"}}],
     "scores": {model: {task: {"ndcg_at_10", "mrr_at_10", "recall_at_100", "main_score"}}},
     "mean":   {model: {metric: mean over the model's tasks, "n_tasks": n}},
     "level_order": {model: {task: {"mean_kendall_tau", "mean_ndcg", "n_lists", ...}}},
     "base": model, "delta_vs_base": {model: {task or "mean": {metric: score − base score}}},
     "dropped_tasks": [tasks left out because not every model has them]}

Rows: models sorted by mean nDCG@10 (best first), reference rows (BM25) last. The base model is the one
named by ``base`` (``--base``), else the first model given (the first ``--model``; with ``--compare``, the
first model of the first folder). Means and Δ are over the tasks every (non-reference) model has: when
the folders' task sets differ, the others are dropped and ``dropped_tasks`` names them.

``write_summary`` adds ``summary.md`` (one table per metric, with Δ vs base) and ``summary.png``
(nDCG@10 bars ×100 and Δ vs base, with its plotted numbers in ``summary.png.json``, see ``eval.plots``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import write_json_atomic, write_text_atomic
from rankladder.eval.plots import save_png_atomic  # noqa: F401 (re-exported: the study's plots use it)

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


def collect(dirs, base: str | None = None) -> dict:
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
    dropped = _keep_common_tasks(scores)
    mean = {}
    for key, per_task in scores.items():
        mean[key] = {m: _mean(s[m] for s in per_task.values()) for m in METRICS}
        mean[key]["n_tasks"] = len(per_task)
    base_key = _base_key(base, scores, models)
    scores = {key: scores[key] for key in _sorted_by_mean(scores, mean)}
    task_names = [t for t in tasks if any(t in s for s in scores.values())]
    return {
        "models": list(models.values()),
        "tasks": [tasks[t] for t in task_names],
        "scores": scores,
        "mean": mean,
        "level_order": level_order,
        "base": base_key,
        "delta_vs_base": _deltas(scores, mean, base_key),
        "dropped_tasks": dropped,
    }


def is_reference(key: str) -> bool:
    return key.split("@")[0] in REFERENCE_MODELS


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


def _sorted_by_mean(scores: dict, mean: dict) -> list[str]:
    """Best mean nDCG@10 first (ties keep the given order), reference rows last."""

    def rank(item):
        position, key = item
        value = mean[key]["ndcg_at_10"]
        return (is_reference(key), -value if not math.isnan(value) else math.inf, position)

    return [key for _, key in sorted(enumerate(scores), key=rank)]


def _keep_common_tasks(scores: dict) -> list[str]:
    """Drop, in place, the tasks that not every evaluated (non-reference) model has; returns them, sorted.

    Averaging different task sets side by side compares nothing; the BM25 reference row (local tasks
    only) does not narrow the set.
    """
    models = [per_task for key, per_task in scores.items() if not is_reference(key)] or list(scores.values())
    if not models:
        return []
    common = set.intersection(*(set(per_task) for per_task in models))
    dropped = sorted({t for per_task in scores.values() for t in per_task} - common)
    for per_task in scores.values():
        for task in dropped:
            per_task.pop(task, None)
    return dropped


def _base_key(base: str | None, scores: dict, models: dict) -> str | None:
    if base:
        matches = [k for k in scores if base in (k, models[k]["name"])]
        if not matches:
            raise UserError(f"--base: {base!r} is not among the models ({', '.join(scores)})")
        return matches[0]
    candidates = [k for k in scores if not is_reference(k)] or list(scores)
    return candidates[0] if candidates else None  # scores are in the given order here


def _deltas(scores: dict, mean: dict, base_key: str | None) -> dict:
    if base_key is None:
        return {}
    out = {}
    for key, per_task in scores.items():
        if key == base_key:
            continue
        row = {
            task: {m: values[m] - scores[base_key][task][m] for m in METRICS}
            for task, values in per_task.items()
            if task in scores[base_key]
        }
        # over the tasks both have (the BM25 row covers only local tasks)
        row["mean"] = {m: _mean(d[m] for d in row.values()) for m in METRICS}
        out[key] = row
    return out


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


# one line each on what the three nDCG figures a user meets measure (they differ on the same dev split)
CORPUS_NDCG_NOTE = (
    "nDCG@10 here: each query ranks the task's whole corpus (a built dataset's: every document of every split). "
    "`rankladder train`'s dev nDCG@10 ranks only the pooled dev-list documents, and the within-list nDCG below "
    "ranks each list's own documents, so the three differ."
)
LEVEL_ORDER_NOTE = (
    "Within-list nDCG: each graded list's own documents ranked by the model's score, gain = level, all ranks "
    "(not @10); mean Kendall τ: the same order against the levels."
)


def to_markdown(summary: dict) -> str:
    task_names = [t["name"] for t in summary["tasks"]]
    base = summary.get("base")
    lines = ["# Evaluation summary", ""]
    for metric in METRICS[:3]:
        lines += [
            f"## {LABELS[metric]}",
            "",
            "| model | " + " | ".join(task_names) + " | mean | Δ vs base |",
            "|---|" + "---:|" * (len(task_names) + 2),
        ]
        for key, per_task in summary["scores"].items():
            cells = [_fmt(per_task.get(t, {}).get(metric)) for t in task_names]
            lines.append(
                f"| {row_label(key, base)} | "
                + " | ".join(cells)
                + f" | {_fmt(summary['mean'][key][metric])} | {delta_cell(summary, key, metric)} |"
            )
        lines.append("")
    lines.append(
        "Scores ×100; mean over the tasks each model has; Δ = model − base on the tasks both have. "
        "Rows by mean nDCG@10, reference last. Computed by mteb (pytrec_eval)."
    )
    lines.append(CORPUS_NDCG_NOTE)
    if summary.get("dropped_tasks"):
        lines.append(f"Left out (not every model has them): {', '.join(summary['dropped_tasks'])}.")
    if summary.get("level_order"):
        lines += [
            "",
            "## Level order on graded dev lists",
            "",
            "| model | task | mean Kendall τ | within-list nDCG | lists |",
            "|---|---|---:|---:|---:|",
        ]
        for model, per_task in summary["level_order"].items():
            for task, m in per_task.items():
                lines.append(
                    f"| {model} | {task} | {_num(m['mean_kendall_tau'])} | {_num(m['mean_ndcg'])} | {m['n_lists']} |"
                )
        lines += ["", LEVEL_ORDER_NOTE]
    if summary.get("leaks"):  # scores on a split the model trained on (eval/leaks.py)
        from rankladder.eval.leaks import summary_line

        lines += ["", "## Not held out", "", summary_line(summary["leaks"]) + "."]
    return "\n".join(lines) + "\n"


def row_label(key: str, base: str | None) -> str:
    return f"{key} (reference)" if is_reference(key) else f"{key} (base)" if key == base else key


def delta_cell(summary: dict, key: str, metric: str = "ndcg_at_10", task: str = "mean") -> str:
    if key == summary.get("base"):
        return "base"
    value = summary.get("delta_vs_base", {}).get(key, {}).get(task, {}).get(metric)
    return "–" if value is None or math.isnan(value) else f"{100 * value:+.2f}"


def results_table(summary: dict, metric: str = "ndcg_at_10") -> str:
    """The closing summary's plain-text table: models × tasks ×100, the mean and Δ vs base."""
    task_names = [t["name"] for t in summary["tasks"]]
    header = ["model", *task_names, "mean", "Δ vs base"]
    rows = [
        [
            row_label(key, summary.get("base")),
            *(_fmt(per_task.get(t, {}).get(metric)) for t in task_names),
            _fmt(summary["mean"][key][metric]),
            delta_cell(summary, key, metric),
        ]
        for key, per_task in summary["scores"].items()
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([f"{LABELS[metric]} ×100", fmt(header), *map(fmt, rows)])


def _num(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _fmt(value) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}"


def plot_numbers(summary: dict, metric: str = "ndcg_at_10") -> dict:
    """What ``summary.png`` draws (its sidecar JSON): scores ×100 in row order, and Δ vs base ×100."""
    from rankladder.eval.plots import scaled

    groups = [t["name"] for t in summary["tasks"]] + ["mean"]
    base = summary.get("base")

    def role(key):
        return "reference" if is_reference(key) else "base" if key == base else "model"

    series = [
        {
            "model": key,
            "role": role(key),
            "values": [scaled(per_task.get(g, {}).get(metric)) for g in groups[:-1]]
            + [scaled(summary["mean"][key][metric])],
        }
        for key, per_task in summary["scores"].items()
    ]
    deltas = [
        {"model": key, "delta": scaled(summary["delta_vs_base"].get(key, {}).get("mean", {}).get(metric))}
        for key in summary["scores"]
        if key != base and key in summary.get("delta_vs_base", {})
    ]
    return {
        "title": f"{LABELS.get(metric, metric)} by model (×100), base: {base}",
        "metric": metric,
        "metric_label": LABELS.get(metric, metric),
        "scale": 100,
        "base": base,
        "groups": groups,
        "series": series,
        "delta_vs_base": deltas,
        "dropped_tasks": summary.get("dropped_tasks", []),
    }


def plot(summary: dict, path: Path, metric: str = "ndcg_at_10") -> None:
    from rankladder.eval.plots import plot_summary

    plot_summary(plot_numbers(summary, metric), Path(path))


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
