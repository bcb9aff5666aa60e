"""``train``'s closing summary, read back from the model folder's manifest (the pipeline shows it too)."""

from __future__ import annotations

import json
import math
import shlex
from pathlib import Path

from rankladder.core.console import human_duration, written
from rankladder.training.curve import CURVE_PNG
from rankladder.training.provenance import MANIFEST_FILE


def _x100(value) -> str:
    return f"{float(value) * 100:.1f}"


# what the training dev nDCG@10 measures, and why `rankladder eval` on the same split gives another number
POOLED_NDCG_NOTE = (
    "pooled {split} lists, ×100 for nDCG: each held-out query ranks all {split}-list documents; "
    "`rankladder eval` ranks the whole corpus"
)


def dev_row(manifest: dict) -> str:
    """``nDCG@10 91.2 → 93.5 (+2.3) · Kendall τ 0.81 → 0.85`` (before → after when evaluated before training)."""
    final, initial = manifest.get("final_metrics", {}), manifest.get("initial_metrics", {})
    parts = []
    for metric, label, fmt in (("ndcg@10", "nDCG@10", _x100), ("kendall_tau", "Kendall τ", lambda v: f"{v:.3f}")):
        key = next((k for k in final if k.endswith(f"_{metric}")), None)
        if key is None:
            continue
        after = final[key]
        if key in initial:
            delta = float(after) - float(initial[key])
            delta_text = f"{delta * 100:+.1f}" if metric == "ndcg@10" else f"{delta:+.3f}"
            parts.append(f"{label} {fmt(initial[key])} → {fmt(after)} ({delta_text})")
        else:
            parts.append(f"{label} {fmt(after)}")
    if not parts:
        return ""
    split = next((k for k in final if k.endswith("_ndcg@10")), "dev_").split("_")[0]
    return " · ".join(parts) + f" ({POOLED_NDCG_NOTE.format(split=split)})"


def label_policy_row(manifest: dict) -> str:
    """What a label policy dropped, and lists a loss learns nothing from (``data_checks`` in the manifest)."""
    checks = manifest.get("data_checks") or {}
    parts = [
        f"{r['label_policy']} dropped {r['documents_dropped']} of {r['documents_read']} documents "
        f"({r['lists_emptied']} lists emptied, {r['lists_left_with_one_document']} left with one document)"
        for r in checks.get("label_policy", [])
    ]
    lists = checks.get("train_lists") or {}
    if lists.get("single_label_lists"):
        parts.append(
            f"{lists['single_label_lists']} of {lists['lists']} training lists have one label only "
            f"({lists['one_document_lists']} of one document)"
        )
    return " · ".join(parts)


def summary_rows(output_dir: str | Path) -> list[tuple[str, str]]:
    output_dir = Path(output_dir)
    manifest = json.loads((output_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    final = manifest.get("final_metrics", {})
    targs = manifest.get("training_args", {})
    losses = [e["loss"] for e in manifest.get("train_log", []) if "loss" in e]
    epochs = final.get("epoch")
    steps = f"{final.get('global_step', '?')} steps"
    if epochs:
        steps += f" · {epochs:.2g} epochs"
    steps += f" · {manifest['group']['train_queries']} training lists of {manifest['group']['size']} documents"
    loss = f"{manifest['loss']['name']}: {losses[0]:.4f} → {losses[-1]:.4f}" if losses else ""
    if len(losses) == 1:
        loss = f"{manifest['loss']['name']}: {losses[0]:.4f}"
    if loss:
        every = float(targs.get("logging_steps") or 1)
        if every < 1:  # a ratio of the run, as the Trainer resolves it
            every = math.ceil(int(final.get("global_step") or 0) * every)
        loss += f" (first → last logged, every {int(every)} step{'s' if every != 1 else ''})"
    curve = output_dir / CURVE_PNG
    rows = [
        ("wrote", written(output_dir, "model · card · config · manifest · training curve")),
        ("trained", steps),
        ("loss", loss),
        ("dev", dev_row(manifest)),
        ("labels", label_policy_row(manifest)),
        ("time", human_duration(manifest["train_seconds"]) + " training" if "train_seconds" in manifest else ""),
        ("curve", str(curve) if curve.is_file() else ""),
    ]
    return rows


def next_steps(output_dir: str | Path, manifest_path: Path | None = None) -> list[str]:
    output_dir = Path(output_dir)
    manifest = json.loads((manifest_path or output_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    dataset = manifest.get("dataset") or {}
    data = dataset.get("path_or_repo") or (manifest.get("sources") or [{}])[0].get("path", "")
    if data and dataset.get("revision") and "@" not in str(data):  # a pinned input stays pinned
        data = f"{data}@{dataset['revision']}"
    results = output_dir.with_name(output_dir.name + "-eval")
    evaluate = f"rankladder eval --model {shlex.quote(str(output_dir))}"
    if data:
        evaluate += f" --tasks {shlex.quote(str(data))}"
    return [f"{evaluate} --out {shlex.quote(str(results))}"]
