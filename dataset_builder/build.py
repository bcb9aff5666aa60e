"""``rankladder build``: RUN_DIRs → DATASET_DIR (parquet configs, card, stats, manifest).

Reads the generation records column-wise (pyarrow's JSON reader, only the needed fields), merges
runs and shards (first record per key wins), assigns content-hash doc ids, holds out whole queries
for ``dev``, and writes every config atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

from dataset_builder import schema
from dataset_builder.runfiles import RECORDS, REJECTS, iter_kind, manifests
from rankladder.errors import UserError
from rankladder.fsutil import atomic_output_dir, sha256_file, sha256_json, write_json_atomic
from rankladder.manifest import tool_versions, utc_now

log = logging.getLogger(__name__)
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def check_version(version: str) -> str:
    version = version[1:] if version.startswith("v") else version
    if not SEMVER.match(version):
        raise UserError(f"--version: {version!r} is not a semantic version X.Y.Z")
    return version


def read_run_manifests(run_dirs: list[Path]) -> list[dict]:
    found = []
    for run_dir in run_dirs:
        if not run_dir.is_dir():
            raise UserError(f"{run_dir}: RUN_DIR not found")
        paths = manifests(run_dir)
        if not paths:
            raise UserError(f"{run_dir}: not a generation RUN_DIR (no manifest.shard-*.json)")
        for path in paths:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise UserError(f"{path}: corrupt manifest ({exc.msg})") from None
            data["_path"] = str(path)
            found.append(data)
    levels = {json.dumps(m["config"]["levels"], sort_keys=True) for m in found}
    if len(levels) > 1:
        raise UserError(f"{found[0]['_path']}: runs disagree on the level definitions; build them separately")
    return found


def _record_schema():
    import pyarrow as pa

    return pa.schema([("key", pa.string()), ("query_id", pa.string()), ("query", pa.string()),
                      ("level", pa.int32()), ("text", pa.string()), ("title", pa.string()),
                      ("words", pa.int32())])


READ_BLOCK = 32 << 20


def _complete_line_blocks(path: Path):
    """The file in ~32 MiB blocks that end on a newline; a torn final line is dropped."""
    carry = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(READ_BLOCK)
            if not block:
                return
            block = carry + block
            end = block.rfind(b"\n") + 1
            carry = block[end:]
            if end:
                yield block[:end]


def read_records(run_dirs: list[Path]):
    """All records as one arrow table of the needed columns, read block-wise to bound memory."""
    import pyarrow as pa
    from pyarrow import json as pajson

    options = pajson.ParseOptions(explicit_schema=_record_schema(), unexpected_field_behavior="ignore")
    tables = []
    for run_dir in run_dirs:
        for path in sorted((run_dir / RECORDS).glob("shard-*.jsonl")):
            for block in _complete_line_blocks(path):
                try:
                    tables.append(pajson.read_json(pa.BufferReader(block), parse_options=options,
                                                   read_options=pajson.ReadOptions(block_size=4 << 20)))
                except pa.ArrowInvalid as exc:
                    raise UserError(f"{path}: corrupt records file ({str(exc).splitlines()[0]})") from None
    if not tables:
        raise UserError(f"{', '.join(map(str, run_dirs))}: no generation records found")
    return pa.concat_tables(tables).combine_chunks()


def _doc_ids(frame, chunk: int = 100_000) -> list[str]:
    """Content-hash ids, computed in slices so only one slice of texts is held as Python strings."""
    ids: list[str] = []
    for start in range(0, frame.height, chunk):
        part = frame.slice(start, chunk)
        ids.extend(schema.doc_id(text, title) for text, title in
                   zip(part.get_column("text").to_list(), part.get_column("title").to_list()))
    return ids


def _dev_queries(query_ids: list[str], fraction: float, seed: int) -> set[str]:
    if not 0 <= fraction < 1:
        raise UserError(f"--dev-fraction: must be in [0, 1), got {fraction}")
    count = round(len(query_ids) * fraction)
    if fraction > 0 and count == 0:
        count = 1
    if count >= len(query_ids) and count > 0:
        raise UserError(f"--dev-fraction: {fraction} leaves no training queries out of {len(query_ids)}")
    ranked = sorted(query_ids, key=lambda q: hashlib.sha256(f"{seed}\x1f{q}".encode()).hexdigest())
    return set(ranked[:count])


def _write_table(table, config: str, split: str, folder: Path) -> str:
    import pyarrow.parquet as pq

    arrow_schema = schema.features(config).arrow_schema
    table = table.select(arrow_schema.names).cast(arrow_schema)
    rel = schema.data_file(config, split)
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / rel, compression="zstd")
    return rel


def _list_table(ordered, groups):
    """The ``lists`` config as arrow ListArrays over the already-ordered columns (no text copy)."""
    import pyarrow as pa

    offsets = pa.array(groups.get_column("start").to_list() + [ordered.height], pa.int32())
    columns = ordered.select("doc_id", "text", "level").to_arrow()
    return pa.table({
        "query_id": groups.get_column("query_id").to_arrow(),
        "query": groups.get_column("query").to_arrow(),
        "doc_ids": pa.ListArray.from_arrays(offsets, columns["doc_id"].combine_chunks().cast(pa.string())),
        "documents": pa.ListArray.from_arrays(offsets, columns["text"].combine_chunks().cast(pa.string())),
        "levels": pa.ListArray.from_arrays(offsets, columns["level"].combine_chunks().cast(pa.int32())),
    })


def write_configs(records, folder: Path, dev_fraction: float, seed: int) -> tuple[dict, object, dict]:
    """Write every config/split parquet into ``folder``; return files, the stats frame, merge counts.

    Memory is bounded by about two copies of the text column: frames are released as soon as the
    config that needs them is written (1M records stay well under 1.5 GB).
    """
    import polars as pl

    frame = pl.from_arrow(records)
    del records
    total = frame.height
    if frame.get_column("key").n_unique() != total:
        frame = frame.unique(subset="key", keep="first", maintain_order=True)
    conflicts = frame.select("query_id", "query").unique().group_by("query_id").len().filter(pl.col("len") > 1)
    if conflicts.height:
        raise UserError(f"query id {conflicts.get_column('query_id')[0]!r} has different texts in different runs")
    frame = frame.with_columns(pl.col("title").fill_null(""))
    frame = frame.with_columns(pl.Series("doc_id", _doc_ids(frame)))
    if frame.select(pl.struct("query_id", "doc_id").n_unique()).item() != frame.height:
        # the same text twice in one query's list: keep its highest level
        frame = frame.sort("level", descending=True).unique(subset=["query_id", "doc_id"], keep="first")
    queries = frame.select(pl.col("query_id").alias("_id"), pl.col("query").alias("text")).unique(
        subset="_id", keep="first").sort("_id")
    dev = _dev_queries(queries.get_column("_id").to_list(), dev_fraction, seed)
    frame = frame.with_columns(pl.col("query_id").is_in(list(dev)).alias("is_dev"))
    files = {}

    corpus = frame.select(pl.col("doc_id").alias("_id"), "title", "text")
    if corpus.get_column("_id").n_unique() != corpus.height:
        corpus = corpus.unique(subset="_id", keep="first", maintain_order=True)
    documents = corpus.height
    files["corpus/corpus"] = _write_table(corpus.to_arrow(), schema.CORPUS_CONFIG, schema.CORPUS_SPLIT, folder)
    del corpus
    files["queries/queries"] = _write_table(queries.to_arrow(), schema.QUERIES_CONFIG, schema.QUERIES_SPLIT, folder)

    ordered = frame.sort(["is_dev", "query_id", "level", "doc_id"], descending=[False, False, True, False])
    stats_frame = frame.select("query_id", "level", "words", "doc_id")
    del frame
    qrels = ordered.select(pl.col("query_id").alias("query-id"), pl.col("doc_id").alias("corpus-id"),
                           pl.col("level").alias("score"), "is_dev")
    groups = (ordered.with_row_index("start").group_by("query_id", maintain_order=True)
              .agg(pl.col("start").first(), pl.col("query").first(), pl.col("is_dev").first()))
    lists = _list_table(ordered, groups)
    del ordered
    n_train = groups.height - len(dev)
    split_tables = {schema.TRAIN_SPLIT: (qrels.filter(~pl.col("is_dev")), lists.slice(0, n_train))}
    if dev:
        split_tables[schema.DEV_SPLIT] = (qrels.filter(pl.col("is_dev")), lists.slice(n_train))
    for split, (qrels_part, lists_part) in split_tables.items():
        files[f"default/{split}"] = _write_table(qrels_part.to_arrow(), schema.QRELS_CONFIG, split, folder)
        files[f"lists/{split}"] = _write_table(lists_part, schema.LISTS_CONFIG, split, folder)
    merge = {"records_read": total, "duplicate_keys": total - stats_frame.height,
             "duplicate_documents": stats_frame.height - documents,
             "train_queries": n_train, "dev_queries": len(dev)}
    return files, stats_frame, merge


def build_dataset(run_dirs: list[str | Path], out: str | Path, version: str, dev_fraction: float = 0.0,
                  seed: int = 0, overwrite: bool = False, name: str | None = None) -> dict:
    """Build DATASET_DIR from one or more RUN_DIRs; returns the dataset manifest."""
    from dataset_builder import card, stats

    version = check_version(version)
    run_dirs = [Path(p) for p in run_dirs]
    run_manifests = read_run_manifests(run_dirs)
    incomplete = [m["_path"] for m in run_manifests if m.get("status") != "complete"]
    if incomplete:
        log.warning("building from runs that did not finish: %s", ", ".join(incomplete))
    rejects = [row for run_dir in run_dirs for row in iter_kind(run_dir, REJECTS)]
    out = Path(out)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        files, stats_frame, merge = write_configs(read_records(run_dirs), tmp, dev_fraction, seed)
        figures = stats.compute(stats_frame, rejects, merge, run_manifests)
        write_json_atomic(tmp / schema.STATS_FILE, figures)
        stats.plot(figures, tmp / schema.STATS_PLOT)
        file_hashes = {key: {"path": rel, "sha256": sha256_file(tmp / rel)} for key, rel in files.items()}
        content_hash = sha256_json(file_hashes)  # identity of the data itself, not of card or stats
        manifest = {
            "kind": schema.DATASET_KIND,
            "name": name or out.name,
            "version": version,
            "created": utc_now(),
            "content_hash": content_hash,
            "levels": run_manifests[0]["config"]["levels"],
            "generation": card.generation_summary(run_manifests),
            "queries_source": run_manifests[0].get("queries", {}),
            "counts": figures["counts"],
            "files": file_hashes,
            "source_runs": [{"path": str(Path(m["_path"]).parent), "manifest": Path(m["_path"]).name,
                             "status": m.get("status"), "config_hash": m.get("config_hash"),
                             "shard": m.get("shard")} for m in run_manifests],
            "build": {"dev_fraction": dev_fraction, "seed": seed},
            "tool_versions": tool_versions(),
        }
        write_json_atomic(tmp / schema.MANIFEST_FILE, manifest)
        card.write_basic_card(tmp, manifest, figures)
    return manifest
