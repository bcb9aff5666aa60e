"""The closing summary of ``rankladder quickstart`` / ``rankladder run``: did fine-tuning help, by how much,
on which data, and where everything is. Read back from the release's files (``OUT/eval/summary.json``, the
model manifest), so a re-run that skipped every stage prints the same summary."""

from __future__ import annotations

import json
from pathlib import Path

from rankladder.core.console import written
from rankladder.steps import summary_line

METRIC, METRIC_LABEL = "ndcg_at_10", "nDCG@10"


def _is_reference(name: str) -> bool:
    return "bm25" in name.lower()


def _score(scores: dict, model: str | None, task: str) -> float | None:
    """nDCG@10 ×100 of a model on a task; None when not evaluated (absent or NaN)."""
    value = scores.get(model, {}).get(task, {}).get(METRIC) if model else None
    return None if value is None or value != value else float(value) * 100


def comparisons(summary: dict, tuned: str, dataset_dir: str) -> list[dict]:
    """Per evaluated task: base, fine-tuned and BM25 nDCG@10 (×100) and the difference fine-tuned − base."""
    scores = summary.get("scores", {})
    if tuned not in scores:
        return []
    base = next((m for m in scores if m != tuned and not _is_reference(m)), None)
    reference = next((m for m in scores if _is_reference(m)), None)
    out = []
    for task in summary.get("tasks", []):
        name = task["name"]
        path = (task.get("dataset") or {}).get("path_or_repo") or ""
        synthetic = bool(path) and Path(path).resolve() == Path(dataset_dir).resolve()

        row = {"task": name, "label": "synthetic dev split" if synthetic else Path(path).name or name}
        row.update(
            synthetic=synthetic,
            base=_score(scores, base, name),
            tuned=_score(scores, tuned, name),
            bm25=_score(scores, reference, name),
        )
        row["delta"] = row["tuned"] - row["base"] if row["tuned"] is not None and row["base"] is not None else None
        out.append(row)
    return sorted(out, key=lambda r: r["synthetic"])  # real collections first: they are the test that counts


def verdict(rows: list[dict]) -> str:
    """One plain sentence: beat the base or not, by how much, on the collection that matters most."""
    compared = [r for r in rows if r["delta"] is not None]
    if not compared:
        return "base model not evaluated (eval.include_base: false): no comparison"
    row = compared[0]
    kind = "the real collection " if not row["synthetic"] else "the "
    if abs(row["delta"]) < 0.05:
        outcome = "tied with"
    else:
        outcome = "beat" if row["delta"] > 0 else "did NOT beat"
    return (
        f"the fine-tuned model {outcome} the base on {kind}{row['label']}: {METRIC_LABEL} "
        f"{row['base']:.1f} → {row['tuned']:.1f} ({row['delta']:+.1f})"
    )


def score_row(row: dict) -> str:
    def fmt(value):
        return "–" if value is None else f"{value:.1f}"

    text = f"{METRIC_LABEL} base {fmt(row['base'])} → fine-tuned {fmt(row['tuned'])}"
    if row["delta"] is not None:
        text += f" ({row['delta']:+.1f})"
    if row["bm25"] is not None:
        text += f" · BM25 {fmt(row['bm25'])}"
    return text


def summary_rows(release: dict, out: Path, notes=()) -> tuple[list[tuple[str, str]], list[str]]:
    results = Path(release["results"]["path"])
    summary_file = results / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    rows_by_task = comparisons(summary, release["model"]["repo"], release["dataset"]["path"])
    rows: list[tuple[str, str]] = [("result", verdict(rows_by_task))]
    rows += [(r["label"], score_row(r)) for r in rows_by_task]
    rows += [("note", note) for note in notes]
    model_dir = Path(release["model"]["path"])
    manifest_path = model_dir / "rankladder_train_manifest.json"
    if manifest_path.is_file():
        from rankladder.training.summary import dev_row

        model = json.loads(manifest_path.read_text(encoding="utf-8"))
        losses = [e["loss"] for e in model.get("train_log", []) if "loss" in e]
        steps = model.get("final_metrics", {}).get("global_step")
        training = f"{model['loss']['name']} loss, {steps} steps"
        if len(losses) > 1:
            training += f", loss {losses[0]:.4f} → {losses[-1]:.4f} (first → last logged step)"
        elif losses:
            training += f", loss {losses[0]:.4f}"
        rows.append(("training", training))
        rows.append(("dev in training", dev_row(model)))
    agreement = release.get("stages", {}).get("build", {}).get("details", {}).get("agreement")
    if agreement:
        rows.append(
            (
                "judge",
                f"weighted kappa {agreement['kappa_quadratic']}, exact agreement {agreement['exact_agreement']} "
                f"vs the intended levels (labels used: {agreement['labels']}; see the dataset card)",
            )
        )
    rows.append(("steps", summary_line(out)))
    wrote = [
        written(release["dataset"]["path"], f"dataset v{release['version']}"),
        written(model_dir, "fine-tuned model"),
        written(results, "summary.md · summary.png"),
        written(release["release_folder"], "dry-run folders for the Hub" if release["dry_run"] else "published"),
        str(out / "release.json"),
    ]
    curve = model_dir / "training_curve.png"
    if curve.is_file():
        wrote.insert(2, f"{curve} (loss and dev nDCG per step)")
    rows.append(("wrote", "\n".join(wrote)))
    next_steps = [
        f"open {results / 'summary.md'} (every metric) and {results / 'summary.png'}",
        f"rankladder eval --model {model_dir} --tasks BEIR_FOLDER --out {out / 'eval-more'}",
    ]
    if release["dry_run"]:
        next_steps.append("publish for real: set publish.dry_run: false in a release YAML, then rankladder run")
    return rows, next_steps
