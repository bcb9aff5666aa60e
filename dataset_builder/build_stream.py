"""``build``'s data path in bounded memory: records → spill partitions → the dataset's parquet shards.

1. The records stream in (32 MiB blocks) and are spilled twice: in read order (document id, title, text:
   the corpus) and partitioned by a hash of the query id (``build_buckets``: every merge rule is per query);
   the judgements, if any, are partitioned by the same hash (a partition's labels need only its own).
2. Survey, one query partition at a time: dataset-wide counts, the kept queries' ids, query groups of one
   text (partitioned by the text's hash) for the dev split, and (document id, read position) pairs
   (partitioned by the document id) for the corpus's first-read-wins deduplication.
3. Place: each query partition again, its kept rows spilled to ranges of the sorted query ids, per split.
4. Write: corpus in read order, queries/qrels/lists range by range, sorted as before, through
   ``shards.SplitWriter`` (row groups, content-addressed shards).

No phase holds more than one partition (``spill.BUCKET_RECORDS`` records, ``bucket_records``) plus
per-query ids (the sorted query ids, a few bytes each) and a bit per record: each partition's work is a
function of its own (``_survey_part``, ``_place_part``, ``_write_range``) so its frames are gone before the next
partition is read. The output does not depend on the partition count: a build with one partition is the
former in-memory build, row for row.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rankladder.dataset_builder import label_guard, schema, splits
from rankladder.dataset_builder.build_buckets import LabelRules, Survey, bucket_index
from rankladder.dataset_builder.shards import SplitWriter
from rankladder.dataset_builder.spill import Partitions, hash_parts, partition_count

SPILL_COLUMNS = ["key", "query_id", "query", "level", "words", "run", "doc_id", "row", "text"]
BATCH = 50_000


def _doc_ids(texts, titles):
    import pyarrow as pa

    return pa.array(
        [schema.doc_id(text, title or "") for text, title in zip(texts.to_pylist(), titles.to_pylist())], pa.string()
    )


def spill_records(blocks, folder: Path, parts: int) -> int:
    """Phase 1: every record into the read-order ``texts`` file and its query's ``records`` partition."""
    import numpy as np
    import pyarrow as pa

    records, texts = Partitions(folder, "records", parts), Partitions(folder, "texts", 1)
    row = 0
    for block in blocks:
        for batch in block.to_batches(max_chunksize=BATCH):
            table = pa.Table.from_batches([batch])
            ids = _doc_ids(table.column("text"), table.column("title"))
            rows = pa.array(np.arange(row, row + table.num_rows, dtype=np.int64))
            row += table.num_rows
            full = table.append_column("doc_id", ids).append_column("row", rows)
            records.write(full.select(SPILL_COLUMNS), hash_parts(table.column("query_id"), parts))
            texts.append(0, pa.table({"doc_id": ids, "title": table.column("title"), "text": table.column("text")}))
    records.close()
    texts.close()
    return row


def _survey(folder: Path, parts: int, rules: LabelRules, on_hold):
    """Phase 2: the figures, the sorted kept query ids, and the group/doc partitions."""
    import polars as pl

    records = Partitions(folder, "records", parts)
    groups, docs = Partitions(folder, "groups", parts), Partitions(folder, "docs", parts)
    survey, query_ids = Survey(), []
    for part in range(parts):
        # in a function: its frames are freed before the next partition is read
        table = records.read(part, [c for c in SPILL_COLUMNS if c != "text"], on_hold, "survey")
        ids = _survey_part(table, part, rules, survey, groups, docs, on_hold)
        del table
        if ids is not None:
            query_ids.append(ids)
    groups.close()
    docs.close()
    ids = pl.concat(query_ids).sort() if query_ids else pl.Series("_id", [], pl.String)
    return survey, ids


def _survey_part(table, part: int, rules: LabelRules, survey: Survey, groups: Partitions, docs: Partitions, on_hold):
    """One records partition: its figures into ``survey``, its groups and documents spilled; its kept query ids."""
    import pyarrow as pa

    if table is None:
        return None
    parts = groups.parts
    index, queries = bucket_index(table, rules, survey, rules.judgements(part, on_hold))
    keys = pa.array([splits.text_key(text) for text in queries.get_column("text").to_list()], pa.binary(16))
    group_rows = pa.table({"text_key": keys, "query_id": queries.get_column("_id").to_arrow()})
    groups.write(group_rows, hash_parts(keys, parts))
    doc_rows = index.select("doc_id", "row").to_arrow()
    docs.write(doc_rows, hash_parts(doc_rows.column("doc_id"), parts))
    return queries.get_column("_id")


