"""``rankladder build``: RUN_DIRs → DATASET_DIR (parquet configs, card, stats, manifest).

Reads the generation records column-wise (pyarrow's JSON reader, only the needed fields), merges
runs and shards (first record per key wins), assigns content-hash doc ids, holds out whole queries
for ``dev``, and writes every config atomically.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from rankladder.core.errors import UserError
from rankladder.core.fsutil import atomic_output_dir, sha256_file, sha256_json, write_json_atomic
from rankladder.core.locks import holds_output
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.core.readback import scratch_cache_beside, verify_dataset
from rankladder.dataset_builder import agreement, label_guard, schema
from rankladder.dataset_builder import merge as merge_rules
from rankladder.dataset_builder.agreement import apply_label_policy, label_columns
from rankladder.dataset_builder.config import BuildConfig
from rankladder.dataset_builder.run_reader import (  # noqa: F401 (re-exported)
    read_records,
    read_run_manifests,
    unique_run_dirs,
)
from rankladder.dataset_builder.runfiles import REJECTS, iter_kind
from rankladder.dataset_builder.shards import SplitWriter
from rankladder.dataset_builder.splits import dev_queries

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def check_version(version: str) -> str:
    version = version[1:] if version.startswith("v") else version
    if not SEMVER.match(version):
        raise UserError(f"version (--version): {version!r} is not a semantic version X.Y.Z")
    return version


def _doc_ids(records) -> pa.ChunkedArray:
    """Content-hash ids, computed chunk by chunk so only one chunk of texts is held as Python strings."""
    import pyarrow as pa

    chunks = []
    for batch in records.select(["text", "title"]).to_batches(max_chunksize=50_000):
        texts, titles = batch.column(0).to_pylist(), batch.column(1).to_pylist()
        chunks.append(pa.array([schema.doc_id(text, title or "") for text, title in zip(texts, titles)], pa.string()))
    return pa.chunked_array(chunks, pa.string())


def _finish(writer: SplitWriter) -> dict:
    """Close a split's writer: its shard paths (in order) and what the read-back must find."""
    return {"paths": writer.close(), "readback": writer.expectation()}


def _list_column(offsets, frame, column: str, kind):
    """One per-document column of ``frame`` as list rows split at ``offsets``."""
    import pyarrow as pa

    return pa.ListArray.from_arrays(offsets, frame.get_column(column).to_arrow().cast(kind))


def _write_lists(records, doc_ids, ordered, groups, writer: SplitWriter, piece_rows: int = 40_000) -> None:
    """``lists`` rows for ``groups`` (contiguous in ``ordered``), gathering documents piece by piece."""
    import pyarrow as pa
    import pyarrow.compute as pc

    starts = groups.get_column("start").to_list() + [groups.get_column("end")[-1] if groups.height else 0]
    first = 0
    while first < groups.height:
        last = first + 1
        while last < groups.height and starts[last] - starts[first] < piece_rows:
            last += 1
        rows = ordered.get_column("row")[starts[first] : starts[last]].to_arrow()
        offsets = pa.array([start - starts[first] for start in starts[first : last + 1]], pa.int32())
        gathered = {
            name: pc.take(column, rows).combine_chunks()
            for name, column in (("doc_id", doc_ids), ("text", records.column("text")))
        }
        labels = ordered.slice(starts[first], starts[last] - starts[first])
        part = groups.slice(first, last - first)

        writer.write(
            pa.table(
                {
                    "query_id": part.get_column("query_id").to_arrow().cast(pa.string()),
                    "query": part.get_column("query").to_arrow().cast(pa.string()),
                    "doc_ids": pa.ListArray.from_arrays(offsets, gathered["doc_id"]),
                    "documents": pa.ListArray.from_arrays(offsets, gathered["text"].cast(pa.string())),
                    "levels": _list_column(offsets, labels, "level", pa.int32()),
                    "intended_levels": _list_column(offsets, labels, "intended", pa.int32()),
                    "judge_grades": _list_column(offsets, labels, "grade", pa.int32()),
                    "judge_expected": _list_column(offsets, labels, "expected", pa.float32()),
                }
            )
        )
        first = last


