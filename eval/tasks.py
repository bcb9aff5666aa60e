"""Collections as mteb retrieval tasks, so scoring is mteb's own (pytrec_eval, graded nDCG).

Three kinds of task spec, told apart by ``resolve_tasks``:

- a local BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) → ``BeirFolderTask.from_folder``;
- a dataset built by ``rankladder build`` (local DATASET_DIR, or Hub ``org/repo[@revision]``) →
  ``BuiltDatasetTask.from_path`` on its ``dev`` split (mteb's own ``RetrievalDatasetLoader`` reads the parquet);
- an mteb task or benchmark name (``SciFact``, ``NanoBEIR``) → the tasks mteb registers.

Both local kinds pass through ``clean_split``: qrels naming unknown queries/documents and empty
queries are counted, warned about and skipped, so one bad line never sinks an evaluation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mteb.abstasks.retrieval import AbsTaskRetrieval
from mteb.abstasks.task_metadata import TaskMetadata

from rankladder.dataset_builder import schema
from rankladder.core.beir import pick_split, qrels_splits, read_beir_folder  # noqa: F401 (re-exported)
from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.core.metrics import document_text

logger = logging.getLogger(__name__)

DEFAULT_LANGS = ["eng-Latn"]
BEIR_FILES = ("corpus.jsonl", "queries.jsonl")


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


# ---------------------------------------------------------------- validation shared by both local kinds
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
        logger.warning("%s: %d qrels query ids absent from queries, skipped (e.g. %s)",
                       where, len(missing_q), ", ".join(missing_q[:5]))
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
    return [good[qid] for qid in good if qid in kept], kept


def joined_corpus(corpus: list[dict]) -> list[dict]:
    """Corpus rows as mteb should see them: one ``text`` per document, the title already joined in.

    mteb joins ``title + " " + text`` itself, but its ``CachedEmbeddingWrapper`` (``--embedding-cache``)
    joins again rows that were already joined (mteb 2.26.24), so every document was read as
    ``title title text``. Handing mteb no title column makes every mteb code path read the same text,
    which is also what a direct computation reads (``rankladder.core.metrics.document_text``).
    """
    return [{"id": row["id"], "text": document_text(row.get("title"), row.get("text"))} for row in corpus]


def _metadata(name: str, path: str, revision: str, split: str, description: str, langs) -> TaskMetadata:
    return TaskMetadata(
        name=name, description=description, dataset={"path": path, "revision": revision},
        type="Retrieval", category="t2t", modalities=["text"], eval_splits=[split],
        eval_langs=list(langs), main_score="ndcg_at_10",
    )


# ---------------------------------------------------------------- the two local task kinds
class BeirFolderTask(AbsTaskRetrieval):
    """A local BEIR folder as an mteb retrieval task (graded qrels kept as they are).

    Build one with ``BeirFolderTask.from_folder(path)``: mteb expects ``metadata`` on the class,
    so each folder gets its own small subclass.
    """

    folder: Path

    @classmethod
    def from_folder(cls, folder: str | Path, split: str | None = None, name: str | None = None,
                    langs=DEFAULT_LANGS) -> BeirFolderTask:
        folder = Path(folder).resolve()
        for fname in BEIR_FILES:
            if not (folder / fname).is_file():
                raise UserError(f"{folder / fname}: file not found (not a BEIR folder)")
        split = pick_split(folder, split)
        files = [folder / f for f in BEIR_FILES] + [folder / "qrels" / f"{split}.tsv"]
        revision = "sha256-" + _combined_hash(files)[:16]
        metadata = _metadata(name or folder.name, str(folder), revision, split,
                             f"Local BEIR folder {folder.name} ({split} split).", langs)
        return type(cls.__name__, (cls,), {"metadata": metadata, "folder": folder})()

    @property
    def source(self) -> TaskSource:
        return TaskSource(self.metadata.name, "beir", str(self.folder), self.metadata.revision,
                          self.metadata.eval_splits[0])

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        from datasets import Dataset

        if self.data_loaded:
            return
        split = self.metadata.eval_splits[0]
        corpus, queries, qrels = read_beir_folder(self.folder, split)
        queries, qrels = clean_split((d["id"] for d in corpus), queries, qrels,
                                     str(self.folder / "qrels" / f"{split}.tsv"))
        self.dataset = {"default": {split: {
            "corpus": Dataset.from_list(joined_corpus(corpus)), "queries": Dataset.from_list(queries),
            "relevant_docs": qrels, "top_ranked": None,
        }}}
        self.data_loaded = True


class BuiltDatasetTask(AbsTaskRetrieval):
    """A DATASET_DIR from ``rankladder build`` (or its Hub repo) on its ``dev`` split.

    Loading is mteb's own ``RetrievalDatasetLoader`` (the README's ``configs:`` declare the parquet
    files); ``dataset_transform`` then applies the same checks as for BEIR folders.
    """

    path_or_repo: str
    is_local: bool

    @classmethod
    def from_path(cls, path_or_repo: str, revision: str | None = None, split: str = schema.DEV_SPLIT,
                  name: str | None = None, langs=DEFAULT_LANGS) -> BuiltDatasetTask:
        local = Path(path_or_repo)
        is_local = local.exists()
        if is_local:
            local = local.resolve()
            path_or_repo = str(local)
            qrels_file = local / schema.data_file(schema.QRELS_CONFIG, split)
            if not qrels_file.is_file():
                raise UserError(f"{qrels_file}: qrels split '{split}' not found in built dataset")
            manifest = local / schema.MANIFEST_FILE
            info = json.loads(manifest.read_text()) if manifest.is_file() else {}
            revision = revision or info.get("content_hash") or "sha256-" + _combined_hash(
                sorted(local.rglob("*.parquet")))[:16]
            default_name = local.name
        else:
            if revision is None:
                logger.warning("%s: no @revision given; results record 'main' (not reproducible)", path_or_repo)
            default_name = path_or_repo.rsplit("/", 1)[-1]
        metadata = _metadata(name or default_name, path_or_repo, revision or "main", split,
                             f"rankladder built dataset {path_or_repo} ({split} split).", langs)
        attrs = {"metadata": metadata, "path_or_repo": path_or_repo, "is_local": is_local}
        return type(cls.__name__, (cls,), attrs)()

    @property
    def source(self) -> TaskSource:
        return TaskSource(self.metadata.name, "built", self.path_or_repo, self.metadata.revision,
                          self.metadata.eval_splits[0])

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        if self.is_local:  # a local folder has no git revision: let `datasets` read the files as they are
            self.metadata.dataset["revision"], revision = None, self.metadata.dataset["revision"]
        try:
            with schema.local_datasets_cache(self.path_or_repo if self.is_local else ""):
                super().load_data(num_proc=num_proc, **kwargs)
        except UserError:
            raise
        except Exception as exc:  # offline Hub miss, missing split, bad card …
            raise UserError(f"{self.path_or_repo}: cannot load built dataset: {_first_line(exc)}") from exc
        finally:
            if self.is_local:
                self.metadata.dataset["revision"] = revision

    def dataset_transform(self, num_proc: int | None = None, **kwargs: Any) -> None:
        from datasets import Dataset

        for split, data in self.dataset["default"].items():
            if "title" in data["corpus"].column_names:
                data["corpus"] = data["corpus"].map(
                    lambda row: {"text": document_text(row["title"], row["text"])}).remove_columns("title")
            queries = [{"id": q["id"], "text": q["text"] or ""} for q in data["queries"]]
            queries, qrels = clean_split(data["corpus"]["id"], queries, data["relevant_docs"],
                                         f"{self.path_or_repo} [{split}]")
            data["queries"], data["relevant_docs"] = Dataset.from_list(queries), qrels

    def load_lists(self) -> list[dict]:
        """The graded lists of the split (``lists`` config): query, documents, levels."""
        from datasets import load_dataset

        split = self.metadata.eval_splits[0]
        kwargs = {} if self.is_local else {"revision": self.metadata.revision}
        try:
            with schema.local_datasets_cache(self.path_or_repo if self.is_local else ""):
                ds = load_dataset(self.path_or_repo, schema.LISTS_CONFIG, split=split, **kwargs)
        except Exception as exc:
            raise UserError(f"{self.path_or_repo}: cannot load '{schema.LISTS_CONFIG}' [{split}]: "
                            f"{_first_line(exc)}") from exc
        return [{"query_id": r["query_id"], "query": r["query"], "documents": r["documents"],
                 "levels": r["levels"]} for r in ds]


# ---------------------------------------------------------------- spec → tasks
def resolve_tasks(specs: list[str], split: str | None = None) -> list[tuple[AbsTaskRetrieval, TaskSource]]:
    """Turn ``--tasks`` entries into (task, source) pairs; unknown names raise a UserError."""
    resolved = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.exists():
            if (path / schema.MANIFEST_FILE).is_file() or (path / schema.data_file(
                    schema.CORPUS_CONFIG, schema.CORPUS_SPLIT)).is_file():
                task = BuiltDatasetTask.from_path(str(path))
            elif (path / "corpus.jsonl").is_file():
                task = BeirFolderTask.from_folder(path, split=split)
            else:
                raise UserError(f"{path}: neither a BEIR folder (corpus.jsonl) nor a built dataset "
                                f"({schema.MANIFEST_FILE})")
            resolved.append((task, task.source))
        elif spec.startswith((".", "/", "~")) or spec.endswith("/"):
            raise UserError(f"{spec}: task folder not found")
        elif "/" in spec:  # Hub repo of a built dataset, optionally @revision
            repo, _, rev = spec.partition("@")
            task = BuiltDatasetTask.from_path(repo, revision=rev or None)
            resolved.append((task, task.source))
        else:
            resolved.extend((t, _mteb_source(t)) for t in _mteb_tasks(spec))
    names = [source.name for _, source in resolved]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UserError(f"--tasks: task name(s) given twice: {', '.join(duplicates)}")
    return resolved


def _mteb_tasks(name: str) -> list:
    import mteb

    try:
        return [mteb.get_task(name)]
    except KeyError:
        pass
    try:
        return list(mteb.get_benchmark(name).tasks)
    except KeyError:
        raise UserError(f"--tasks: unknown task '{name}': not a folder, a Hub repo (org/name), "
                        "an mteb task or an mteb benchmark") from None


def _mteb_source(task) -> TaskSource:
    meta = task.metadata
    return TaskSource(meta.name, "mteb", meta.dataset["path"], meta.dataset["revision"],
                      ",".join(meta.eval_splits))


def ensure_loaded(task, source: TaskSource) -> None:
    """Load a task's data now, turning an offline/missing dataset into a one-line UserError."""
    if task.data_loaded:
        return
    try:
        task.load_data()
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"task {source.name}: dataset {source.path_or_repo}@{source.revision} is not "
                        f"available (offline and not in the HF cache?): {_first_line(exc)}") from exc


def _combined_hash(files) -> str:
    import hashlib

    digest = hashlib.sha256()
    for f in files:
        digest.update(Path(f).name.encode())
        digest.update(sha256_file(f).encode())
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
