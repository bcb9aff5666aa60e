"""Plots people can paste: ×100 scale like every table, a title, axis labels, the legend outside the data.

Every PNG is written with a sidecar JSON beside it, named after the PNG plus ``.json``
(``summary.png`` → ``summary.png.json``), holding exactly the numbers drawn, so a figure can be checked
or redrawn without reading pixels (``summary.json`` and ``study.json`` keep their own, fuller content).
"""

from __future__ import annotations

import math
import os
import uuid
from pathlib import Path

from rankladder.core.fsutil import write_json_atomic

SCALE = 100  # every table and plot shows scores ×100
BASE_COLOR, REFERENCE_COLOR = "#7f7f7f", "#c7c7c7"


def sidecar_path(png: str | os.PathLike) -> Path:
    png = Path(png)
    return png.with_name(png.name + ".json")


def save_png_atomic(fig, path: str | os.PathLike, numbers: dict | None = None) -> None:
    """Save ``fig`` (temp file + rename) and, when given, the plotted ``numbers`` as its sidecar JSON."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.png")
    fig.savefig(tmp, dpi=100, bbox_inches="tight")
    os.replace(tmp, path)
    if numbers is not None:
        write_json_atomic(sidecar_path(path), _strict(numbers))


def scaled(value) -> float | None:
    """A 0–1 score on the ×100 scale (None for a missing or NaN value), rounded for the sidecar."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(SCALE * value, 4)


def _strict(obj):
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    return obj


def plot_summary(numbers: dict, path: Path) -> None:
    """Grouped bars (models × tasks + mean) on the left; Δ mean vs the base model on the right.

    ``numbers`` is the sidecar content (see ``eval.summary.plot_numbers``): already ×100 and in row order.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups, series, deltas = numbers["groups"], numbers["series"], numbers["delta_vs_base"]
    width = 0.8 / max(1, len(series))
    fig, (left, right) = plt.subplots(
        1,
        2,
        figsize=(max(6.0, 1.1 * len(groups) * max(1, len(series)) ** 0.5 + 3.5) + 4.0, 4.0),
        gridspec_kw={"width_ratios": [max(2.0, 0.9 * len(groups)), 1.6]},
        layout="constrained",
    )
    x = np.arange(len(groups))
    for i, row in enumerate(series):
        values = [np.nan if v is None else v for v in row["values"]]
        color = BASE_COLOR if row["role"] == "base" else REFERENCE_COLOR if row["role"] == "reference" else None
        label = row["model"] + {"base": " (base)", "reference": " (reference)"}.get(row["role"], "")
        left.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label, color=color)
    left.set_xticks(x, groups, rotation=20, ha="right", fontsize=8)
    left.set_xlabel("task")
    left.set_ylabel(f"{numbers['metric_label']} ×100")
    left.set_ylim(0, 100)
    left.set_title(f"{numbers['metric_label']} per task (×100)", fontsize=10)
    left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=min(3, len(series)), frameon=False)
    labels = [d["model"] for d in deltas]
    values = [np.nan if d["delta"] is None else d["delta"] for d in deltas]
    draw_deltas(right, labels, values, f"Δ mean {numbers['metric_label']} ×100", f"vs base {numbers['base']}")
    fig.suptitle(numbers["title"], fontsize=11)
    save_png_atomic(fig, path, numbers)
    plt.close(fig)


def draw_deltas(ax, labels, values, xlabel: str, title: str, errors=None) -> None:
    """Horizontal Δ bars around a zero line (blue gains, red losses), each labelled with its value."""
    import numpy as np

    y = np.arange(len(labels))
    if not labels:
        ax.text(0.5, 0.5, "one model: nothing to compare", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=9)
        return
    clean = [0.0 if v is None or np.isnan(v) else v for v in values]
    ax.barh(
        y,
        clean,
        height=0.5,
        xerr=errors,
        capsize=3 if errors is not None else 0,
        color=["#4c72b0" if v >= 0 else "#c44e52" for v in clean],
    )
    span = max([abs(v) + (e or 0) for v, e in zip(clean, errors or [0] * len(clean))] + [0.5]) * 1.35
    ax.set_xlim(-span, span)
    ax.set_ylim(len(labels) - 0.4, -0.6)  # first row on top, bars keep their height with few rows
    for yy, v, e in zip(y, clean, errors or [0] * len(clean)):  # the value just past the error bar
        ax.text(v + (e if v >= 0 else -e), yy, f" {v:+.2f} ", va="center", ha="left" if v >= 0 else "right", fontsize=7)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
