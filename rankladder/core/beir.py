"""The one reader of BEIR folders: ``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``.

Used by every stage that reads a real collection (eval's tasks, mining, query loading, training
sources), so a qrels file means the same thing everywhere: a header row (``query-id``) is skipped, the
score is an integer grade, a malformed line is one error naming ``file:line``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankladder.core.errors import UserError, located
from rankladder.core.textio import iter_lines

QRELS_HEADER = ("query-id", "corpus-id", "score")


def read_jsonl_rows(path: str | Path, id_field: str = "_id") -> list[tuple[int, dict]]:
    """``(line_number, row)`` for every non-blank line; each row must be an object with ``id_field``."""
    rows = []
    for line_no, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise located(path, f"invalid JSON: {exc.msg}", line=line_no) from None
        if not isinstance(row, dict) or id_field not in row:
            raise located(path, "missing", line=line_no, field=id_field)
        rows.append((line_no, row))
    return rows


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``query-id<TAB>corpus-id<TAB>score`` (header optional) → ``{query_id: {doc_id: grade}}``."""
    qrels: dict[str, dict[str, int]] = {}
    for line_no, line in iter_lines(path):
        parts = line.split("\t")
        if not line.strip():
            continue
        if line_no == 1 and parts[0].strip().lower() in ("query-id", "query_id", "qid"):
            continue
        if len(parts) == 4:  # TREC layout: qid, iteration, docid, grade
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3:
            raise located(path, f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(parts)}",
                          line=line_no)
        try:
            score = int(float(parts[2]))
        except ValueError:
            raise located(path, f"not a number: {parts[2]!r}", line=line_no, field="score") from None
        qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = score
    return qrels


def qrels_splits(folder: str | Path) -> list[str]:
    return sorted(p.stem for p in (Path(folder) / "qrels").glob("*.tsv"))


def pick_split(folder: str | Path, split: str | None) -> str:
    """``split`` if the folder has it; by default ``test`` (else the first split found)."""
    folder = Path(folder)
    available = qrels_splits(folder)
    if split is None:
        split = "test" if "test" in available or not available else available[0]
    if split not in available:
        raise UserError(f"{folder / 'qrels' / (split + '.tsv')}: qrels split '{split}' not found "
                        f"(available: {', '.join(available) or 'none'})")
    return split


def read_corpus(folder: str | Path) -> list[dict]:
    """``[{"id", "title", "text"}]`` from ``corpus.jsonl``."""
    return [{"id": str(row["_id"]), "title": str(row.get("title") or ""), "text": str(row.get("text") or "")}
            for _, row in read_jsonl_rows(Path(folder) / "corpus.jsonl")]


def read_queries(folder: str | Path) -> list[dict]:
    """``[{"id", "text"}]`` from ``queries.jsonl``."""
    return [{"id": str(row["_id"]), "text": str(row.get("text") or "")}
            for _, row in read_jsonl_rows(Path(folder) / "queries.jsonl")]


def read_beir_folder(folder: str | Path, split: str):
    """Corpus rows, query rows and qrels of one split, as plain Python data."""
    folder = Path(folder)
    return read_corpus(folder), read_queries(folder), read_qrels(folder / "qrels" / f"{split}.tsv")
