"""No leaks by default: one query text on one side of the split; level-0 topics unrelated to every query."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import write_run_dir


def test_identical_query_texts_under_different_ids_share_a_split(tmp_path, graded_rows):
    queries = sorted({row["query_id"] for row in graded_rows})[:6]
    rows = [r for r in graded_rows if r["query_id"] in queries]
    first = [r for r in rows if r["query_id"] == queries[0]]
    # the same question again under another id, in other case and spacing, with its own documents
    twin = [
        {**r, "query_id": "twin", "query": "  " + r["query"].upper().replace(" ", "  "), "text": r["text"] + " Again."}
        for r in first
    ]
    run_dir = write_run_dir(tmp_path / "run", rows + twin)
    for seed in range(8):
        out = tmp_path / f"ds-{seed}"
        build_dataset([run_dir], out, "0.1.0", dev_fraction=0.5, seed=seed)
        dev = {r["query_id"] for r in schema.read_split(out, schema.LISTS_CONFIG, "dev").to_pylist()}
        assert (queries[0] in dev) == ("twin" in dev), (seed, dev)
        assert 0 < len(dev) < 7


@pytest.mark.parametrize("variant", ["{}?", "¿“{}”!..."])
def test_query_texts_differing_only_in_punctuation_share_a_split(tmp_path, graded_rows, variant):
    """ "how long to boil an egg?" and "how long to boil an egg" are one question: they split apart before."""
    queries = sorted({row["query_id"] for row in graded_rows})[:6]
    rows = [r for r in graded_rows if r["query_id"] in queries]
    twins = [
        {**r, "query_id": f"twin-{r['query_id']}", "query": variant.format(r["query"]), "text": r["text"] + " Again."}
        for r in rows
    ]
    run_dir = write_run_dir(tmp_path / "run", rows + twins)
    for seed in range(4):  # seeds 0 and 1 happen to keep every pair together even without the grouping
        out = tmp_path / f"ds-{seed}"
        build_dataset([run_dir], out, "0.1.0", dev_fraction=0.5, seed=seed)
        dev = {r["query_id"] for r in schema.read_split(out, schema.LISTS_CONFIG, "dev").to_pylist()}
        assert dev and all((query in dev) == (f"twin-{query}" in dev) for query in queries), (seed, dev)


def test_level0_topics_related_to_a_query_of_the_run_are_redrawn():
    from rankladder.dataset_builder.prompts import load_topics, unrelated_topic

    bundled = load_topics()
    assert "growing tomatoes in a garden" in bundled
    run = ["how to grow tomatoes on a balcony", "best way to store coffee beans"]
    topics = load_topics(run)
    assert "growing tomatoes in a garden" not in topics and len(topics) >= len(bundled) - 5
    # whatever the draw, no level-0 prompt of this run is about tomatoes
    drawn = {unrelated_topic(f"q{i}", 0, attempt, topics) for i in range(200) for attempt in range(3)}
    assert not any("tomato" in topic for topic in drawn)
    # a run that shares words with every topic keeps the least related ones, never none
    assert len(load_topics([" ".join(bundled)])) == 10


# a query of the run -> the bundled level-0 topic it is about, in words that share no literal form
RELATED_IN_OTHER_FORMS = {
    "how to knit a sweater": "knitting a wool scarf",  # knit / knitting (the old suffix rule made "knitt")
    "why are butterfly wings so colourful": "the life cycle of monarch butterflies",  # butterfly / butterflies
    "recipes for fermented vegetables": "how sourdough starter ferments",  # fermented / ferments
    "immunization schedule for infants": "how vaccines train the immune system",  # immunization / immune
    "what happens when a volcano erupts": "volcanic activity in Iceland",  # volcano / volcanic
    "honeybee colony collapse": "how bees make honey",  # the compound honeybee
}


@pytest.mark.parametrize("query", list(RELATED_IN_OTHER_FORMS))
def test_level0_topics_related_through_another_word_form_are_redrawn(query):
    """The lexical check compares stems (Snowball, as BM25 does) and compound prefixes, not raw suffixes."""
    from rankladder.dataset_builder.prompts import load_topics

    bundled = load_topics()
    topic = RELATED_IN_OTHER_FORMS[query]
    assert topic in bundled
    topics = load_topics([query, "best way to store coffee beans"])
    assert topic not in topics
    assert len(topics) >= len(bundled) - 3  # related topics go, not the whole list


@pytest.mark.slow  # mine, train and eval end to end
def test_eval_flags_a_task_on_the_split_the_model_mined_its_training_data_from(
    tmp_path, shared_datasets, minilm_path, capsys
):
    import json

    from rankladder.cli import main
    from tests.dataset_builder.test_mine import small_beir
    from tests.helpers.console_checks import summary_block

    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield", n_docs=30, n_queries=4)
    mined = tmp_path / "mined"
    assert main(["mine", str(folder), "--split", "train", "-k", "2", "--out", str(mined), "--no-progress"]) == 0
    mine_manifest = json.loads((mined / schema.MANIFEST_FILE).read_text())
    assert mine_manifest["source"]["split"] == "train" and Path(mine_manifest["source"]["folder"]) == folder
    model = tmp_path / "model"
    train = ["train", "--data", str(mined), "--out", str(model), "--model", minilm_path, "--max_steps", "1"]
    assert main([*train, "--group_size", "2", "--eval_split", "none", "--max_seq_length", "32"]) == 0
    manifest = json.loads((model / schema.TRAIN_MANIFEST_FILE).read_text())
    assert manifest["collection_splits"] == [
        {"collection": str(folder.resolve()), "split": "train", "via": f"negatives mined into {mined}"}
    ]
    capsys.readouterr()
    out = tmp_path / "eval"
    assert main(["eval", "--model", str(model), "--tasks", str(folder), "--split", "train", "--out", str(out)]) == 0
    rows = summary_block(capsys.readouterr().out, "eval")
    assert "was trained on beir's train split (negatives mined into" in rows["leak"], rows
    assert json.loads((out / "summary.json").read_text())["leaks"][0]["split"] == "train"
