"""Does a model order a graded list the way its levels do? (torch-free; reused by the loss study)

A *graded list* is one query with documents and integer levels (higher = more relevant, 0 =
unrelated), as in the ``lists`` config of a built dataset. Given the model's score for each
document we report (metrics and their conventions: ``rankladder.core.metrics``):

- ``kendall_tau(scores, levels)``: Kendall's τ-b between scores and levels (scipy; NaN when undefined);
- ``ndcg_of_order(scores, levels)``: nDCG of the list ranked by score, by pytrec_eval as mteb scores
  retrieval (gain = level, discount 1/log2(rank+1)); NaN when no level is > 0;
- ``level_order_metrics(lists)``: both, averaged over lists (lists where a metric is undefined are
  skipped and counted);
- ``scores_by_level`` / ``plot_level_distributions``: per-level score distributions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from rankladder.core.metrics import kendall_tau, mean_defined, ndcg_of_order


def level_order_metrics(lists: Iterable[tuple[Sequence[float], Sequence[int]]], k: int | None = None) -> dict:
    """Mean Kendall τ and mean nDCG of the level order over (scores, levels) lists."""
    lists = list(lists)
    mean_tau, skipped_tau = mean_defined(kendall_tau(scores, levels) for scores, levels in lists)
    mean_ndcg, skipped_ndcg = mean_defined(ndcg_of_order(scores, levels, k) for scores, levels in lists)
    return {
        "mean_kendall_tau": mean_tau,
        "mean_ndcg": mean_ndcg,
        "n_lists": len(lists),
        "n_skipped_tau": skipped_tau,
        "n_skipped_ndcg": skipped_ndcg,
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

    from rankladder.eval.plots import save_png_atomic

    levels = sorted(by_level)
    fig, ax = plt.subplots(figsize=(1.2 * len(levels) + 2.5, 3.5))
    ax.boxplot([by_level[lv] for lv in levels], tick_labels=[str(lv) for lv in levels], showmeans=True)
    ax.set_xlabel("level (higher = more relevant)")
    ax.set_ylabel("model score")
    ax.set_title(title or "score per level", fontsize=9)
    fig.tight_layout()
    numbers = {
        "title": title or "score per level",
        "x": "level (higher = more relevant)",
        "y": "model score (cosine similarity, box = quartiles, triangle = mean)",
        "scores_by_level": {str(lv): [round(v, 6) for v in by_level[lv]] for lv in levels},
    }
    save_png_atomic(fig, path, numbers)
    plt.close(fig)
