"""Collections as mteb retrieval tasks, so scoring is mteb's own (pytrec_eval, graded nDCG).

Three kinds of task spec, told apart by ``resolve_tasks``:

- a local BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) → ``BeirFolderTask.from_folder``;
- a dataset built by ``rankladder build`` (local DATASET_DIR, or Hub ``org/repo[@revision]``) →
  ``BuiltDatasetTask.from_path`` on its ``dev`` split (mteb's own ``RetrievalDatasetLoader`` reads the parquet);
- an mteb task or benchmark name (``SciFact``, ``NanoBEIR``) → the tasks mteb registers.

Both local kinds pass through ``clean_split``: qrels naming unknown queries/documents and empty
queries are counted, warned about and skipped, so one bad line never sinks an evaluation.

Modules: ``task_common`` (TaskSource, split checks), ``beir_task``, ``built_task``; this one turns
``--tasks`` entries into tasks and loads them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mteb.abstasks.retrieval import AbsTaskRetrieval

from rankladder.core.beir import pick_split, qrels_splits, read_beir_folder  # noqa: F401 (re-exported)
from rankladder.core.errors import UserError
from rankladder.core.paths import looks_local, missing_path_message
from rankladder.dataset_builder import schema
from rankladder.eval.beir_task import BEIR_FILES, BeirFolderTask  # noqa: F401 (re-exported)
from rankladder.eval.built_task import BuiltDatasetTask
from rankladder.eval.task_common import (  # noqa: F401 (re-exported)
    DEFAULT_LANGS,
    TaskSource,
    clean_split,
    first_line,
    joined_corpus,
)

logger = logging.getLogger(__name__)


def resolve_tasks(specs: list[str], split: str | None = None) -> list[tuple[AbsTaskRetrieval, TaskSource]]:
    """Turn ``--tasks`` entries into (task, source) pairs; unknown names raise a UserError."""
    resolved = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.exists():
            if (path / schema.MANIFEST_FILE).is_file() or schema.has_split(
                path, schema.CORPUS_CONFIG, schema.CORPUS_SPLIT
            ):
                task = BuiltDatasetTask.from_path(str(path))
            elif (path / "corpus.jsonl").is_file():
                task = BeirFolderTask.from_folder(path, split=split)
            else:
                raise UserError(
                    f"{path}: neither a BEIR folder (corpus.jsonl) nor a built dataset ({schema.MANIFEST_FILE})"
                )
            resolved.append((task, task.source))
        elif looks_local(spec):  # a typo in a path is a missing folder, not a Hub repo that cannot be reached
            raise UserError(missing_path_message(spec, "task folder"))
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
        raise UserError(
            f"--tasks: unknown task '{name}': not a folder, a Hub repo (org/name), an mteb task or an mteb benchmark"
        ) from None


def _mteb_source(task) -> TaskSource:
    meta = task.metadata
    return TaskSource(meta.name, "mteb", meta.dataset["path"], meta.dataset["revision"], ",".join(meta.eval_splits))


def ensure_loaded(task, source: TaskSource) -> None:
    """Load a task's data now, turning an offline/missing dataset into a one-line UserError."""
    if task.data_loaded:
        return
    try:
        task.load_data()
    except UserError:
        raise
    except Exception as exc:
        raise UserError(
            f"task {source.name}: dataset {source.path_or_repo}@{source.revision} is not "
            f"available (offline and not in the HF cache?): {first_line(exc)}"
        ) from exc
