"""Card audit: datasets of several shapes, built, published to the loopback Hub, their cards read back and
every stated fact checked against the Hub, the parquet files and the manifests (``card_audit``)."""

from __future__ import annotations

import json

from rankladder.cli import main
from rankladder.dataset_builder.build import build_dataset
from rankladder.dataset_builder.runfiles import manifests
from tests.helpers.card_audit import audit_dataset_card, hub_card
from tests.helpers.hubserver.client import TOKEN
from tests.helpers.run_fixtures import write_run_dir


def _queries(rows):
    return sorted({row["query_id"] for row in rows})


def _publish(folder, repo, *extra):
    return main(
        ["publish", "dataset", str(folder), "--repo", repo, "--version", "0.1.0", "--license", "mit", *map(str, extra)]
    )


def _run_manifests(*run_dirs):
    return [json.loads(path.read_text()) for run_dir in run_dirs for path in manifests(run_dir)]


def _audit(hub, repo, run_dirs):
    from huggingface_hub import HfApi

    api = HfApi(endpoint=hub.endpoint, token=TOKEN)
    return api, audit_dataset_card(api, hub.endpoint, repo, "v0.1.0", _run_manifests(*run_dirs))


def test_one_run_card_tells_the_truth_and_a_planted_false_fact_fails(hub, hub_env, graded_rows, tmp_path):
    run = write_run_dir(tmp_path / "run", graded_rows)
    build_dataset([run], tmp_path / "one", version="0.1.0", dev_fraction=0.25)
    assert _publish(tmp_path / "one", "org/one") == 0
    api, problems = _audit(hub, "org/one", [run])
    assert problems == []
    card = hub_card(api, "org/one", "v0.1.0")
    for true, false in (
        ("16 queries, 64 documents", "17 queries, 64 documents"),
        ("`levels`, `intended_levels`", "`levels`, `judge_expected`"),
        ("| 12 | `lists/train-", "| 13 | `lists/train-"),
        ("`hand-written` via", "`other-model` via"),
    ):
        assert true in card.content, true
        planted = type(card)(card.content.replace(true, false, 1))
        assert audit_dataset_card(api, hub.endpoint, "org/one", "v0.1.0", _run_manifests(run), card=planted), false


def test_two_runs_from_two_generators(hub, hub_env, graded_rows, tmp_path, capsys):
    """Used to crash publish (``'list' object has no attribute 'get'``) and print the LLM as a Python list."""
    first = set(_queries(graded_rows)[:8])
    run_a = write_run_dir(tmp_path / "a", [r for r in graded_rows if r["query_id"] in first], backend="gen-a")
    run_b = write_run_dir(tmp_path / "b", [r for r in graded_rows if r["query_id"] not in first], backend="gen-b")
    build_dataset([run_a, run_b], tmp_path / "mix", version="0.1.0", dev_fraction=0.25, merge="first")
    assert _publish(tmp_path / "mix", "org/mix", "--dry-run", "--out", tmp_path / "dry") == 0
    assert "[{" not in (tmp_path / "dry" / "README.md").read_text()
    assert _publish(tmp_path / "mix", "org/mix") == 0
    _, problems = _audit(hub, "org/mix", [run_a, run_b])
    assert problems == []


def test_sharded_run(hub, hub_env, graded_rows, tmp_path):
    queries = _queries(graded_rows)
    run = tmp_path / "run"
    for index in (0, 1):
        mine = set(queries[index::2])
        write_run_dir(run, [r for r in graded_rows if r["query_id"] in mine], shard=(index, 2))
    manifest = build_dataset([run], tmp_path / "sharded", version="0.1.0", dev_fraction=0.25)
    assert len(manifest["source_runs"]) == 2 and len(manifest["queries_sources"]) == 1
    assert _publish(tmp_path / "sharded", "org/sharded") == 0
    _, problems = _audit(hub, "org/sharded", [run])
    assert problems == []


# judged datasets (each label policy): tests/model_cards/test_cards_audit_shapes.py, with a canned judge that keeps documents
# under every policy (SmolLM2 graded almost everything 0, so `judged` was skipped)
