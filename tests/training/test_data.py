"""Sources, mixing, grouping and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from rankladder.core.errors import UserError
from rankladder.training.data import Source, load_lists
from rankladder.training.grouping import GroupedLists, make_train_dataset


@pytest.fixture(scope="module")
def dataset_dir(tiny_dataset_dir):
    """The lead's real built dataset (tests/conftest.py): 16 queries x 4 levels, dev held out."""
    return Path(tiny_dataset_dir)


def test_lists_source_reads_levels_as_float_labels(dataset_dir):
    lists = load_lists([Source(path=str(dataset_dir))])
    row = lists[0]
    assert len(row["documents"]) == len(row["labels"]) > 0
    assert all(isinstance(v, float) for v in row["labels"])


def test_mixing_sources_relabels_as_configured(shared_datasets):
    CRANFIELD = shared_datasets / "cranfield"
    sources = [
        Source(path=str(CRANFIELD), split="test", min_score=4, score_transform=3),  # best docs → 3
        Source(path=str(CRANFIELD), split="test", max_score=2, score_transform={1: 1, 2: 2}),  # keep 1, 2
        Source(path=str(CRANFIELD), split="test", min_score=3, max_score=3, score_transform=0, random_k=1),
    ]
    lists = load_lists(sources)
    qrels = {}
    for line in (CRANFIELD / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        qrels.setdefault(qid, {})[did] = int(score)
    expected = {4: 3.0, 1: 1.0, 2: 2.0, 3: 0.0}
    checked = 0
    for row in lists:
        for did, label, source in zip(row["doc_ids"], row["labels"], row["doc_sources"]):
            original = qrels[row["query_id"]][did]
            assert label == expected[original]
            assert source == {4: 0, 1: 1, 2: 1, 3: 2}[original]
            checked += 1
    assert checked == sum(len(v) for v in qrels.values()) - 0  # every judged doc kept exactly once
    # random_k=1 on source 2: each group draws at most one level-3 (relabelled 0) document per query
    grouper = GroupedLists(8, "random", random_k={2: 1})
    ds = make_train_dataset(lists, grouper)
    for row in ds.select(range(len(ds))):
        docs = [row[f"doc_{j}"] for j in range(8)]
        assert len({d for d, label in zip(docs, row["labels"]) if label == 0.0}) <= 1  # cycling may repeat it
        assert set(row["labels"]) <= {0.0, 1.0, 2.0, 3.0}


def _row(labels):
    return {
        "query_id": ["q"],
        "query": ["query"],
        "documents": [[f"d{i}" for i in range(len(labels))]],
        "labels": [labels],
        "doc_sources": [[0] * len(labels)],
    }


def test_group_strategies():
    labels = [3.0, 2.0, 2.0, 1.0, 0.0, 0.0, 0.0]
    most = GroupedLists(3, "most_relevant")(_row(labels))
    assert sorted(most["labels"][0], reverse=True) == [3.0, 2.0, 2.0]
    per_level = GroupedLists(4, "one_per_level")(_row(labels))
    assert sorted(per_level["labels"][0]) == [0.0, 1.0, 2.0, 3.0]
    rand = GroupedLists(5, "random")(_row(labels))
    assert len(rand["labels"][0]) == 5 and set(rand.keys()) == {
        "query",
        "doc_0",
        "doc_1",
        "doc_2",
        "doc_3",
        "doc_4",
        "labels",
    }


def test_cycling_fills_short_lists_and_groups_change_per_epoch():
    grouper = GroupedLists(5, "random")
    out = grouper(_row([2.0, 1.0]))
    assert sorted(out["labels"][0]) in ([1.0, 1.0, 2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 2.0, 2.0])
    seen = set()
    grouper = GroupedLists(3, "random")
    for epoch in range(6):
        grouper.epoch = epoch
        seen.add(tuple(grouper(_row([3.0, 2.0, 1.0, 0.0, 0.0, 0.0]))["doc_0"]))
        assert grouper(_row([3.0, 2.0, 1.0, 0.0]))["doc_0"] == grouper(_row([3.0, 2.0, 1.0, 0.0]))["doc_0"]
    assert len(seen) > 1


def test_group_larger_than_every_list_without_cycling(dataset_dir):
    lists = load_lists([Source(path=str(dataset_dir))])
    with pytest.raises(UserError, match="larger than every list"):
        make_train_dataset(lists, GroupedLists(50, cycle=False))


def test_missing_lists_and_qrels_config(tmp_path):
    (tmp_path / "corpus").mkdir()
    with pytest.raises(UserError, match="missing config"):
        load_lists([Source(path=str(tmp_path))])
    with pytest.raises(UserError, match="not found"):
        load_lists([Source(path=str(tmp_path / "nope"))])


def test_label_policy_needs_a_judged_dataset(dataset_dir):
    with pytest.raises(UserError, match="label_policy must be one of intended, judged, agree"):
        Source.from_dict({"path": str(dataset_dir), "label_policy": "judge"})
    with pytest.raises(UserError, match="max_disagreement must be a non-negative integer"):
        Source.from_dict({"path": str(dataset_dir), "label_policy": "agree", "max_disagreement": -1})
    with pytest.raises(UserError, match="has no judged document"):
        load_lists([Source(path=str(dataset_dir), kind="lists", label_policy="judged")])
    intended = load_lists([Source(path=str(dataset_dir), kind="lists", label_policy="intended")])
    assert intended["labels"] == load_lists([Source(path=str(dataset_dir), kind="lists")])["labels"]


def test_non_numeric_labels(tmp_path):
    (tmp_path / "qrels").mkdir()
    (tmp_path / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": "a document"}\n')
    (tmp_path / "queries.jsonl").write_text('{"_id": "q1", "text": "a query"}\n')
    (tmp_path / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(UserError, match=r"train.tsv:2: field 'score': not a number: 'high'"):
        load_lists([Source(path=str(tmp_path))])
    with pytest.raises(UserError, match="not numeric"):
        Source(path="x", score_transform={1: "best"}).relabel(1)


def test_an_eval_split_named_but_absent_is_refused_before_the_model_loads(dataset_dir, tmp_path, capsys):
    """`--eval_split devv` (a typo), or `dev` named on data built without one, trained and exited 0 with no
    dev evaluation at all."""
    from rankladder.cli import main

    out = tmp_path / "out"
    argv = ["train", "--data", str(dataset_dir), "--out", str(out), "--max_steps", "1", "--use_cpu", "true"]
    assert main([*argv, "--eval_split", "devv"]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "--eval_split devv:" in lines[0] and "has no lists/devv split" in lines[0], lines
    assert not out.exists() and not (tmp_path / "out.checkpoints").exists()


def test_cli_bad_input_exits_2(dataset_dir, tmp_path, capsys):
    from rankladder.cli import main

    assert (
        main(
            [
                "train",
                "--data",
                str(dataset_dir),
                "--loss",
                "ws2",
                "--model",
                str(tmp_path / "missing-model"),
                "--out",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert "base model path not found" in capsys.readouterr().err
    out = ["--out", str(tmp_path / "out")]
    assert main(["train", "--data", str(dataset_dir), "--label_policy", "judged", *out]) == 2
    assert "has no judged document" in capsys.readouterr().err  # the tiny dataset was never judged
    assert main(["train", "--sources", f'[{{"path": "{dataset_dir}"}}]', "--label_policy", "agree", *out]) == 2
    assert "give each source its own label_policy" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(SystemExit) as exc:  # argparse rejects an unknown loss name
        main(["train", "--data", str(dataset_dir), "--loss", "hinge", "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    from rankladder.training.losses import build_loss

    with pytest.raises(UserError, match="unknown loss"):
        build_loss("hinge", None)
    config = tmp_path / "train.yaml"
    config.write_text(f"data: {dataset_dir}\nloss: nope\nout: {tmp_path / 'out'}\n")
    assert main(["train", "--config", str(config)]) == 2
    assert "train.yaml:2: key 'loss': unknown value, choose from 'ws2'" in capsys.readouterr().err
