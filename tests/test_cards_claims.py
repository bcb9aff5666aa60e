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
