"""Graded ranking metrics on held-out lists, for the in-training evaluator and the loss study.

All metrics go through ``rankladder.core.metrics`` (nDCG by pytrec_eval with mteb's linear gain,
Kendall τ-b by scipy, undefined values skipped and counted); this module only decides *what* is
ranked. ``lists`` is any iterable of rows with ``query``, ``documents`` and ``levels`` (or ``labels``).

- ``evaluate_lists(model, lists, k)``: both numbers below from one encoding of queries and documents.
- ``mean_kendall_tau(model, lists)``: mean τ within each list (lists where τ is undefined skipped).
- ``graded_ndcg(model, lists, k)``: each query ranks the *pool* of all documents in ``lists``
  (documents outside its own list are unjudged, gain 0), mean nDCG@k (lists with no level > 0 skipped).
- ``mean_level_margin(model, lists)``: mean score gap between a higher and a lower level of a list.
"""

from __future__ import annotations

import math

from rankladder.core import metrics as core
from rankladder.core.metrics import kendall_tau  # one τ convention (also re-exported)


def _levels(row) -> list[float]:
    return [float(v) for v in (row["levels"] if "levels" in row else row["labels"])]


def score_lists(model, lists, batch_size: int = 32) -> list[tuple]:
    """Model scores of each list against its own query: ``[(scores, levels), ...]``."""
    rows = list(lists)
    return list(zip(core.score_lists(model, rows, batch_size), [_levels(row) for row in rows]))


def evaluate_lists(model, lists, k: int = 10, batch_size: int = 32) -> dict[str, float]:
    """Pooled nDCG@k and mean within-list Kendall τ from one encoding of every query and document.

    Returns ``{"ndcg@k", "kendall_tau", "n_lists", "n_skipped_ndcg", "n_skipped_tau"}``.
    """
    rows = list(lists)
    pool: dict[str, int] = {}
    for row in rows:
        for text in row["documents"]:
            pool.setdefault(text, len(pool))
    scores = core.similarity_matrix(model, [row["query"] for row in rows], list(pool), batch_size) if rows else []
    doc_ids = [f"doc{i}" for i in range(len(pool))]
    run, qrels, taus = {}, {}, []
    for i, row in enumerate(rows):
        qid = f"q{i}"  # list rows may repeat a query text: each row is its own query
        run[qid] = dict(zip(doc_ids, scores[i].tolist()))
        judged: dict[str, int] = {}
        for text, level in zip(row["documents"], _levels(row)):
            doc = doc_ids[pool[text]]
            judged[doc] = max(judged.get(doc, 0), core.to_grade(level))
        qrels[qid] = judged
        taus.append(kendall_tau([scores[i][pool[text]] for text in row["documents"]], _levels(row)))
    per_query = core.ndcg_at_k(run, qrels, k) if rows else {}
    ndcg, skipped_ndcg = core.mean_defined(
        per_query[qid] if max(qrels[qid].values(), default=0) > 0 else math.nan for qid in qrels
    )
    tau, skipped_tau = core.mean_defined(taus)
    return {
        f"ndcg@{k}": ndcg,
        "kendall_tau": tau,
        "n_lists": len(rows),
        "n_skipped_ndcg": skipped_ndcg,
        "n_skipped_tau": skipped_tau,
    }


def mean_kendall_tau(model, lists, batch_size: int = 32) -> float:
    """Mean Kendall τ between model scores and levels within each list (the level-ordering metric)."""
    return evaluate_lists(model, lists, batch_size=batch_size)["kendall_tau"]


def graded_ndcg(model, lists, k: int = 10, batch_size: int = 32) -> float:
    """Mean nDCG@k, each query ranking the pooled documents of all lists (pytrec_eval, linear gain)."""
    return evaluate_lists(model, lists, k, batch_size)[f"ndcg@{k}"]


def mean_level_margin(model, lists, batch_size: int = 32) -> float:
    """Mean score gap between documents of a higher and a lower level of the same list.

    A continuous companion to Kendall τ: on short, easy held-out lists τ saturates at 1, while the
    margin keeps measuring how far apart the model puts the levels.
    """
    gaps = []
    for scores, levels in score_lists(model, lists, batch_size):
        pairs = [
            float(scores[i] - scores[j])
            for i in range(len(levels))
            for j in range(len(levels))
            if levels[i] > levels[j]
        ]
        if pairs:
            gaps.append(sum(pairs) / len(pairs))
    return core.mean_defined(gaps)[0]
