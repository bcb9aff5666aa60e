"""Training data: one or more *sources* merged into per-query lists of graded documents.

A source is a dataset (a rankladder DATASET_DIR, a Hub repo id ``org/name@revision``, or a BEIR
folder with ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv``) plus optional filters and
a relabelling, like trove's materialized qrel configs. ``load_lists(sources)`` returns a
``datasets.Dataset`` with one row per query: ``query_id``, ``query``, ``doc_ids``, ``documents``,
``labels`` (float) and ``doc_sources`` (index of the source each document came from).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from rankladder.core.beir import read_corpus, read_jsonl_rows, read_queries
from rankladder.core.beir import read_qrels_rows as read_qrels_tsv_rows
from rankladder.core.errors import UserError
from rankladder.core.metrics import document_text
from rankladder.core.paths import looks_local, missing_path_message
from rankladder.dataset_builder import schema

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Source:
    """One input of the training mix.

    Attributes:
        path: DATASET_DIR, BEIR folder, or Hub repo id (``org/name`` or ``org/name@revision``).
        kind: ``auto`` (``lists`` when the dataset has that config, else qrels), ``lists`` or ``qrels``.
        split: split to read (``train``; BEIR folders name their qrels file, e.g. ``test``).
        qrels: explicit qrels file (``.tsv``/``.jsonl``/``.parquet``) overriding ``qrels/<split>.*``,
            e.g. mined negatives.
        min_score / max_score: keep documents whose *original* score is within [min, max].
        score_transform: ``None`` (keep), a number (every kept document gets it), or a mapping
            ``{original: new}`` (unmapped scores are dropped).
        random_k: draw at most k of this source's documents per query, anew every epoch.
        label_policy: for ``lists`` of a judged dataset, which label a document's score is
            (``schema.LABEL_POLICIES``: ``intended``, ``judged``, ``agree``); None keeps ``levels``, the
            label policy the dataset was built with. Applied before the filters and ``score_transform``.
        max_disagreement: ``agree``: keep documents with ``|intended - judged| <= max_disagreement``
            (0: exact agreement only).
    """

    path: str
    kind: str = "auto"
    split: str = schema.TRAIN_SPLIT
    qrels: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    score_transform: Any = None
    random_k: int | None = None
    label_policy: str | None = None
    max_disagreement: int = 1

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Source:
        if isinstance(data, str):
            data = {"path": data}
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise UserError(f"source: unknown field(s) {sorted(unknown)} (allowed: {sorted(names)})")
        if "path" not in data:
            raise UserError("source: field 'path' is required")
        policy = data.get("label_policy")
        if policy is not None and policy not in schema.LABEL_POLICIES:
            raise UserError(
                f"source {data['path']}: label_policy must be one of {', '.join(schema.LABEL_POLICIES)}, got {policy!r}"
            )
        k = data.get("max_disagreement", 1)
        if not isinstance(k, int) or isinstance(k, bool) or k < 0:
            raise UserError(f"source {data['path']}: max_disagreement must be a non-negative integer, got {k!r}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def relabel(self, score: float) -> float | None:
        """Apply filters then ``score_transform``; None drops the document."""
        if self.min_score is not None and score < self.min_score:
            return None
        if self.max_score is not None and score > self.max_score:
            return None
        transform = self.score_transform
        if transform is None:
            return score
        if isinstance(transform, dict):
            for key, value in transform.items():
                if _as_float(key, f"{self.path}: score_transform key") == score:
                    return _as_float(value, f"{self.path}: score_transform value")
            return None
        return _as_float(transform, f"{self.path}: score_transform")


def _as_float(value, where: str) -> float:
    if isinstance(value, bool):
        raise UserError(f"{where}: label {value!r} is not numeric")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{where}: label {value!r} is not numeric") from None


def split_revision(path: str) -> tuple[str, str | None]:
    """``org/name@rev`` → (``org/name``, ``rev``); local paths keep any ``@``."""
    if "@" in path and not Path(path).exists():
        repo, rev = path.rsplit("@", 1)
        return repo, rev or None
    return path, None


def is_beir_folder(path: Path) -> bool:
    return (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file()


def dataset_configs(path: Path) -> set[str]:
    """Configs a local DATASET_DIR provides (from its parquet layout)."""
    found = set()
    for config, (folder, _splits) in schema.CONFIG_LAYOUT.items():
        if (path / folder).is_dir() and any((path / folder).glob("*.parquet")):
            found.add(config)
    return found


# -- readers: each returns {query_id: (query_text, [(doc_id, doc_text, score), ...])} -------------------
def _load_hf(path: str, revision: str | None, config: str, split: str):
    import datasets

    try:
        with schema.local_datasets_cache(path):
            return datasets.load_dataset(path, config, split=split, revision=revision)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        raise UserError(f"{path}: cannot load config {config!r} split {split!r}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # offline hub misses, bad repo ids, ...
        raise UserError(
            f"{path}: cannot load dataset: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from exc


def read_lists(
    path: str,
    revision: str | None,
    split: str,
    label_policy: str | None = None,
    max_disagreement: int = 1,
    dropped: dict | None = None,
) -> dict:
    """``{query_id: (query, docs)}`` of a ``lists`` split; ``dropped`` (if given) receives what the
    label policy dropped (``data_checks.policy_counts``)."""
    rows = _load_hf(path, revision, schema.LISTS_CONFIG, split)
    needed = set(schema.LISTS_COLUMNS) | ({"intended_levels", "judge_grades"} if label_policy else set())
    missing = needed - set(rows.column_names)
    if missing:
        why = f" (label_policy {label_policy!r} needs a dataset built from a judged run)" if label_policy else ""
        raise UserError(f"{path}: lists config lacks column(s) {sorted(missing)}{why}")
    out, read, kept = {}, [], []
    for line, row in enumerate(rows, start=1):
        levels = [_as_float(v, f"{path}: lists/{split} row {line}: field 'levels'") for v in row["levels"]]
        docs = list(zip(row["doc_ids"], row["documents"], levels))
        if label_policy:
            labels = (
                schema.policy_label(intended, grade, label_policy, max_disagreement)
                for intended, grade in zip(row["intended_levels"], row["judge_grades"])
            )
            read.append(len(docs))
            docs = [(did, text, float(label)) for (did, text, _), label in zip(docs, labels) if label is not None]
            kept.append(len(docs))
        out[str(row["query_id"])] = (row["query"], docs)
    if label_policy in ("judged", "agree") and not any(g is not None for r in rows for g in r["judge_grades"]):
        raise UserError(
            f"{path}: lists/{split} has no judged document (label_policy {label_policy!r} needs a dataset "
            "built from a run judged with `rankladder judge`)"
        )
    if label_policy and dropped is not None:
        from rankladder.training.data_checks import policy_counts

        dropped.update(policy_counts(label_policy, read, kept))
    return out


def read_qrels_rows(path: str, revision: str | None, split: str, qrels_file: str | None) -> tuple[dict, dict, list]:
    """(corpus {id: text}, queries {id: text}, qrels [(qid, did, score)]) from a DATASET_DIR, BEIR folder or Hub id."""
    local = Path(path)
    if local.is_dir() and is_beir_folder(local):
        # documents read exactly as eval reads them (mteb's title + " " + text join)
        corpus = {row["id"]: document_text(row["title"], row["text"]) for row in read_corpus(local)}
        queries = {row["id"]: row["text"] for row in read_queries(local)}
        qrels_path = Path(qrels_file) if qrels_file else local / "qrels" / f"{split}.tsv"
        return corpus, queries, _read_qrels_file(qrels_path)
    corpus_ds = _load_hf(path, revision, schema.CORPUS_CONFIG, schema.CORPUS_SPLIT)
    queries_ds = _load_hf(path, revision, schema.QUERIES_CONFIG, schema.QUERIES_SPLIT)
    corpus = {str(r["_id"]): document_text(r.get("title") or "", r["text"]) for r in corpus_ds}
    queries = {str(r["_id"]): r["text"] for r in queries_ds}
    if qrels_file:
        return corpus, queries, _read_qrels_file(Path(qrels_file))
    qrels_ds = _load_hf(path, revision, schema.QRELS_CONFIG, split)
    return corpus, queries, [(str(r["query-id"]), str(r["corpus-id"]), r["score"]) for r in qrels_ds]


def _jsonl(path: Path):
    for _, row in read_jsonl_rows(path, id_field="query-id"):
        yield row


def _read_qrels_file(path: Path) -> list:
    if not path.is_file():
        raise UserError(f"{path}: qrels file not found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path).to_pylist()
        return [(str(r["query-id"]), str(r["corpus-id"]), r["score"]) for r in table]
    if path.suffix == ".jsonl":
        return [(str(r["query-id"]), str(r["corpus-id"]), r["score"]) for r in _jsonl(path)]
    return read_qrels_tsv_rows(path)  # the one qrels-TSV reader (header names the score column)


def check_source_exists(source: Source) -> None:
    """A local-looking source path (``rankladder.core.paths``) or qrels file that does not exist: one line
    saying so, before anything is loaded (not a Hub error about a typo)."""
    path, _ = split_revision(source.path)
    if looks_local(path) and not Path(path).expanduser().exists():
        raise UserError(missing_path_message(source.path, "dataset folder"))
    if source.qrels and not Path(source.qrels).is_file():
        raise UserError(f"{source.qrels}: qrels file not found (source {source.path})")


def read_source(source: Source, dropped: dict | None = None) -> dict:
    """Read one source (before filters): {query_id: (query, [(doc_id, text, score), ...])}; ``dropped``
    receives what its label policy dropped."""
    path, revision = split_revision(source.path)
    local = Path(path)
    check_source_exists(source)
    if looks_local(path) and not local.is_dir():
        raise UserError(f"{source.path}: not a dataset folder")
    kind = source.kind
    if kind not in ("auto", "lists", "qrels"):
        raise UserError(f"{source.path}: source kind must be auto, lists or qrels, got {kind!r}")
    if local.is_dir():
        if is_beir_folder(local):
            if kind == "lists":
                raise UserError(f"{source.path}: a BEIR folder has no 'lists' config")
            kind = "qrels"
        else:
            configs = dataset_configs(local)
            if kind == "auto":
                kind = "lists" if schema.LISTS_CONFIG in configs else "qrels"
            needed = {schema.LISTS_CONFIG} if kind == "lists" else {schema.CORPUS_CONFIG, schema.QUERIES_CONFIG}
            if not source.qrels and kind == "qrels":
                needed.add(schema.QRELS_CONFIG)
            if not needed <= configs:
                raise UserError(
                    f"{source.path}: missing config(s) {sorted(needed - configs)} "
                    f"(a training source needs 'lists', or corpus + queries + qrels)"
                )
    elif kind == "auto":
        kind = "lists"
    if source.label_policy and kind != "lists":
        raise UserError(f"{source.path}: label_policy applies to a dataset's 'lists' config only (kind {kind!r})")
    if kind == "lists":
        return read_lists(path, revision, source.split, source.label_policy, source.max_disagreement, dropped)
    corpus, queries, qrels = read_qrels_rows(path, revision, source.split, source.qrels)
    out: dict = {}
    for line, (qid, did, score) in enumerate(qrels, start=1):
        if qid not in queries or did not in corpus:
            continue
        score = _as_float(score, f"{source.qrels or source.path}: qrels row {line}: field 'score'")
        out.setdefault(qid, (queries[qid], []))[1].append((did, corpus[did], score))
    return out


def load_lists(sources: list[Source], label_policy_report: list | None = None):
    """Merge the sources per query id into a ``datasets.Dataset`` of graded lists.

    A document listed by several sources keeps the label of the first source that lists it.
    ``label_policy_report`` (if given) receives, per source with a label policy, what the policy dropped.
    """
    import datasets

    merged: dict[str, dict] = {}
    for index, source in enumerate(sources):
        before = sum(len(m["doc_ids"]) for m in merged.values())
        dropped: dict = {}
        for qid, (query, docs) in read_source(source, dropped).items():
            entry = merged.setdefault(
                qid, {"query_id": qid, "query": query, "doc_ids": [], "documents": [], "labels": [], "doc_sources": []}
            )
            for did, text, score in docs:
                label = source.relabel(score)
                if label is None or did in entry["doc_ids"]:
                    continue
                entry["doc_ids"].append(str(did))
                entry["documents"].append(text)
                entry["labels"].append(float(label))
                entry["doc_sources"].append(index)
        if dropped and label_policy_report is not None:
            label_policy_report.append({"source": index, "path": source.path, **dropped})
        added = sum(len(m["doc_ids"]) for m in merged.values()) - before
        logger.info("source %d (%s): %d documents", index, source.path, added)
        if added == 0:
            logger.warning("source %s contributed no documents (check split / filters)", source.path)
    rows = [m for m in merged.values() if m["doc_ids"]]
    if not rows:
        raise UserError("training data: no query has any document after filters")
    features = datasets.Features(
        {
            "query_id": datasets.Value("string"),
            "query": datasets.Value("string"),
            "doc_ids": datasets.Sequence(datasets.Value("string")),
            "documents": datasets.Sequence(datasets.Value("string")),
            "labels": datasets.Sequence(datasets.Value("float64")),
            "doc_sources": datasets.Sequence(datasets.Value("int32")),
        }
    )
    return datasets.Dataset.from_list(rows, features=features)


def dataset_provenance(path: str) -> dict[str, Any]:
    """``{"path_or_repo", "revision", "version", "content_hash"}`` from a dataset's manifest, if any."""
    repo, revision = split_revision(path)
    info = {"path_or_repo": repo, "revision": revision, "version": None, "content_hash": None}
    manifest = Path(repo) / schema.MANIFEST_FILE
    if not manifest.is_file() and not Path(repo).exists():
        try:
            from huggingface_hub import hf_hub_download

            manifest = Path(hf_hub_download(repo, schema.MANIFEST_FILE, repo_type="dataset", revision=revision))
        except Exception:  # offline or no manifest: provenance stays partial
            return info
    if manifest.is_file():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        info["version"] = data.get("version")
        info["content_hash"] = data.get("content_hash")
    return info
