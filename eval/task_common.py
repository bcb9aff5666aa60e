"""What both local task kinds share: where a task came from, the checks on its split, its metadata.

- ``TaskSource``: the task's name, kind and input revision, as the summary JSON and manifest record them;
- ``clean_split``: empty queries and qrels naming unknown ids are counted, warned about and skipped; a split
  where no query has a relevant document (nDCG 0/0 everywhere) is refused;
- ``joined_corpus``: the documents as mteb must see them (title joined into text, see its doc);
- ``task_metadata``, ``combined_hash``, ``first_line``: small helpers of the task classes.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mteb.abstasks.task_metadata import TaskMetadata

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.core.metrics import document_text

logger = logging.getLogger(__name__)

DEFAULT_LANGS = ["eng-Latn"]


@dataclass
class TaskSource:
    """Where a task's data came from: what the summary JSON and the manifest record."""

    name: str
    kind: str  # "beir" | "built" | "mteb"
    path_or_repo: str
    revision: str
    split: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clean_split(corpus_ids, queries, qrels, where: str):
    """Drop empty queries and qrels whose ids are absent; warn with counts. Returns (queries, qrels).

    ``queries`` is a list of {"id", "text"}; the result keeps only queries that have judgments.
    """
    corpus_ids = set(corpus_ids)
    empty = [q["id"] for q in queries if not q["text"].strip()]
    if empty:
        logger.warning("%s: %d empty queries skipped (ids: %s)", where, len(empty), ", ".join(empty[:5]))
    good = {q["id"]: q for q in queries if q["text"].strip()}
    missing_q = [qid for qid in qrels if qid not in good and qid not in empty]
    missing_d = sum(1 for docs in qrels.values() for did in docs if did not in corpus_ids)
    if missing_q:
        logger.warning(
            "%s: %d qrels query ids absent from queries, skipped (e.g. %s)",
            where,
            len(missing_q),
            ", ".join(missing_q[:5]),
        )
    if missing_d:
        logger.warning("%s: %d qrels corpus ids absent from corpus, skipped", where, missing_d)
    kept = {}
    for qid, docs in qrels.items():
        if qid not in good:
            continue
        docs = {did: score for did, score in docs.items() if did in corpus_ids}
        if docs:
            kept[qid] = docs
    if not kept:
        raise UserError(f"{where}: no usable judgments left (every query is empty or unknown)")
    if not any(score > 0 for docs in kept.values() for score in docs.values()):
        # every nDCG would be 0/0: reported as 0.00 and exit 0 before, a number that measures nothing
        raise UserError(
            f"{where}: no query has a relevant document (every score of the {len(kept)} judged queries is 0 "
            "or less), so nDCG is undefined; check the qrels' score column"
        )
    return [good[qid] for qid in good if qid in kept], kept


def joined_corpus(corpus: list[dict]) -> list[dict]:
    """Corpus rows as mteb should see them: one ``text`` per document, the title already joined in.

    mteb joins ``title + " " + text`` itself, but its ``CachedEmbeddingWrapper`` (``--embedding-cache``)
    joins again rows that were already joined (mteb 2.26.24), so every document was read as
    ``title title text``. Handing mteb no title column makes every mteb code path read the same text,
    which is also what a direct computation reads (``rankladder.core.metrics.document_text``).
    """
    return [{"id": row["id"], "text": document_text(row.get("title"), row.get("text"))} for row in corpus]


def task_metadata(name: str, path: str, revision: str, split: str, description: str, langs) -> TaskMetadata:
    return TaskMetadata(
        name=name,
        description=description,
        dataset={"path": path, "revision": revision},
        type="Retrieval",
        category="t2t",
        modalities=["text"],
        eval_splits=[split],
        eval_langs=list(langs),
        main_score="ndcg_at_10",
    )


def combined_hash(files) -> str:
    """sha256 over the names and contents of ``files`` (a local task's revision)."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(Path(f).name.encode())
        digest.update(sha256_file(f).encode())
    return digest.hexdigest()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
