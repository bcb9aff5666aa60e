"""rankladder.core.metrics: each function against a value computed by hand (and the MiniLM scorer)."""

from __future__ import annotations

import math

import pytest

from rankladder.core import metrics

D2, D3 = 1 / math.log2(3), 1 / math.log2(4)  # discounts of ranks 2 and 3 (rank 1: 1)


def test_ndcg_at_k_linear_gain_unjudged_zero_and_cut():
    qrels = {"q1": {"a": 2, "b": 1, "x": 3}, "q2": {"c": 1}}
    run = {"q1": {"a": 0.9, "b": 0.5, "c": 0.7}, "q2": {"a": 0.9, "c": 0.8}, "q3": {"a": 1.0}}
    # q1 ranks a(2), c(unjudged), b(1); the ideal is x(3), a(2), b(1) — x counts though never retrieved
    q1 = (2 + 0 + 1 * D3) / (3 + 2 * D2 + 1 * D3)
    q2 = (0 + 1 * D2) / 1
    got = metrics.ndcg_at_k(run, qrels, k=10)
    assert set(got) == {"q1", "q2"}  # q3 has no judgments: not scored, as in pytrec_eval/mteb
    assert got["q1"] == pytest.approx(q1) and got["q2"] == pytest.approx(q2)
    assert metrics.mean_ndcg_at_k(run, qrels, k=10) == pytest.approx((q1 + q2) / 2)
    cut2 = metrics.ndcg_at_k(run, qrels, k=2)["q1"]
    assert cut2 == pytest.approx(2 / (3 + 2 * D2))  # DCG@2 = 2 + 0; ideal@2 = 3 + 2/log2(3)
    assert metrics.ndcg_at_k(run, qrels, k=None)["q1"] == pytest.approx(q1)


def test_ndcg_negative_grade_gives_no_gain_and_float_grade_is_refused():
    run = {"q": {"a": 0.9, "b": 0.5}}
    assert metrics.ndcg_at_k(run, {"q": {"a": -1, "b": 2}})["q"] == pytest.approx(2 * D2 / 2)
    assert metrics.ndcg_at_k(run, {"q": {"a": 2.0, "b": 0}})["q"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="integer"):
        metrics.ndcg_at_k(run, {"q": {"a": 1.5}})


def test_ndcg_of_order_hand_values_and_ties_keep_input_order():
    levels = [0, 1, 2, 3]
    ideal = 3 + 2 * D2 + 1 * D3
    assert metrics.ndcg_of_order([0.1, 0.2, 0.3, 0.4], levels) == pytest.approx(1.0)
    worst = 0 + 1 * D2 + 2 * D3 + 3 / math.log2(5)
    assert metrics.ndcg_of_order([0.4, 0.3, 0.2, 0.1], levels) == pytest.approx(worst / ideal)
    # @2 of the reversed order: DCG = 0 + 1/log2(3); ideal@2 = 3 + 2/log2(3)
    assert metrics.ndcg_of_order([0.4, 0.3, 0.2, 0.1], levels, k=2) == pytest.approx(D2 / (3 + 2 * D2))
    # all scores equal: the list order stands (0, 1, 2, 3 = the worst order), for lists of 12 too
    assert metrics.ndcg_of_order([0.5] * 4, levels) == pytest.approx(worst / ideal)
    long_levels = [0] * 11 + [1]
    assert metrics.ndcg_of_order([0.5] * 12, long_levels) == pytest.approx(1 / math.log2(13))
    assert math.isnan(metrics.ndcg_of_order([0.3, 0.1], [0, 0]))
    with pytest.raises(ValueError, match="2 scores for 3 levels"):
        metrics.ndcg_of_order([0.1, 0.2], [0, 1, 2])


