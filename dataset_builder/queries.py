"""Query readers: JSONL, TSV (MS MARCO style), a BEIR folder, or a Hugging Face dataset.

Every reader returns :class:`Query` records, deduplicated by id; bad input raises ``UserError``
naming the file, line and field.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

from rankladder.core.beir import pick_split, read_qrels
from rankladder.core.errors import UserError, located
from rankladder.core.fsutil import sha256_file
from rankladder.core.paths import looks_local, missing_path_message
from rankladder.core.textio import iter_lines

BUNDLED_QUERIES = Path(__file__).parent / "data" / "queries.jsonl"
FORMATS = ("auto", "jsonl", "tsv", "beir", "hf")
ID_FIELDS = ("_id", "id", "query_id", "query-id", "qid")
TEXT_FIELDS = ("text", "query", "question")


@dataclass(frozen=True)
class Query:
    id: str
    text: str


@dataclass(frozen=True)
class QuerySpec:
    """Where queries come from (recorded in manifests): the query fields of a ``GenerateConfig``, already
    validated there (:meth:`from_config`); not a config. ``QuerySpec(path, limit=...)`` for short."""

    source: str | None = None
    format: str = "auto"
    id_field: str | None = None
    text_field: str | None = None
    qrels_split: str | None = None
    hf_config: str | None = None
    hf_split: str = "train"
    limit: int | None = None
    seed: int = 0

    @classmethod
    def from_config(cls, config) -> QuerySpec:
        """The queries of a ``GenerateConfig``."""
        return cls(
            source=config.queries,
            format=config.queries_format,
            id_field=config.id_field,
            text_field=config.text_field,
            qrels_split=config.qrels_split,
            hf_config=config.hf_config,
            hf_split=config.hf_split,
            limit=config.limit,
            seed=config.seed,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def _pick_field(row: dict, wanted: str | None, candidates: tuple[str, ...], path, line, role: str) -> str:
    if wanted is not None:
        if wanted not in row:
            raise located(path, f"{role} column not found (columns: {', '.join(map(str, row))})", line, wanted)
        return wanted
    for name in candidates:
        if name in row:
            return name
    raise located(
        path, f"no {role} column (expected one of {', '.join(candidates)}; got {', '.join(map(str, row))})", line
    )


class _Collector:
    """Keeps first occurrence per id; same id with another text is an error."""

    def __init__(self) -> None:
        self.by_id: dict[str, Query] = {}
        self.duplicates = 0

    def add(self, qid, text, path, line, id_field: str, text_field: str) -> None:
        if qid is None or str(qid).strip() == "":
            raise located(path, "empty query id", line, id_field)
        if not isinstance(text, str) or not text.strip():
            raise located(path, "empty or non-string query text", line, text_field)
        qid, text = str(qid).strip(), " ".join(text.split())
        seen = self.by_id.get(qid)
        if seen is None:
            self.by_id[qid] = Query(qid, text)
        elif seen.text == text:
            self.duplicates += 1
        else:
            raise located(path, f"duplicate query id {qid!r} with a different text", line, id_field)


def read_jsonl(path: Path, id_field=None, text_field=None, collector=None) -> _Collector:
    collector = collector or _Collector()
    for line_no, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise located(path, f"malformed JSON ({exc.msg})", line_no) from None
        if not isinstance(row, dict):
            raise located(path, "expected a JSON object", line_no)
        id_key = _pick_field(row, id_field, ID_FIELDS, path, line_no, "id")
        text_key = _pick_field(row, text_field, TEXT_FIELDS, path, line_no, "text")
        collector.add(row[id_key], row[text_key], path, line_no, id_key, text_key)
    return collector


def read_tsv(path: Path) -> _Collector:
    collector = _Collector()
    for line_no, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise located(path, f"expected 2 tab-separated fields (id, text), got {len(parts)}", line_no)
        if line_no == 1 and parts[0].strip().lower() in ID_FIELDS:
            continue  # a header row (its id column reads like a column name) is never a query
        collector.add(parts[0], parts[1], path, line_no, "id", "text")
    return collector


def _judged_ids(folder: Path, split: str) -> set[str]:
    pick_split(folder, split)  # one line naming the missing split and the available ones
    return set(read_qrels(folder / "qrels" / f"{split}.tsv"))


def read_hf(spec: QuerySpec) -> _Collector:
    import datasets

    try:
        data = datasets.load_dataset(spec.source, spec.hf_config, split=spec.hf_split)
    except Exception as exc:  # datasets raises many types; report the first line
        raise UserError(f"{spec.source}: cannot load HF dataset: {str(exc).splitlines()[0]}") from None
    collector = _Collector()
    columns = {name: None for name in data.column_names}
    id_key = _pick_field(columns, spec.id_field, ID_FIELDS, spec.source, None, "id")
    text_key = _pick_field(columns, spec.text_field, TEXT_FIELDS, spec.source, None, "text")
    for index, row in enumerate(data.select_columns([id_key, text_key])):
        collector.add(row[id_key], row[text_key], spec.source, index + 1, id_key, text_key)
    return collector


def detect_format(source: Path) -> str:
    if source.is_dir():
        if (source / "queries.jsonl").is_file():
            return "beir"
        if (
            any(source.glob("*.parquet"))
            or (source / "dataset_info.json").is_file()
            or (source / "README.md").is_file()
        ):
            return "hf"
        raise UserError(f"{source}: folder has no queries.jsonl (BEIR) and is not a HF dataset folder")
    if source.suffix in (".tsv", ".txt"):
        return "tsv"
    return "jsonl"


def load_queries(spec: QuerySpec) -> tuple[list[Query], dict]:
    """Queries (sorted by id, then sampled) and a description of their source for manifests."""
    if spec.format not in FORMATS:
        raise UserError(
            f"queries_format (--queries-format): unknown format {spec.format!r} (choose from {', '.join(FORMATS)})"
        )
    source = Path(spec.source) if spec.source else BUNDLED_QUERIES
    fmt = spec.format
    if fmt == "auto":
        if spec.source and not source.exists() and "/" in spec.source and not looks_local(spec.source):
            fmt = "hf"  # looks like a Hub repo id
        elif not source.exists():
            raise UserError(missing_path_message(source, "queries file"))
        else:
            fmt = detect_format(source)
    if fmt != "hf" and not source.exists():
        raise UserError(f"{source}: queries file not found")
    description = {"source": str(source) if spec.source else "bundled:queries.jsonl", "format": fmt}
    if fmt == "jsonl":
        collector = read_jsonl(source, spec.id_field, spec.text_field)
    elif fmt == "tsv":
        collector = read_tsv(source)
    elif fmt == "beir":
        collector = read_jsonl(source / "queries.jsonl", spec.id_field, spec.text_field)
        if spec.qrels_split:
            judged = _judged_ids(source, spec.qrels_split)
            collector.by_id = {qid: q for qid, q in collector.by_id.items() if qid in judged}
            description["qrels_split"] = spec.qrels_split
    else:
        collector = read_hf(spec)
        description.update(config=spec.hf_config, split=spec.hf_split)
    if fmt in ("jsonl", "tsv"):
        description["sha256"] = sha256_file(source)
    elif fmt == "beir":
        description["sha256"] = sha256_file(source / "queries.jsonl")
    queries = sorted(collector.by_id.values(), key=lambda q: q.id)
    if not queries:
        raise UserError(f"{source}: no queries found")
    description["available"] = len(queries)
    description["duplicates_dropped"] = collector.duplicates
    if spec.limit is not None:
        if spec.limit < 1:
            raise UserError(f"limit (--limit): must be positive, got {spec.limit}")
        if spec.limit < len(queries):
            queries = sorted(random.Random(spec.seed).sample(queries, spec.limit), key=lambda q: q.id)
        description.update(limit=spec.limit, seed=spec.seed)
    description["count"] = len(queries)
    return queries, description