def write_configs(
    records,
    folder: Path,
    dev_fraction: float,
    seed: int,
    judgements: dict | None = None,
    labels: str = "intended",
    max_disagreement: int = 1,
    layout: dict | None = None,
    allow_degenerate_labels: bool = False,
) -> tuple[dict, object, dict]:
    """Write every config/split parquet into ``folder``; return the writers (files and read-back expectations
    per ``config/split``), the stats frame, merge counts. ``layout``: ``shard_bytes``/``rows_per_group`` of
    every split (``shards.SplitWriter``; defaults: the Hub's shard size).

    Texts stay in the arrow record table; polars orders only the small columns, and documents are
    gathered once, piece by piece, into the ``lists`` files (1M records stay well under 1.5 GB).
    """
    import numpy as np
    import polars as pl
    import pyarrow as pa

    layout = layout or {}
    doc_ids = _doc_ids(records)
    # Only small columns go to polars; every step replaces the frame so at most two copies live.
    index = pl.from_arrow(records.select(["key", "query_id", "level", "words", "run"])).with_columns(
        pl.from_arrow(doc_ids).alias("doc_id"), pl.int_range(pl.len(), dtype=pl.UInt32).alias("row")
    )
    total = index.height
    read_by_run = merge_rules.counts_by_run(index)
    if index.get_column("key").n_unique() != total:
        index = index.unique(subset="key", keep="first", maintain_order=True)
    kept_by_run = merge_rules.counts_by_run(index)
    index = index.drop("key", "run")
    duplicate_keys = total - index.height
    pairs = pl.from_arrow(records.select(["query_id", "query"])).unique()
    conflicts = pairs.group_by("query_id").len().filter(pl.col("len") > 1)
    if conflicts.height:
        raise UserError(f"query id {conflicts.get_column('query_id')[0]!r} has different texts in different runs")
    queries = pairs.select(pl.col("query_id").alias("_id"), pl.col("query").alias("text")).sort("_id")
    del pairs
    if index.select(pl.struct("query_id", "doc_id").n_unique()).item() != index.height:
        # the same text twice in one query's list: keep its highest level
        index = index.sort("level", descending=True).unique(subset=["query_id", "doc_id"], keep="first")
    index = label_columns(index, judgements or {})
    label_figures = None
    if judgements:
        label_figures = agreement.summarize(
            index.get_column("intended").to_list(),
            index.get_column("grade").to_list(),
            index.get_column("expected").to_list(),
            sorted(set(index.get_column("intended").to_list())),
            max_disagreement,
        )
        label_figures.update(policy=labels, max_disagreement=max_disagreement)
    documents_before = index.height
    index = apply_label_policy(index, labels, max_disagreement)
    if index.height == 0:
        raise UserError(f"labels (--labels) {labels}: no document keeps a label under this policy")
    policy_result = label_guard.policy_figures(index, documents_before)
    label_guard.check_policy_result(policy_result, labels, allow_degenerate_labels)
    queries = queries.filter(pl.col("_id").is_in(index.get_column("query_id").unique().implode()))
    dev = dev_queries(queries.get_column("_id").to_list(), queries.get_column("text").to_list(), dev_fraction, seed)
    index = index.with_columns(pl.col("query_id").is_in(list(dev)).alias("is_dev"))
    files = {}

    first_rows = index.unique(subset="doc_id", keep="first").get_column("row").to_numpy()
    documents = len(first_rows)
    keep = np.zeros(total, dtype=bool)
    keep[first_rows] = True
    del first_rows
    corpus = SplitWriter(folder, schema.CORPUS_CONFIG, schema.CORPUS_SPLIT, **layout)
    offset = 0
    for batch in records.select(["title", "text"]).to_batches(max_chunksize=50_000):
        mask = pa.array(keep[offset : offset + batch.num_rows])
        ids = doc_ids.slice(offset, batch.num_rows)
        offset += batch.num_rows
        corpus.write(
            pa.table(
                {
                    "_id": ids.filter(mask),
                    "title": batch.column(0).filter(mask).fill_null(""),
                    "text": batch.column(1).filter(mask),
                }
            )
        )
    files["corpus/corpus"] = _finish(corpus)
    query_writer = SplitWriter(folder, schema.QUERIES_CONFIG, schema.QUERIES_SPLIT, **layout)
    query_writer.write(queries.to_arrow())
    files["queries/queries"] = _finish(query_writer)

    kept = index.height
    ordered = index.sort(["is_dev", "query_id", "level", "doc_id"], descending=[False, False, True, False])
    del index
    groups = (
        ordered.with_row_index("start")
        .group_by("query_id", maintain_order=True)
        .agg(pl.col("start").first(), pl.len().alias("size"), pl.col("is_dev").first())
        .with_columns((pl.col("start") + pl.col("size")).alias("end"))
        .join(queries.rename({"_id": "query_id", "text": "query"}), on="query_id", how="left", maintain_order="left")
    )
    n_train = groups.height - len(dev)
    for split, rows, part in (
        (schema.TRAIN_SPLIT, ~pl.col("is_dev"), groups.slice(0, n_train)),
        (schema.DEV_SPLIT, pl.col("is_dev"), groups.slice(n_train)),
    ):
        if split == schema.DEV_SPLIT and not dev:
            continue
        qrels = SplitWriter(folder, schema.QRELS_CONFIG, split, **layout)
        qrels.write(
            ordered.filter(rows)
            .select(
                pl.col("query_id").alias("query-id"),
                pl.col("doc_id").alias("corpus-id"),
                pl.col("level").alias("score"),
            )
            .to_arrow()
        )
        files[f"default/{split}"] = _finish(qrels)
        lists = SplitWriter(folder, schema.LISTS_CONFIG, split, label_columns=True, **layout)
        _write_lists(records, doc_ids, ordered, part, lists)
        files[f"lists/{split}"] = _finish(lists)
    stats_frame = ordered.select("query_id", "level", "words", "doc_id")
    merge = {
        "records_read": total,
        "duplicate_keys": duplicate_keys,
        "duplicate_documents": kept - documents,
        "train_queries": n_train,
        "dev_queries": len(dev),
        "labels": label_figures,
        "label_policy": policy_result,
        "records_by_run": {"read": read_by_run, "kept": kept_by_run},
    }
    return files, stats_frame, merge


