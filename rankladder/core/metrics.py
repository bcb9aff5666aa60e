"""The one set of ranking metrics and the one "score these documents against this query" helper.

Used by ``rankladder eval`` (level-order diagnostics), training's in-training evaluator and the study,
so one "nDCG@10" means one thing everywhere. Conventions, stated once:

- **nDCG** is pytrec_eval's ``ndcg_cut.k`` (``ndcg`` when there is no cut), exactly as mteb scores
  retrieval: gain = the integer grade (linear, grades ≤ 0 give no gain), discount ``1/log2(rank + 1)``,
  ideal = the query's judged grades sorted high to low, unjudged documents count 0. Equal scores are
  ordered by pytrec_eval (document id, descending); ``ndcg_of_order`` names its documents so that equal
  scores keep their input order. A query whose grades are all ≤ 0 has no ideal: its nDCG is undefined
  (NaN) here, where pytrec_eval would say 0.
- **Kendall τ** is scipy's τ-b (ties on either side corrected). It is undefined (NaN) for fewer than
  two documents, a single level or constant scores.
- **Means** skip undefined values and say how many they skipped (``mean_defined``).
- **Scores** come from the model's own ``encode_query`` / ``encode_document`` and its own similarity
  function (cosine for MiniLM) — the calls mteb makes — and a BEIR row is shown to the model as mteb
  shows it: ``(title + " " + text).strip()`` (``document_text``).

numpy, scipy and pytrec_eval are imported inside the functions; no stage is imported.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence


# ---------------------------------------------------------------- nDCG (pytrec_eval, mteb's convention)
def to_grade(value) -> int:
    """An integer relevance grade (pytrec_eval accepts no other); 2.0 → 2, 1.5 → ValueError."""
    grade = float(value)
    if not grade.is_integer():
        raise ValueError(f"relevance grade must be an integer for nDCG, got {value!r}")
    return int(grade)


def ndcg_at_k(
    run: Mapping[str, Mapping[str, float]], qrels: Mapping[str, Mapping[str, int]], k: int | None = 10
) -> dict[str, float]:
    """Per-query nDCG@k of ``run`` ({qid: {doc_id: score}}) against ``qrels`` ({qid: {doc_id: grade}}).

    Queries present in both are scored (as pytrec_eval and mteb do); ``k=None`` scores the whole ranking.
    """
    import pytrec_eval

    measure, key = ("ndcg", "ndcg") if k is None else (f"ndcg_cut.{int(k)}", f"ndcg_cut_{int(k)}")
    qrels = {str(q): {str(d): to_grade(g) for d, g in docs.items()} for q, docs in qrels.items()}
    run = {str(q): {str(d): float(s) for d, s in docs.items()} for q, docs in run.items()}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, {measure}).evaluate(run)
    return {qid: values[key] for qid, values in per_query.items()}


def mean_ndcg_at_k(run, qrels, k: int | None = 10) -> float:
    """Mean of ``ndcg_at_k`` over the scored queries (mteb's main retrieval score); NaN if none."""
    values = list(ndcg_at_k(run, qrels, k).values())
    return sum(values) / len(values) if values else math.nan


def ndcg_of_order(scores: Sequence[float], levels: Sequence[int], k: int | None = None) -> float:
    """nDCG@k of one graded list ranked by ``scores``; NaN when no level is > 0.

    Every document of the list is judged (its level), so the ideal is the list's own levels sorted.
    """
    if len(scores) != len(levels):
        raise ValueError(f"{len(scores)} scores for {len(levels)} levels")
    grades = [to_grade(level) for level in levels]
    if not grades or max(grades) <= 0:
        return math.nan
    # pytrec_eval breaks score ties by document id, descending: give earlier documents larger ids.
    width = len(str(len(grades)))
    ids = [f"d{len(grades) - i:0{width}d}" for i in range(len(grades))]
    qrels = {"q": dict(zip(ids, grades))}
    run = {"q": {doc: float(score) for doc, score in zip(ids, scores)}}
    return ndcg_at_k(run, qrels, k)["q"]


# ---------------------------------------------------------------- Kendall τ (scipy τ-b)
def kendall_tau(scores: Sequence[float], levels: Sequence[float]) -> float:
    """Kendall τ-b between model scores and levels of one list; NaN when undefined (see module doc)."""
    from scipy.stats import kendalltau

    if len(scores) != len(levels):
        raise ValueError(f"{len(scores)} scores for {len(levels)} levels")
    if len(set(levels)) < 2 or len({float(s) for s in scores}) < 2:
        return math.nan
    return float(kendalltau(scores, levels, variant="b").statistic)


def mean_defined(values: Iterable[float | None]) -> tuple[float, int]:
    """(mean of the defined values, how many were undefined: None or NaN); the mean is NaN if none is."""
    values = list(values)
    defined = [float(v) for v in values if v is not None and not math.isnan(v)]
    mean = sum(defined) / len(defined) if defined else math.nan
    return mean, len(values) - len(defined)


# ---------------------------------------------------------------- scoring documents against queries
def document_text(title: str | None, text: str | None) -> str:
    """What the model reads for a BEIR corpus row: mteb's join, ``(title + " " + text).strip()``."""
    title, text = title or "", text or ""
    return (title + " " + text).strip() if title else text.strip()


def encode(model, texts: Sequence[str], role: str, batch_size: int = 32):
    """Embeddings of ``texts`` as a ``"query"`` or a ``"document"`` (the model's own prompt for that role)."""
    if role not in ("query", "document"):
        raise ValueError(f"role must be 'query' or 'document', got {role!r}")
    encoder = getattr(model, f"encode_{role}", model.encode)
    return encoder(list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)


def similarity_matrix(model, queries: Sequence[str], documents: Sequence[str], batch_size: int = 32):
    """(n_queries, n_documents) float32 numpy scores, by the model's own similarity function."""
    query_embeddings = encode(model, queries, "query", batch_size)
    document_embeddings = encode(model, documents, "document", batch_size)
    return model.similarity(query_embeddings, document_embeddings).float().cpu().numpy()


def score_documents(model, query: str, documents: Sequence[str], batch_size: int = 32):
    """Scores of ``documents`` against ``query`` (1-D numpy array, same order)."""
    return similarity_matrix(model, [query], documents, batch_size)[0]


def score_lists(model, lists: Iterable[Mapping], batch_size: int = 32):
    """Each row's ``documents`` scored against its ``query``: a list of 1-D arrays, one per row.

    All queries go through the encoder in one call and all documents in another (batched across
    lists), then each list is scored against its own query.
    """
    import numpy as np

    rows = list(lists)
    if not rows:
        return []
    queries = encode(model, [row["query"] for row in rows], "query", batch_size)
    docs = encode(model, [text for row in rows for text in row["documents"]], "document", batch_size)
    bounds = np.cumsum([0] + [len(row["documents"]) for row in rows])
    return [
        model.similarity(queries[i : i + 1], docs[bounds[i] : bounds[i + 1]])[0].float().cpu().numpy()
        for i in range(len(rows))
    ]