def _dev_split(folder: Path, parts: int, queries: int, fraction: float, seed: int, on_hold) -> set[str]:
    """The dev queries: ``splits.choose_dev`` over the groups of one text in rank order, reading per group
    partition only the groups that can be reached (the ``count`` best ranked small ones, and the large ones)."""
    import hashlib

    import polars as pl

    count = splits.dev_count(queries, fraction)
    if count == 0:
        return set()
    groups, candidates = Partitions(folder, "groups", parts), []
    for part in range(parts):
        table = groups.read(part, None, on_hold, "dev split")
        if table is None:
            continue
        frame = pl.from_arrow(table)
        ids = frame.get_column("query_id").to_list()
        frame = frame.with_columns(
            pl.Series("id_hash", [hashlib.sha256(f"{seed}\x1f{q}".encode()).hexdigest() for q in ids])
        )
        ranked = frame.group_by("text_key").agg(
            pl.col("query_id").sort_by("id_hash").first().alias("lead"), pl.col("query_id").alias("members")
        )
        leads = ranked.get_column("lead").to_list()
        ranked = ranked.with_columns(
            pl.Series("rank", [hashlib.sha256(f"{seed}\x1f{lead}".encode()).hexdigest() for lead in leads])
        ).sort("rank")
        small = pl.col("members").list.len() <= queries - count  # never skipped by choose_dev
        candidates.append(pl.concat([ranked.filter(small).head(count), ranked.filter(~small)]))
        merged = pl.concat(candidates).sort("rank")
        candidates = [pl.concat([merged.filter(small).head(count), merged.filter(~small)])]
    order = pl.concat(candidates).sort("rank").get_column("members").to_list() if candidates else []
    return splits.choose_dev(order, count, queries)


def _place(folder: Path, parts: int, rules: LabelRules, dev: set[str], bounds, on_hold) -> Partitions:
    """Phase 3: each query partition's kept rows (with texts) into partitions ``split × query-id range``."""
    import polars as pl

    records, pieces = Partitions(folder, "records", parts), Partitions(folder, "pieces", 2 * parts)
    dev_ids = pl.Series("dev", sorted(dev), pl.String)
    for part in range(parts):
        # in a function: its frames are freed before the next partition is read
        _place_part(records.read(part, None, on_hold, "place"), part, rules, dev_ids, bounds, pieces)
    pieces.close()
    return pieces


def _place_part(table, part: int, rules: LabelRules, dev_ids, bounds, pieces: Partitions) -> None:
    """One records partition's kept rows, grouped by piece (``split × range``) in one pass: the texts are
    copied once, straight from ``table`` into that order, so a partition is held about twice at most."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    if table is None:
        return
    parts = pieces.parts // 2
    index, _ = bucket_index(table, rules, judged=rules.judgements(part))
    where = (
        bounds.search_sorted(index.get_column("query_id"), side="right").cast(pl.UInt32)
        + pl.Series(index.get_column("query_id").is_in(dev_ids.implode())).cast(pl.UInt32) * parts
    ).to_numpy()
    order = np.argsort(where, kind="stable")  # within a piece, rows stay in partition order
    labels = index.select("query_id", "level", "intended", "grade", "expected", "doc_id").to_arrow().take(order)
    positions = pa.array(index.get_column("pos").to_numpy()[order])
    del index
    grouped = pa.table(
        {
            "query_id": labels.column("query_id"),
            "query": table.column("query").take(positions),
            **{name: labels.column(name) for name in ("level", "intended", "grade", "expected", "doc_id")},
            "text": table.column("text").take(positions),
        }
    )
    del table, labels, positions
    pieces.write_grouped(grouped, where[order])


def _write_corpus(folder: Path, spill: Path, parts: int, records: int, layout: dict, on_hold) -> tuple[dict, int]:
    """The corpus in read order: each document id's first read (a bit per record marks the winners)."""
    import numpy as np
    import polars as pl
    import pyarrow as pa

    keep = np.zeros(records, dtype=bool)
    docs = Partitions(spill, "docs", parts)
    for part in range(parts):
        table = docs.read(part, None, on_hold, "corpus")
        if table is not None:
            keep[pl.from_arrow(table).group_by("doc_id").agg(pl.col("row").min()).get_column("row").to_numpy()] = True
    corpus = SplitWriter(folder, schema.CORPUS_CONFIG, schema.CORPUS_SPLIT, **layout)
    offset = 0
    batches = (
        b for group in Partitions(spill, "texts", 1).row_groups(0) for b in group.to_batches(max_chunksize=BATCH)
    )
    for batch in batches:
        mask = pa.array(keep[offset : offset + batch.num_rows])
        offset += batch.num_rows
        corpus.write(
            pa.table(
                {
                    "_id": batch.column(0).filter(mask),
                    "title": batch.column(1).filter(mask).fill_null(""),
                    "text": batch.column(2).filter(mask),
                }
            )
        )
    return {"paths": corpus.close(), "readback": corpus.expectation()}, int(keep.sum())


def _lists_rows(ordered):
    import polars as pl

    return ordered.group_by("query_id", maintain_order=True).agg(
        pl.col("query").first(),
        pl.col("doc_id").alias("doc_ids"),
        pl.col("text").alias("documents"),
        pl.col("level").alias("levels"),
        pl.col("intended").alias("intended_levels"),
        pl.col("grade").alias("judge_grades"),
        pl.col("expected").alias("judge_expected"),
    )


