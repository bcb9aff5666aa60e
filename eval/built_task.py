"""A dataset built by ``rankladder build`` (local DATASET_DIR or Hub ``org/repo[@revision]``) as an mteb task."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mteb.abstasks.retrieval import AbsTaskRetrieval

from rankladder.core.errors import UserError
from rankladder.core.metrics import document_text
from rankladder.dataset_builder import schema
from rankladder.eval.task_common import DEFAULT_LANGS, TaskSource, clean_split, combined_hash, first_line, task_metadata

logger = logging.getLogger(__name__)


class BuiltDatasetTask(AbsTaskRetrieval):
    """A DATASET_DIR from ``rankladder build`` (or its Hub repo) on its ``dev`` split.

    Loading is mteb's own ``RetrievalDatasetLoader`` (the README's ``configs:`` declare the parquet
    files); ``dataset_transform`` then applies the same checks as for BEIR folders.
    """

    path_or_repo: str
    is_local: bool

    @classmethod
    def from_path(
        cls,
        path_or_repo: str,
        revision: str | None = None,
        split: str = schema.DEV_SPLIT,
        name: str | None = None,
        langs=DEFAULT_LANGS,
    ) -> BuiltDatasetTask:
        local = Path(path_or_repo)
        is_local = local.exists()
        if is_local:
            local = local.resolve()
            path_or_repo = str(local)
            if not schema.has_split(local, schema.QRELS_CONFIG, split):
                raise UserError(f"{local}: qrels split '{split}' not found in built dataset")
            manifest = local / schema.MANIFEST_FILE
            info = json.loads(manifest.read_text()) if manifest.is_file() else {}
            revision = (
                revision or info.get("content_hash") or "sha256-" + combined_hash(sorted(local.rglob("*.parquet")))[:16]
            )
            default_name = local.name
        else:
            if revision is None:
                logger.warning("%s: no @revision given; results record 'main' (not reproducible)", path_or_repo)
            default_name = path_or_repo.rsplit("/", 1)[-1]
        metadata = task_metadata(
            name or default_name,
            path_or_repo,
            revision or "main",
            split,
            f"rankladder built dataset {path_or_repo} ({split} split).",
            langs,
        )
        attrs = {"metadata": metadata, "path_or_repo": path_or_repo, "is_local": is_local}
        return type(cls.__name__, (cls,), attrs)()

    @property
    def source(self) -> TaskSource:
        return TaskSource(
            self.metadata.name, "built", self.path_or_repo, self.metadata.revision, self.metadata.eval_splits[0]
        )

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
            raise UserError(f"{self.path_or_repo}: cannot load built dataset: {first_line(exc)}") from exc
        finally:
            if self.is_local:
                self.metadata.dataset["revision"] = revision

    def dataset_transform(self, num_proc: int | None = None, **kwargs: Any) -> None:
        from datasets import Dataset

        for split, data in self.dataset["default"].items():
            if "title" in data["corpus"].column_names:
                data["corpus"] = (
                    data["corpus"]
                    .map(lambda row: {"text": document_text(row["title"], row["text"])})
                    .remove_columns("title")
                )
            queries = [{"id": q["id"], "text": q["text"] or ""} for q in data["queries"]]
            queries, qrels = clean_split(
                data["corpus"]["id"], queries, data["relevant_docs"], f"{self.path_or_repo} [{split}]"
            )
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
            raise UserError(
                f"{self.path_or_repo}: cannot load '{schema.LISTS_CONFIG}' [{split}]: {first_line(exc)}"
            ) from exc
        return [
            {"query_id": r["query_id"], "query": r["query"], "documents": r["documents"], "levels": r["levels"]}
            for r in ds
        ]
