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


def read_qrels_rows(path: str | Path) -> list[tuple[str, str, float]]:
    """``(query_id, corpus_id, score)`` rows of a qrels TSV, in file order.

    A header row (first column ``query-id``) is skipped and names the columns, so files with extra
    columns (``rankladder mine`` adds ``rank`` and ``retrieval-score``) are read by name. Without a
    header: ``query-id, corpus-id, score``, or the TREC layout ``qid, iteration, docid, grade``.
    """
    rows: list[tuple[str, str, float]] = []
    columns = None
    for line_no, line in iter_lines(path):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("\t")]
        if line_no == 1 and parts[0].lower() in ("query-id", "query_id", "qid"):
            names = [name.lower().replace("_", "-") for name in parts]
            if "score" not in names or len(names) < 3:
                raise located(path, "header must name query-id, corpus-id and score", line=line_no)
            columns = (0, 1, names.index("score"))
            continue
        if columns is not None:
            if len(parts) != len(names):
                raise located(
                    path, f"expected {len(names)} tab-separated columns like the header, got {len(parts)}", line=line_no
                )
            at = columns
        elif len(parts) == 3:
            at = (0, 1, 2)
        elif len(parts) == 4:  # TREC layout: qid, iteration, docid, grade
            at = (0, 2, 3)
        else:
            raise located(
                path, f"expected 3 tab-separated columns (query-id, corpus-id, score), got {len(parts)}", line=line_no
            )
        try:
            score = float(parts[at[2]])
        except ValueError:
            raise located(path, f"not a number: {parts[at[2]]!r}", line=line_no, field="score") from None
        rows.append((parts[at[0]], parts[at[1]], score))
    return rows


def read_qrels(path: str | Path) -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: grade}}`` (integer grades, as mteb and pytrec_eval use them)."""
    qrels: dict[str, dict[str, int]] = {}
    for query_id, doc_id, score in read_qrels_rows(path):
        qrels.setdefault(query_id, {})[doc_id] = int(score)
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
        raise UserError(
            f"{folder / 'qrels' / (split + '.tsv')}: qrels split '{split}' not found "
            f"(available: {', '.join(available) or 'none'})"
        )
    return split


def read_corpus(folder: str | Path) -> list[dict]:
    """``[{"id", "title", "text"}]`` from ``corpus.jsonl``."""
    return [
        {"id": str(row["_id"]), "title": str(row.get("title") or ""), "text": str(row.get("text") or "")}
        for _, row in read_jsonl_rows(Path(folder) / "corpus.jsonl")
    ]


def read_queries(folder: str | Path) -> list[dict]:
    """``[{"id", "text"}]`` from ``queries.jsonl``."""
    return [
        {"id": str(row["_id"]), "text": str(row.get("text") or "")}
        for _, row in read_jsonl_rows(Path(folder) / "queries.jsonl")
    ]


def read_beir_folder(folder: str | Path, split: str):
    """Corpus rows, query rows and qrels of one split, as plain Python data."""
    folder = Path(folder)
    return read_corpus(folder), read_queries(folder), read_qrels(folder / "qrels" / f"{split}.tsv")
