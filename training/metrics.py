"""Graded ranking metrics, importable on their own (the loss-study work reuses them).

- ``graded_ndcg_at_k(scores, levels, k)``: nDCG@k with exponential gain ``2**level − 1`` and
  ``log2(rank + 1)`` discount; the ideal ranking sorts all given levels.
- ``kendall_tau(scores, levels)``: Kendall τ-b between model scores and levels of one list.
- ``mean_kendall_tau(model, lists)``: mean τ over held-out lists (lists with a single level skipped).
- ``graded_ndcg(model, lists, k)``: each query retrieves from the pool of all documents in ``lists``
  (documents outside its own list count as level 0), mean nDCG@k.
``lists`` is any iterable of rows with ``query``, ``documents`` and ``levels`` (or ``labels``).
"""

from __future__ import annotations

import math

import numpy as np


def graded_ndcg_at_k(scores, levels, k: int = 10) -> float:
    """nDCG@k of one query: ``scores`` and ``levels`` are parallel per-document sequences."""
    scores = np.asarray(scores, dtype=np.float64)
    gains = np.power(2.0, np.asarray(levels, dtype=np.float64)) - 1.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    top = np.argsort(-scores, kind="stable")[:k]
    dcg = float((gains[top] * discounts[: len(top)]).sum())
    ideal = np.sort(gains)[::-1][:k]
    idcg = float((ideal * discounts[: len(ideal)]).sum())
    return dcg / idcg if idcg > 0 else 0.0


def kendall_tau(scores, levels) -> float | None:
    """Kendall τ-b between scores and levels; None when undefined (one level or one document)."""
    from scipy.stats import kendalltau

    if len(set(levels)) < 2:
        return None
    tau = kendalltau(scores, levels).statistic
    return None if tau is None or math.isnan(tau) else float(tau)


def _levels(row) -> list[float]:
    return [float(v) for v in (row["levels"] if "levels" in row else row["labels"])]


def _encode(model, texts: list[str], batch_size: int) -> np.ndarray:
    return model.encode(texts, batch_size=batch_size, convert_to_numpy=True, normalize_embeddings=True,
                        show_progress_bar=False)


def score_lists(model, lists, batch_size: int = 32) -> list[tuple[np.ndarray, list[float]]]:
    """Cosine scores of each query against its own list: [(scores, levels), ...]."""
    rows = list(lists)
    queries = _encode(model, [row["query"] for row in rows], batch_size)
    out = []
    for q, row in zip(queries, rows):
        docs = _encode(model, list(row["documents"]), batch_size)
        out.append((docs @ q, _levels(row)))
    return out


def mean_kendall_tau(model, lists, batch_size: int = 32) -> float:
    """Mean Kendall τ between model scores and levels within each list (the level-ordering metric)."""
    taus = [t for scores, levels in score_lists(model, lists, batch_size) if (t := kendall_tau(scores, levels)) is not None]
    return float(np.mean(taus)) if taus else float("nan")


def graded_ndcg(model, lists, k: int = 10, batch_size: int = 32) -> float:
    """Mean graded nDCG@k, each query ranking the pooled documents of all lists."""
    rows = list(lists)
    pool: dict[str, int] = {}
    for row in rows:
        for text in row["documents"]:
            pool.setdefault(text, len(pool))
    docs = _encode(model, list(pool), batch_size)
    queries = _encode(model, [row["query"] for row in rows], batch_size)
    values = []
    for q, row in zip(queries, rows):
        levels = np.zeros(len(pool))
        for text, level in zip(row["documents"], _levels(row)):
            levels[pool[text]] = max(levels[pool[text]], level)
        values.append(graded_ndcg_at_k(docs @ q, levels, k))
    return float(np.mean(values)) if values else float("nan")


def mean_level_margin(model, lists, batch_size: int = 32) -> float:
    """Mean score gap between documents of a higher and a lower level of the same list.

    A continuous companion to Kendall τ: on short, easy held-out lists τ saturates at 1, while the
    margin keeps measuring how far apart the model puts the levels.
    """
    gaps = []
    for scores, levels in score_lists(model, lists, batch_size):
        pairs = [(scores[i] - scores[j]) for i in range(len(levels)) for j in range(len(levels))
                 if levels[i] > levels[j]]
        if pairs:
            gaps.append(float(np.mean(pairs)))
    return float(np.mean(gaps)) if gaps else float("nan")
