"""Degenerate labels never travel on: judge hint, build refusal, train refusal, --max-disagreement semantics.

The judge is a real ``rankladder judge`` run through the openai backend against the loopback canned server
answering one fixed grade for every document (what SmolLM2 did on the 12 documents: all grade 0).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rankladder.cli import main
from rankladder.dataset_builder import schema
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.console_checks import summary_block
from tests.helpers.run_fixtures import write_run_dir


def judged_run(tmp_path: Path, rows: list[dict], grade: str, capsys) -> tuple[Path, dict]:
    """A RUN_DIR of ``rows`` judged by a judge answering ``grade`` to everything; the judge's summary rows."""
    return judged_run_again(write_run_dir(tmp_path / f"run-{grade}", rows), grade, capsys)


@pytest.fixture
def three_queries(graded_rows):
    wanted = sorted({row["query_id"] for row in graded_rows})[:3]
    return [row for row in graded_rows if row["query_id"] in wanted]  # 12 documents, levels 3..0


def test_judge_hint_build_and_train_refuse_a_judge_that_grades_everything_zero(tmp_path, capsys, three_queries):
    run_dir, judge_rows = judged_run(tmp_path, three_queries, "0", capsys)
    assert "grades" in judge_rows and "0: 12" in judge_rows["grades"]
    # the hint follows the judge's own figures: one grade for everything is no label
    assert "--labels intended" in judge_rows["next"] and "--labels judged" not in judge_rows["next"]

    out = tmp_path / "ds-judged"
    build = ["build", str(run_dir), "--out", str(out), "--version", "0.1.0", "--dev-fraction", "0.34"]
    assert main([*build, "--labels", "judged"]) == 2
    err = capsys.readouterr().err
    assert "--labels judged: leaves 1 level (0)" in err and "12 of 12 documents kept" in err, err
    assert not out.exists()

    assert main([*build, "--labels", "judged", "--allow-degenerate-labels"]) == 0
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text())
    assert manifest["build"]["label_policy_result"]["levels"] == [0]
    assert manifest["build"]["allow_degenerate_labels"] is True
    capsys.readouterr()

    # train refuses before any step (no model folder), in one line with the counts
    model_dir = tmp_path / "model"
    assert main(["train", "--data", str(out), "--out", str(model_dir), "--max_steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "training data: no list has two different labels (2 lists, 8 documents" in err, err
    assert not model_dir.exists()


def test_train_refuses_dev_lists_without_a_graded_document(tmp_path, capsys, graded_rows):
    # train lists are fine, but every dev list holds only level-0 documents: nDCG@10 would read nan → nan
    queries = sorted({row["query_id"] for row in graded_rows})[:4]
    rows = [r for r in graded_rows if r["query_id"] in queries]
    run_dir = write_run_dir(tmp_path / "run", rows)
    out = tmp_path / "ds"
    assert main(["build", str(run_dir), "--out", str(out), "--version", "0.1.0", "--dev-fraction", "0.25"]) == 0
    dev_file = schema.split_files(out, schema.LISTS_CONFIG, schema.DEV_SPLIT)[0]
    table = pq.read_table(dev_file).to_pylist()
    for row in table:  # what a judged dev split with an all-zero judge looks like
        row["levels"] = [0] * len(row["levels"])
    pq.write_table(pq.read_table(dev_file).from_pylist(table, schema=pq.read_schema(dev_file)), dev_file)
    capsys.readouterr()
    model_dir = tmp_path / "model"
    assert main(["train", "--data", str(out), "--out", str(model_dir), "--max_steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "dev lists: no graded document (4 documents in 1 lists" in err and "--eval_split none" in err, err
    assert not model_dir.exists()


def test_max_disagreement_counts_grades_apart_and_one_document_lists_are_refused(tmp_path, capsys, three_queries):
    # a judge answering 3: with K=0 (exact agreement) only the level-3 document of each list survives
    run_dir, judge_rows = judged_run(tmp_path, three_queries, "3", capsys)
    assert "--labels judged" not in judge_rows["next"]
    out = tmp_path / "ds"
    build = ["build", str(run_dir), "--out", str(out), "--version", "0.1.0", "--labels", "agree"]
    assert main([*build, "--max-disagreement", "0"]) == 2
    err = capsys.readouterr().err
    assert "--labels agree: leaves 1 level (3) and 3 of 3 lists with one document" in err, err
    assert not out.exists()
    # the default, 1, means what it reads: within one grade (levels 3 and 2 kept)
    assert main(build) == 0
    capsys.readouterr()
    lists = schema.read_split(out, schema.LISTS_CONFIG, schema.TRAIN_SPLIT).to_pylist()
    assert all(sorted(row["levels"]) == [2, 3] for row in lists) and lists
    stats = json.loads((out / schema.STATS_FILE).read_text())
    assert stats["labels"]["documents_kept_by_policy"]["agree(max_disagreement=1)"] == 6


def test_policy_label_reads_max_disagreement_as_grades_apart():
    assert schema.policy_label(3, 3, "agree", 0) == 3
    assert schema.policy_label(3, 2, "agree", 0) is None
    assert schema.policy_label(3, 2, "agree", 1) == 3
    assert schema.policy_label(3, 1, "agree", 1) is None
    assert schema.policy_label(3, 1, "agree", 2) == 3


def test_train_reports_what_its_label_policy_dropped(tmp_path, capsys, three_queries, minilm_path):
    run_dir, _ = judged_run(tmp_path, three_queries, "3", capsys)
    out = tmp_path / "ds"  # built with intended labels; the policy is applied at training time
    assert main(["build", str(run_dir), "--out", str(out), "--version", "0.1.0", "--dev-fraction", "0"]) == 0
    capsys.readouterr()
    model_dir = tmp_path / "model"
    argv = ["train", "--data", str(out), "--out", str(model_dir), "--model", minilm_path]
    assert main([*argv, "--label_policy", "agree", "--max_steps", "1", "--group_size", "2"]) == 0
    rows = summary_block(capsys.readouterr().out, "train")
    assert rows["labels"].startswith("agree dropped 6 of 12 documents (0 lists emptied, 0 left with one document)")
    manifest = json.loads((model_dir / "rankladder_train_manifest.json").read_text())
    (report,) = manifest["data_checks"]["label_policy"]
    assert report["documents_dropped"] == 6 and report["label_policy"] == "agree"


def test_build_refuses_to_drop_documents_a_killed_judge_never_graded(tmp_path, capsys, three_queries):
    """A judge killed half-way leaves the first judgements; `build --labels agree/judged` dropped the rest
    without a word (exit 0, half the dataset). Now refused with the counts; re-running judge finishes them."""
    run_dir, _ = judged_run(tmp_path, three_queries, "2", capsys)
    (judgements,) = (run_dir / schema.JUDGEMENTS).glob("*.jsonl")
    lines = judgements.read_text(encoding="utf-8").splitlines(keepends=True)
    last = max(json.loads(line)["query_id"] for line in lines)  # a kill before the judge reached that query
    judgements.write_text("".join(line for line in lines if json.loads(line)["query_id"] != last), encoding="utf-8")
    out = tmp_path / "ds"
    build = ["build", str(run_dir), "--out", str(out), "--version", "0.1.0", "--dev-fraction", "0.34"]
    for policy in ("agree", "judged"):
        assert main([*build, "--labels", policy, "--max-disagreement", "3"]) == 2
        err = capsys.readouterr().err
        assert f"--labels {policy}: 4 of 12 documents were never judged" in err, err
        assert not out.exists()
    _, judge_rows = judged_run_again(run_dir, "2", capsys)
    assert judge_rows["judged"].startswith("12 of 12 documents"), judge_rows
    rows = [line for path in (run_dir / schema.JUDGEMENTS).glob("*.jsonl") for line in path.read_text().splitlines()]
    assert len(rows) == 12  # the eight kept, the four missing added: the re-run judged only those
    assert main([*build, "--labels", "agree", "--max-disagreement", "3"]) == 0
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text())
    assert manifest["build"]["label_policy_result"]["documents_kept"] == 12
    assert manifest["build"]["label_policy_result"]["documents_unjudged"] == 0


def judged_run_again(run_dir: Path, grade: str, capsys) -> tuple[Path, dict]:
    """``judge`` run (again) over ``run_dir`` by a judge answering ``grade`` to everything; its summary rows."""
    server = CannedOpenAI(delay=0, reply=grade)
    try:
        argv = ["judge", str(run_dir), "--backend", "openai", "--model", "fake", "--base-url", server.url]
        assert main([*argv, "--logprobs", "0", "--no-progress"]) == 0
    finally:
        server.close()
    return run_dir, summary_block(capsys.readouterr().out, "judge")


def test_a_judge_that_graded_nothing_exits_1_and_says_so(tmp_path, capsys, three_queries):
    """Every reply unparsable: the judge said "judged 12 of 12 documents" and exited 0."""
    run_dir = write_run_dir(tmp_path / "run", three_queries)
    server = CannedOpenAI(delay=0, reply="banana")
    try:
        argv = ["judge", str(run_dir), "--backend", "openai", "--model", "fake", "--base-url", server.url]
        assert main([*argv, "--logprobs", "0", "--no-progress"]) == 1
    finally:
        server.close()
    out = capsys.readouterr().out
    assert "graded nothing" in out.splitlines()[0] and "no reply named a grade" in out, out
    assert "--labels intended" in summary_block(out, "judge")["next"]
