"""A local BEIR folder (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``) as an mteb retrieval task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mteb.abstasks.retrieval import AbsTaskRetrieval

from rankladder.core.beir import pick_split, read_beir_folder
from rankladder.core.errors import UserError
from rankladder.eval.task_common import (
    DEFAULT_LANGS,
    TaskSource,
    clean_split,
    combined_hash,
    joined_corpus,
    task_metadata,
)

BEIR_FILES = ("corpus.jsonl", "queries.jsonl")


class BeirFolderTask(AbsTaskRetrieval):
    """A local BEIR folder as an mteb retrieval task (graded qrels kept as they are).

    Build one with ``BeirFolderTask.from_folder(path)``: mteb expects ``metadata`` on the class,
    so each folder gets its own small subclass.
    """

    folder: Path

    @classmethod
    def from_folder(
        cls, folder: str | Path, split: str | None = None, name: str | None = None, langs=DEFAULT_LANGS
    ) -> BeirFolderTask:
        folder = Path(folder).resolve()
        for fname in BEIR_FILES:
            if not (folder / fname).is_file():
                raise UserError(f"{folder / fname}: file not found (not a BEIR folder)")
        split = pick_split(folder, split)
        files = [folder / f for f in BEIR_FILES] + [folder / "qrels" / f"{split}.tsv"]
        revision = "sha256-" + combined_hash(files)[:16]
        metadata = task_metadata(
            name or folder.name,
            str(folder),
            revision,
            split,
            f"Local BEIR folder {folder.name} ({split} split).",
            langs,
        )
        return type(cls.__name__, (cls,), {"metadata": metadata, "folder": folder})()

    @property
    def source(self) -> TaskSource:
        return TaskSource(
            self.metadata.name, "beir", str(self.folder), self.metadata.revision, self.metadata.eval_splits[0]
        )

    def load_data(self, num_proc: int | None = None, **kwargs: Any) -> None:
        from datasets import Dataset

        if self.data_loaded:
            return
        split = self.metadata.eval_splits[0]
        corpus, queries, qrels = read_beir_folder(self.folder, split)
        queries, qrels = clean_split(
            (d["id"] for d in corpus), queries, qrels, str(self.folder / "qrels" / f"{split}.tsv")
        )
        self.dataset = {
            "default": {
                split: {
                    "corpus": Dataset.from_list(joined_corpus(corpus)),
                    "queries": Dataset.from_list(queries),
                    "relevant_docs": qrels,
                    "top_ranked": None,
                }
            }
        }
        self.data_loaded = True