def _write_range(table, qrels: SplitWriter, lists: SplitWriter) -> None:
    """One query-id range of a split, sorted as the qrels and lists are: by query id, level (best first), doc id."""
    import polars as pl

    if table is None:
        return
    ordered = pl.from_arrow(table).sort(["query_id", "level", "doc_id"], descending=[False, True, False])
    del table
    qrels.write(
        ordered.select(
            pl.col("query_id").alias("query-id"),
            pl.col("doc_id").alias("corpus-id"),
            pl.col("level").alias("score"),
        ).to_arrow()
    )
    lists.write(_lists_rows(ordered).to_arrow())


def _write_queries_and_lists(folder: Path, pieces: Partitions, parts: int, dev: set, layout: dict, on_hold) -> dict:
    import polars as pl

    files = {}
    queries = SplitWriter(folder, schema.QUERIES_CONFIG, schema.QUERIES_SPLIT, **layout)
    for part in range(parts):
        tables = [pieces.read(p, ["query_id", "query"], on_hold, "queries") for p in (part, part + parts)]
        frames = [pl.from_arrow(t) for t in tables if t is not None]
        if frames:
            unique = pl.concat(frames).unique("query_id").sort("query_id")
            queries.write(unique.select(pl.col("query_id").alias("_id"), pl.col("query").alias("text")).to_arrow())
    files["queries/queries"] = {"paths": queries.close(), "readback": queries.expectation()}
    for split, shift in ((schema.TRAIN_SPLIT, 0), (schema.DEV_SPLIT, parts)):
        if split == schema.DEV_SPLIT and not dev:
            continue
        qrels = SplitWriter(folder, schema.QRELS_CONFIG, split, **layout)
        lists = SplitWriter(folder, schema.LISTS_CONFIG, split, label_columns=True, **layout)
        for part in range(parts):
            # in a function: its frames are freed before the next range is read
            _write_range(pieces.read(part + shift, None, on_hold, split), qrels, lists)
        files[f"default/{split}"] = {"paths": qrels.close(), "readback": qrels.expectation()}
        files[f"lists/{split}"] = {"paths": lists.close(), "readback": lists.expectation()}
    return files


def write_configs(
    blocks,
    records: int,
    folder: Path,
    spill: Path,
    dev_fraction: float,
    seed: int,
    rules: LabelRules,
    layout: dict | None = None,
    allow_degenerate_labels: bool = False,
    bucket_records: int | None = None,
    on_hold=None,
) -> tuple[dict, Survey, dict]:
    """Write every config/split parquet into ``folder`` from record ``blocks`` (about ``records`` of them),
    spilling to ``spill``; return the files (paths and read-back expectations per ``config/split``), the
    survey (dataset-wide counts) and the merge figures."""
    import polars as pl

    from rankladder.core.errors import UserError
    from rankladder.dataset_builder.spill import BUCKET_RECORDS

    layout = layout or {}
    parts = partition_count(records, bucket_records or BUCKET_RECORDS)
    total = spill_records(blocks, spill, parts)
    rules.spill(spill, parts)
    survey, query_ids = _survey(spill, parts, rules, on_hold)
    label_figures = None
    if rules.judged:
        label_figures = survey.agreement.summary(rules.max_disagreement)
        label_figures.update(policy=rules.labels, max_disagreement=rules.max_disagreement)
    policy_result = survey.policy_result()
    if policy_result["documents_kept"] == 0:
        raise UserError(f"labels (--labels) {rules.labels}: no document keeps a label under this policy")
    label_guard.check_policy_result(policy_result, rules.labels, allow_degenerate_labels)
    dev = _dev_split(spill, parts, survey.queries, dev_fraction, seed, on_hold)
    # ranges of the sorted query ids, about equal in queries: the order of the qrels and lists
    bounds = pl.Series("bounds", [query_ids[(k * len(query_ids)) // parts] for k in range(1, parts)], pl.String)
    del query_ids
    pieces = _place(spill, parts, rules, dev, bounds, on_hold)
    shutil.rmtree(spill / "records")  # every record is in the pieces now: free the disk early
    files = {}
    files["corpus/corpus"], documents = _write_corpus(folder, spill, parts, total, layout, on_hold)
    files.update(_write_queries_and_lists(folder, pieces, parts, dev, layout, on_hold))
    merge = {
        "records_read": total,
        "duplicate_keys": survey.duplicate_keys,
        "duplicate_documents": survey.kept_rows - documents,
        "train_queries": survey.queries - len(dev),
        "dev_queries": len(dev),
        "labels": label_figures,
        "label_policy": policy_result,
        "records_by_run": {"read": dict(survey.read_by_run), "kept": dict(survey.kept_by_run)},
        "documents": documents,
    }
    return files, survey, merge