@holds_output("out")  # before any work: a second build into the same folder is refused, not silently lost
def build_dataset(
    run_dirs: list[str | Path],
    out: str | Path,
    version: str,
    config: BuildConfig | None = None,
    *,
    name: str | None = None,
    overwrite: bool = False,
    shard_bytes: int | None = None,
    rows_per_group: int | None = None,
    **options,
) -> dict:
    """``rankladder build``'s entry function: DATASET_DIR ``out`` from one or more RUN_DIRs; returns the
    dataset manifest.

    ``config`` (:class:`rankladder.dataset_builder.config.BuildConfig`) holds every option of the stage;
    ``options`` are its fields as keyword arguments instead (``dev_fraction=0.25``; validated the same way).
    ``separability`` / ``select_by_similarity`` take a SentenceTransformer, a path/id, or ``True`` (the
    all-MiniLM-L6-v2 package): per-level separability of the lists in stats.json and the card; keep one of
    several samples per (query, level), the combination best ordered for that model. ``labels`` picks the
    qrels score / lists level from the intended level or the judgements of ``rankladder judge``.
    Per call: ``name`` (default: the folder's name), ``overwrite``; ``shard_bytes`` caps each parquet shard
    (default ``schema.SHARD_BYTES``, the Hub's usual size) and ``rows_per_group`` sets its row groups (tests
    shrink both to get many shards from little data). Before it returns, every config/split is read back
    through ``datasets.load_dataset`` and compared.
    """
    from rankladder.core.cli_model import config_from_options
    from rankladder.dataset_builder import card, card_sections, stats
    from rankladder.dataset_builder.judge import judge_manifests, read_judgements

    if config is None or options:
        config = config_from_options(BuildConfig, {**(config.model_dump() if config else {}), **options})
    labels, max_disagreement, merge_rule = config.labels, config.max_disagreement, config.merge
    version = check_version(version)
    if Path(out).exists() and not overwrite:
        raise UserError(f"{out}: output folder already exists (give overwrite (--overwrite) to replace it)")
    run_dirs = unique_run_dirs(run_dirs)
    run_manifests = read_run_manifests(run_dirs)
    incomplete = [m["_path"] for m in run_manifests if m.get("status") != "complete"]
    if incomplete:
        log.warning("building from runs that did not finish: %s", ", ".join(incomplete))
    generators = merge_rules.run_generators(run_dirs, run_manifests)
    merge_rules.check_merge_rule(run_dirs, generators, merge_rule)  # before any record is read
    rejects = [row for run_dir in run_dirs for row in iter_kind(run_dir, REJECTS)]
    judgements = read_judgements(run_dirs)
    if labels != "intended" and not judgements:
        raise UserError(
            f"labels (--labels) {labels}: {', '.join(map(str, run_dirs))} has no judgements; run "
            "`rankladder judge RUN_DIR` first"
        )
    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        records, selection = merge_rules.apply_merge_rule(read_records(run_dirs), merge_rule), None
        rejects = stats.settle_given_up(rejects, records.column("key"))
        select_model, separability_model = config.select_by_similarity, config.separability
        if select_model is not None and select_model is not False:
            from rankladder.dataset_builder.selection import select_records

            records, selection = select_records(records, None if select_model is True else select_model)
        files, stats_frame, merge = write_configs(
            records,
            tmp,
            config.dev_fraction,
            config.seed,
            judgements,
            labels,
            max_disagreement,
            {"shard_bytes": shard_bytes, "rows_per_group": rows_per_group},
            config.allow_degenerate_labels,
        )
        del records
        figures = stats.compute(stats_frame, rejects, merge, run_manifests)
        if merge["labels"]:
            figures["labels"] = merge["labels"]
            agreement.plot(figures["labels"], tmp / schema.AGREEMENT_PLOT)
        if selection is not None:
            figures["selection"] = selection
        if separability_model is not None and separability_model is not False:
            from rankladder.dataset_builder.separability import dataset_separability

            figures["separability"] = dataset_separability(
                tmp, None if separability_model is True else separability_model
            )
        write_json_atomic(tmp / schema.STATS_FILE, figures)
        stats.plot(figures, tmp / schema.STATS_PLOT)
        file_hashes = {
            key: {
                "shards": [{"path": rel, "sha256": sha256_file(tmp / rel)} for rel in entry["paths"]],
                "rows": entry["readback"]["rows"],
            }
            for key, entry in files.items()
        }
        content_hash = sha256_json(file_hashes)  # identity of the data itself, not of card or stats
        manifest = {
            "kind": schema.DATASET_KIND,
            "name": name or out.name,
            "version": version,
            "created": utc_now(),
            "content_hash": content_hash,
            "levels": run_manifests[0]["config"]["levels"],
            "generation": card.generation_summary(run_manifests),
            # portable: a queries file is named, never by its path on this machine
            "queries_source": (card_sections.queries_sources(run_manifests) or [{}])[0],
            "queries_sources": card_sections.queries_sources(run_manifests),
            "generators": card_sections.generators(run_manifests),
            "counts": figures["counts"],
            "files": file_hashes,
            "readback": [entry["readback"] for entry in files.values()],
            "source_runs": [
                {
                    "path": Path(m["_path"]).parent.name,  # the run folder's name: no machine path leaves
                    "manifest": Path(m["_path"]).name,
                    "status": m.get("status"),
                    "config_hash": m.get("config_hash"),
                    "shard": m.get("shard"),
                }
                for m in run_manifests
            ],
            "build": {
                "dev_fraction": config.dev_fraction,
                "seed": config.seed,
                "select_by_similarity": selection["model"] if selection and selection["applied"] else None,
                "labels": labels,
                "max_disagreement": max_disagreement if labels == "agree" else None,
                "allow_degenerate_labels": config.allow_degenerate_labels,
                "label_policy_result": merge["label_policy"],
            },
            "merge": merge_rules.merge_report(run_dirs, generators, merge_rule, **merge["records_by_run"]),
            "judge": card.judge_summary(judge_manifests(run_dirs)),
            "tool_versions": tool_versions(),
        }
        write_json_atomic(tmp / schema.MANIFEST_FILE, manifest)
        card.write_basic_card(tmp, manifest, figures, load_path=str(out))
        with scratch_cache_beside(out) as cache:  # the folder loads back with exactly these rows, or nothing is kept
            verify_dataset(tmp, manifest["readback"], cache_dir=cache)
    return manifest
