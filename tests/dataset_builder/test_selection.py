"""Selection among several samples per (query, level) by a check embedding model (real MiniLM)."""

import json

from rankladder.cli import main
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import write_run_dir


def two_sample_rows(graded_rows, queries=6):
    """Sample 0 of level 3 is the query's unrelated (level-0) text; sample 1 is its real answer."""
    by_query = {}
    for row in graded_rows:
        by_query.setdefault(row["query_id"], {})[row["level"]] = row
    rows = []
    for qid in sorted(by_query)[:queries]:
        ladder = by_query[qid]
        rows.append({**ladder[3], "text": "In other news: " + ladder[0]["text"], "sample": 0})
        rows.append({**ladder[3], "sample": 1})
        rows += [{**ladder[level], "sample": 0} for level in (2, 1, 0)]
    return rows, by_query


def test_selection_keeps_the_ordered_ladder(tmp_path, graded_rows, minilm_path):
    rows, by_query = two_sample_rows(graded_rows)
    run_dir = write_run_dir(tmp_path / "run", rows)
    manifest = build_dataset(
        [run_dir],
        tmp_path / "ds",
        version="0.1.0",
        name="selection-test",
        dev_fraction=0.0,
        select_by_similarity=minilm_path,
    )
    lists = schema.read_split(tmp_path / "ds", schema.LISTS_CONFIG, "train").to_pylist()
    assert len(lists) == 6
    for row in lists:
        assert sorted(row["levels"], reverse=True) == [3, 2, 1, 0]  # one document per level
        level3 = row["documents"][row["levels"].index(3)]
        assert level3 == by_query[row["query_id"]][3]["text"]  # the real answer, not the decoy
    sel = json.loads((tmp_path / "ds" / "stats.json").read_text())["selection"]
    assert sel["applied"] and sel["kept"] == 24 and sel["candidates"] == 30
    assert sel["without_selection"]["outranks"]["3>2"] < 0.5 < sel["with_selection"]["outranks"]["3>2"]
    assert manifest["build"]["select_by_similarity"] == minilm_path
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "## Level selection" in card
    before, after = sel["without_selection"]["outranks"]["3>2"], sel["with_selection"]["outranks"]["3>2"]
    assert f"| 3>2 | {before:.2f} | {after:.2f} |" in card


def test_selection_with_one_sample_changes_nothing_and_cli_flag(tmp_path, graded_rows, minilm_path, capsys):
    run_dir = write_run_dir(tmp_path / "run", graded_rows[:16])
    assert (
        main(
            [
                "build",
                str(run_dir),
                "--out",
                str(tmp_path / "ds"),
                "--version",
                "1.0.0",
                "--select-by-similarity",
                minilm_path,
                "--dev-fraction",
                "0",
            ]
        )
        == 0
    )
    sel = json.loads((tmp_path / "ds" / "stats.json").read_text())["selection"]
    assert sel["applied"] is False and "nothing to select" in sel["reason"]
    plain = write_run_dir(tmp_path / "run2", graded_rows[:16])
    build_dataset([plain], tmp_path / "ds2", version="1.0.0", dev_fraction=0.0)
    assert (
        json.loads((tmp_path / "ds2" / "rankladder_manifest.json").read_text())["content_hash"]
        == json.loads((tmp_path / "ds" / "rankladder_manifest.json").read_text())["content_hash"]
    )
