"""Issue 23: ``build`` holds one partition of the run at a time, and the partitions do not change the output.

The run is spilled to partitions of ``bucket_records`` records (by query id, document id, query-id range);
``on_hold(phase, rows)`` is called each time one is loaded. A build forced into many small partitions must
write the very files (same bytes, same content-addressed names) that one partition (the whole run at once)
writes, while never loading more than about one partition's records.
"""

from __future__ import annotations

import json

from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import write_run_dir

QUERIES = 700
BUCKET = 250


def _rows() -> list[dict]:
    rows = []
    for i in range(QUERIES):
        text = f"question number {i % 650}" if i % 9 else f"Question  number {i % 650}"  # same text, other ids
        for level in (3, 2, 1, 0):
            body = f"document {i} level {level}: water boils at lower temperatures at altitude"
            if i % 25 == 0:
                body = f"a text shared by many queries, level {level}"  # one corpus entry, many lists
            rows.append({"query_id": f"q{i:04d}", "query": text, "level": level, "text": body})
        if i % 40 == 0:
            rows.append({"query_id": f"q{i:04d}", "query": text, "level": 1, "text": f"second sample {i}", "sample": 1})
    return rows


def _files(folder) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.parquet"))}


def test_many_small_partitions_write_the_same_files_and_hold_one_partition_at_a_time(tmp_path):
    rows = _rows()
    run = write_run_dir(tmp_path / "run", rows)
    records = len(rows)
    whole = build_dataset([run], tmp_path / "whole", version="1.0.0", dev_fraction=0.1)

    held: list[tuple[str, int]] = []
    parts = build_dataset(
        [run],
        tmp_path / "parts",
        version="1.0.0",
        dev_fraction=0.1,
        bucket_records=BUCKET,
        on_hold=lambda phase, rows: held.append((phase, rows)),
    )

    assert _files(tmp_path / "parts") == _files(tmp_path / "whole")
    assert len(_files(tmp_path / "whole")) >= 6  # corpus, queries, qrels and lists of train and dev
    for key in ("content_hash", "files", "readback", "counts", "merge", "build"):
        assert parts[key] == whole[key], key
    stats = [json.loads((tmp_path / name / schema.STATS_FILE).read_text()) for name in ("whole", "parts")]
    assert stats[0] == stats[1]
    assert whole["counts"]["dev_queries"] > 0 and whole["counts"]["duplicate_documents"] > 0

    phases = {phase for phase, _ in held}
    assert {"survey", "place", "corpus", "queries", "train", "dev"} <= phases
    survey_loads = [rows for phase, rows in held if phase == "survey"]
    assert len(survey_loads) >= records // BUCKET  # the run really was split
    assert sum(survey_loads) == records  # every record was read, once per pass
    # never about more than one partition in memory (hash partitions vary a little around their mean size)
    assert max(rows for _, rows in held) <= 2 * BUCKET < records


def test_dev_split_over_partitions_is_the_split_of_all_queries_at_once(tmp_path):
    """Eight of twelve queries share one text (one group, on one side); the other groups are single queries. Over
    partitions the dev queries are exactly what ``splits.dev_queries`` picks from all queries at once."""
    from datasets import load_dataset

    from rankladder.dataset_builder.splits import dev_queries

    texts = {f"q{i}": ("How high is Everest?" if i < 8 else f"query {i}") for i in range(12)}
    rows = [
        {"query_id": qid, "query": text, "level": level, "text": f"{qid} document at level {level}"}
        for qid, text in texts.items()
        for level in (3, 2, 1, 0)
    ]
    run = write_run_dir(tmp_path / "run", rows)
    expected = dev_queries(list(texts), list(texts.values()), 0.3, 0)
    group = {f"q{i}" for i in range(8)}
    assert expected and len(expected) < len(texts) and (group <= expected or not group & expected)
    for name, bucket in (("whole", None), ("parts", 8)):
        folder = tmp_path / name
        build_dataset([run], folder, version="1.0.0", dev_fraction=0.3, bucket_records=bucket)
        dev = load_dataset(str(folder), schema.QRELS_CONFIG, split=schema.DEV_SPLIT, cache_dir=tmp_path / "cache")
        assert set(dev["query-id"]) == expected, name
