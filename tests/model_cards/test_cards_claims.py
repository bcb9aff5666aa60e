"""Claims in cards are written only when the stored numbers support them, and name those numbers."""

from __future__ import annotations

from rankladder.dataset_builder.separability import separability_from_scores, to_markdown


def _sep(lists):
    return {"model": "m", "similarity": "cosine", **separability_from_scores(lists)}


def test_unrelated_documents_are_not_called_ordered():
    """Issue 21: documents unrelated to their query gave mean similarities ≈ 0, still strictly decreasing, with
    level 1 outranking level 0 in 43 % of pairs — and the card said "Levels are ordered."."""
    level_one = [0.05, 0.01, 0.01, 0.0, 0.0, 0.0, 0.0]  # above level 0 (0.005) in 3 of 7 lists
    sep = _sep([([0.03, 0.02, one, 0.005], [3, 2, 1, 0]) for one in level_one])
    assert sep["ordered"] and sep["mean_similarity"]["1"] > sep["mean_similarity"]["0"]  # means fall (barely)
    assert sep["outranks"]["1>0"] == 0.4286
    text = to_markdown(sep)
    assert "Levels are ordered" not in text
    assert "Levels are NOT shown to be ordered: the means fall (0.030 > 0.020 > 0.010 > 0.005)" in text
    assert "1>0 0.43 is at or below chance (0.5)" in text


def test_a_clear_ladder_is_called_ordered_with_its_numbers():
    sep = _sep([([0.8, 0.6, 0.4, 0.1], [3, 2, 1, 0]), ([0.7, 0.5, 0.3, 0.2], [3, 2, 1, 0])])
    text = to_markdown(sep)
    assert "Levels are ordered: mean similarity falls level by level (0.750 > 0.550 > 0.350 > 0.150)" in text
    assert "(lowest: 3>2 1.00)" in text


def test_the_three_ndcg_figures_have_three_names_and_say_what_they_measure():
    """Issue 21: "dev nDCG@10" meant the training evaluator's pooled-lists figure (62.7), eval's whole-corpus
    figure on the same split (39.50) and the level-order table's within-list nDCG (0.702)."""
    from rankladder.eval.summary import to_markdown as eval_markdown
    from rankladder.training.summary import dev_row

    train = dev_row({"final_metrics": {"dev_ndcg@10": 0.627, "dev_kendall_tau": 0.5}})
    assert train.startswith("nDCG@10 62.7") and "pooled dev lists" in train
    assert "each held-out query ranks all dev-list documents" in train and "eval` ranks the whole corpus" in train
    scores = {"ndcg_at_10": 0.395, "mrr_at_10": 0.5, "recall_at_100": 0.9, "main_score": 0.395}
    summary = {
        "models": [{"name": "org/m", "revision": "v1", "path": None}],
        "tasks": [{"name": "dev", "type": "Retrieval", "dataset": {}}],
        "scores": {"org/m": {"dev": scores}},
        "mean": {"org/m": scores},
        "level_order": {"org/m": {"dev": {"mean_kendall_tau": 0.4, "mean_ndcg": 0.702, "n_lists": 4}}},
    }
    text = eval_markdown(summary)
    assert "nDCG of level order" not in text and "| within-list nDCG |" in text
    assert "each query ranks the task's whole corpus" in text and "pooled dev-list documents" in text
    assert "each graded list's own documents ranked by the model's score" in text
