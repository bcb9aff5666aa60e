"""Merging RUN_DIRs: different generators are refused unless a rule is chosen, and every output says who gave what."""

from __future__ import annotations

import json

import pytest

from rankladder.cli import main
from rankladder.dataset_builder import schema
from tests.helpers.console_checks import summary_block
from tests.helpers.run_fixtures import write_run_dir


@pytest.fixture
def two_generators(tmp_path, graded_rows):
    """runs/a: queries 1-3 by gen-a; runs/b: queries 2-4 by gen-b (its own texts): 2 queries overlap."""
    queries = sorted({row["query_id"] for row in graded_rows})[:4]
    a_rows = [r for r in graded_rows if r["query_id"] in queries[:3]]
    b_rows = [
        {**r, "text": r["text"] + " Written by the second model."} for r in graded_rows if r["query_id"] in queries[1:]
    ]
    a = write_run_dir(tmp_path / "runs" / "a", a_rows, backend="gen-a")
    b = write_run_dir(tmp_path / "runs" / "b", b_rows, backend="gen-b")
    return a, b


def build_args(runs, out, *extra):
    return ["build", *map(str, runs), "--out", str(out), "--version", "0.1.0", "--dev-fraction", "0", *extra]


def test_runs_of_different_generators_are_refused_with_the_differences(two_generators, tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(build_args(two_generators, out)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert 'come from different generators (backend "gen-a" vs "gen-b"; model "gen-a" vs "gen-b")' in err, err
    assert "--merge first" in err and "--merge keep-all" in err
    assert not out.exists()


def test_merge_first_says_what_each_run_gave(two_generators, tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(build_args(two_generators, out, "--merge", "first")) == 0
    rows = summary_block(capsys.readouterr().out, "build")
    a, b = two_generators
    assert rows["runs"] == f"{a.name} (gen-a): 12 of 12 records · {b.name} (gen-b): 4 of 12 records (--merge first)"
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text())
    assert manifest["merge"]["rule"] == "first" and manifest["merge"]["generators_differ"] is True
    assert [(r["records_read"], r["records_kept"]) for r in manifest["merge"]["runs"]] == [(12, 12), (12, 4)]
    card = (out / "README.md").read_text()
    assert "## Merged runs" in card and "Merge rule: `first`" in card and "| `gen-b` |" in card
    lists = schema.read_split(out, schema.LISTS_CONFIG, schema.TRAIN_SPLIT).to_pylist()
    # a query both runs wrote for keeps the first run's documents only: no list mixes generators
    for row in lists:
        second = ["second model" in doc for doc in row["documents"]]
        assert all(second) or not any(second)


def test_merge_keep_all_keeps_every_document_as_separate_samples(two_generators, tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(build_args(two_generators, out, "--merge", "keep-all")) == 0
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text())
    assert [r["records_kept"] for r in manifest["merge"]["runs"]] == [12, 12]
    assert manifest["counts"]["documents"] == 24
    lists = schema.read_split(out, schema.LISTS_CONFIG, schema.TRAIN_SPLIT).to_pylist()
    assert sorted(len(row["doc_ids"]) for row in lists) == [4, 4, 8, 8]


def test_runs_of_one_generator_merge_as_before_and_the_api_takes_the_rule(tmp_path, graded_rows):
    import rankladder
    from rankladder.core.config import validate
    from rankladder.core.errors import UserError
    from rankladder.dataset_builder.config import BuildConfig

    queries = sorted({row["query_id"] for row in graded_rows})[:4]
    a = write_run_dir(tmp_path / "a", [r for r in graded_rows if r["query_id"] in queries[:2]], backend="same")
    b = write_run_dir(tmp_path / "b", [r for r in graded_rows if r["query_id"] in queries[2:]], backend="same")
    out = rankladder.build([a, b], tmp_path / "ds", version="0.1.0", dev_fraction=0)
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text())
    assert manifest["merge"]["generators_differ"] is False and manifest["counts"]["queries"] == 4
    c = write_run_dir(tmp_path / "c", [r for r in graded_rows if r["query_id"] in queries[:1]], backend="other")
    with pytest.raises(UserError, match="come from different generators"):
        rankladder.build([a, c], tmp_path / "ds2", version="0.1.0")
    out = rankladder.build([a, c], tmp_path / "ds3", version="0.1.0", dev_fraction=0, merge="keep-all")
    assert json.loads((out / schema.MANIFEST_FILE).read_text())["merge"]["rule"] == "keep-all"
    with pytest.raises(UserError, match="merge"):
        validate(BuildConfig, {"merge": "last"})