def test_kendall_tau_b_hand_value_and_undefined_cases():
    assert metrics.kendall_tau([0.1, 0.2, 0.3, 0.4], [0, 1, 2, 3]) == pytest.approx(1.0)
    assert metrics.kendall_tau([0.4, 0.3, 0.2, 0.1], [0, 1, 2, 3]) == pytest.approx(-1.0)
    # scores 1,2,3,4 vs levels 0,0,1,1: 4 concordant, 0 discordant, 1 tie in levels, none in scores
    # τ-b = (4 − 0) / sqrt((6 − 0) · (6 − 2)) = 4 / sqrt(24)
    assert metrics.kendall_tau([1, 2, 3, 4], [0, 0, 1, 1]) == pytest.approx(4 / math.sqrt(24))
    # one discordant pair among (3 and 4): scores 1,2,4,3 vs levels 0,1,2,3 → (5 − 1) / 6
    assert metrics.kendall_tau([1, 2, 4, 3], [0, 1, 2, 3]) == pytest.approx(4 / 6)
    assert math.isnan(metrics.kendall_tau([0.1, 0.2], [1, 1]))  # one level
    assert math.isnan(metrics.kendall_tau([0.5, 0.5, 0.5], [0, 1, 2]))  # constant scores
    assert math.isnan(metrics.kendall_tau([0.5], [1]))  # one document
    with pytest.raises(ValueError):
        metrics.kendall_tau([0.1], [0, 1])


def test_mean_defined_skips_and_counts():
    assert metrics.mean_defined([1.0, math.nan, 0.0, None]) == (0.5, 2)
    mean, skipped = metrics.mean_defined([math.nan])
    assert math.isnan(mean) and skipped == 1


def test_document_text_is_mteb_join():
    assert metrics.document_text("A title", "the text ") == "A title the text"
    assert metrics.document_text("", " text") == "text"
    assert metrics.document_text(None, None) == ""


def test_score_documents_equals_cosine_of_model_embeddings(minilm_path):
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(minilm_path)
    query, docs = (
        "how do wings produce lift",
        ["lift of a wing in a slipstream", "boundary layer heat transfer", "a recipe for bread"],
    )
    q = model.encode([query], normalize_embeddings=True)[0]
    d = model.encode(docs, normalize_embeddings=True)
    expected = d @ q
    got = metrics.score_documents(model, query, docs)
    assert got.shape == (3,) and np.allclose(got, expected, atol=1e-5)
    assert got[0] > got[2]
    lists = [{"query": query, "documents": docs}, {"query": "bread", "documents": docs[2:]}]
    per_list = metrics.score_lists(model, lists, batch_size=2)
    assert np.allclose(per_list[0], expected, atol=1e-5)
    assert np.allclose(per_list[1], metrics.score_documents(model, "bread", docs[2:]), atol=1e-5)
    matrix = metrics.similarity_matrix(model, [query, "bread"], docs)
    assert matrix.shape == (2, 3) and np.allclose(matrix[0], expected, atol=1e-5)


def test_one_title_text_join_in_eval_training_mining_and_bm25(tmp_path):
    """Issue 20: eval, training and mining (which BM25 indexes) read a titled document as the same text."""
    import json

    from rankladder.dataset_builder.mining import load_input
    from rankladder.eval.task_common import joined_corpus
    from rankladder.training.data import read_qrels_rows

    folder = tmp_path / "beir"
    (folder / "qrels").mkdir(parents=True)
    rows = [{"_id": "d1", "title": "Wing flutter", "text": "Flutter of a thin wing."}, {"_id": "d2", "text": "x"}]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "flutter"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t0\n")
    expected = ["Wing flutter Flutter of a thin wing.", "x"]
    assert [metrics.document_text(r.get("title"), r["text"]) for r in rows] == expected
    assert load_input(folder, "test").doc_texts == expected  # mining's lists and its BM25 index
    assert list(read_qrels_rows(str(folder), None, "test", None)[0].values()) == expected  # training
    eval_rows = [{"id": r["_id"], "title": r.get("title", ""), "text": r["text"]} for r in rows]
    assert [row["text"] for row in joined_corpus(eval_rows)] == expected  # eval
