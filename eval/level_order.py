"""Does a model order a graded list the way its levels do? (torch-free; reused by the loss study)

A *graded list* is one query with documents and integer levels (higher = more relevant, 0 =
unrelated), as in the ``lists`` config of a built dataset. Given the model's score for each
document we report:

- ``kendall_tau(scores, levels)``: Kendall's τ-b between scores and levels (ties handled);
- ``ndcg_of_order(scores, levels)``: nDCG of the list ranked by score, gain = level (linear, as
  pytrec_eval's ``ndcg``), discount 1/log2(rank+1);
- ``level_order_metrics(lists)``: both, averaged over lists (lists where a metric is undefined —
  one level only — are skipped and counted);
- ``scores_by_level`` / ``plot_level_distributions``: per-level score distributions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np


def kendall_tau(scores: Sequence[float], levels: Sequence[int]) -> float:
    """Kendall's τ-b between model scores and levels; NaN when either side is constant."""
    from scipy.stats import kendalltau

    if len(scores) != len(levels):
        raise ValueError(f"{len(scores)} scores for {len(levels)} levels")
    if len(set(levels)) < 2 or len(set(scores)) < 2:
        return math.nan
    return float(kendalltau(scores, levels, variant="b").statistic)


def ndcg_of_order(scores: Sequence[float], levels: Sequence[int], k: int | None = None) -> float:
    """nDCG@k of ``levels`` ranked by descending ``scores`` (stable for ties); NaN if all levels are 0."""
    if len(scores) != len(levels):
        raise ValueError(f"{len(scores)} scores for {len(levels)} levels")
    levels = np.asarray(levels, dtype=float)
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    k = len(levels) if k is None else min(k, len(levels))
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = float(np.sort(levels)[::-1][:k] @ discounts)
    if ideal <= 0:
        return math.nan
    return float(levels[order][:k] @ discounts) / ideal


def level_order_metrics(lists: Iterable[tuple[Sequence[float], Sequence[int]]], k: int | None = None) -> dict:
    """Mean Kendall τ and mean nDCG of the level order over (scores, levels) lists."""
    taus, ndcgs, n = [], [], 0
    for scores, levels in lists:
        n += 1
        taus.append(kendall_tau(scores, levels))
        ndcgs.append(ndcg_of_order(scores, levels, k))
    taus_ok = [t for t in taus if not math.isnan(t)]
    ndcgs_ok = [x for x in ndcgs if not math.isnan(x)]
    return {
        "mean_kendall_tau": float(np.mean(taus_ok)) if taus_ok else math.nan,
        "mean_ndcg": float(np.mean(ndcgs_ok)) if ndcgs_ok else math.nan,
        "n_lists": n,
        "n_skipped_tau": n - len(taus_ok),
        "n_skipped_ndcg": n - len(ndcgs_ok),
    }


def scores_by_level(lists: Iterable[tuple[Sequence[float], Sequence[int]]]) -> dict[int, list[float]]:
    by_level: dict[int, list[float]] = {}
    for scores, levels in lists:
        for score, level in zip(scores, levels, strict=True):
            by_level.setdefault(int(level), []).append(float(score))
    return dict(sorted(by_level.items()))


def plot_level_distributions(by_level: dict[int, list[float]], path: str | Path, title: str = "") -> None:
    """Box plot of model scores per level (one box per level, low → high) saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = sorted(by_level)
    fig, ax = plt.subplots(figsize=(1.2 * len(levels) + 2.5, 3.5))
    ax.boxplot([by_level[lv] for lv in levels], tick_labels=[str(lv) for lv in levels], showmeans=True)
    ax.set_xlabel("level (higher = more relevant)")
    ax.set_ylabel("model score")
    ax.set_title(title or "score per level", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
