"""training.metrics: the in-training evaluator's pooled nDCG and τ, checked by hand on real MiniLM scores."""

from __future__ import annotations

import math

import numpy as np
import pytest

LISTS = [
    {
        "query": "how do wings produce lift",
        "documents": ["lift of a wing in a slipstream", "boundary layer heat transfer", "a recipe for bread"],
        "levels": [2, 1, 0],
    },
    {"query": "baking bread at home", "documents": ["a recipe for bread", "sourdough starter care"], "levels": [1, 2]},
    {"query": "an unjudged list", "documents": ["boundary layer heat transfer"], "levels": [0]},
]


def _dcg(gains):
    return sum(g / math.log2(rank + 2) for rank, g in enumerate(gains))


def test_evaluate_lists_pooled_ndcg_and_tau_by_hand(minilm_path):
    from sentence_transformers import SentenceTransformer

    from rankladder.training.evaluator import GradedListEvaluator
    from rankladder.training.metrics import evaluate_lists

    model = SentenceTransformer(minilm_path)
    pool = list(dict.fromkeys(doc for row in LISTS for doc in row["documents"]))  # 4 distinct documents
    q = model.encode([row["query"] for row in LISTS], normalize_embeddings=True)
    d = model.encode(pool, normalize_embeddings=True)
    scores = q @ d.T
    ndcgs, taus = [], []
    for i, row in enumerate(LISTS[:2]):  # the third list has no level > 0: nDCG and τ undefined, skipped
        grade = {doc: level for doc, level in zip(row["documents"], row["levels"])}
        ranked = [pool[j] for j in np.argsort(-scores[i])]  # every pooled document, own list or not
        ndcgs.append(_dcg([grade.get(doc, 0) for doc in ranked[:10]]) / _dcg(sorted(row["levels"], reverse=True)))
        own = [scores[i][pool.index(doc)] for doc in row["documents"]]
        concordant = sum(
            np.sign(own[a] - own[b]) == np.sign(row["levels"][a] - row["levels"][b])
            for a in range(len(own))
            for b in range(a + 1, len(own))
        )
        pairs = len(own) * (len(own) - 1) / 2
        taus.append((2 * concordant - pairs) / pairs)  # no ties in these lists: τ-b = (C − D) / pairs
    got = evaluate_lists(model, LISTS, k=10)
    assert got["n_lists"] == 3 and got["n_skipped_ndcg"] == 1 and got["n_skipped_tau"] == 1
    assert got["ndcg@10"] == pytest.approx(np.mean(ndcgs), abs=1e-5)
    assert got["kendall_tau"] == pytest.approx(np.mean(taus), abs=1e-6)
    values = GradedListEvaluator(LISTS, name="dev")(model)
    assert values["dev_ndcg@10"] == pytest.approx(got["ndcg@10"]) and values["dev_kendall_tau"] == got["kendall_tau"]
