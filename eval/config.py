"""The eval stage's one typed config: ``rankladder eval``'s flags, the API's keywords, the release's ``eval:`` section.

Every option of how models are evaluated is a field here, under the name the flag (``--batch-size``),
the keyword (``rankladder.evaluate(..., batch_size=64)``) and the YAML key (``eval: {batch_size: 64}``)
share, with its one default. What is given per call is not: the models (``--model``, repeated, with
their ``--name``/``--revision``), the output folder (``--out``) and ``--overwrite``. The entry function
is :func:`rankladder.eval.run.run`.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, PositiveInt

from rankladder.core.cli_model import cli
from rankladder.core.config import StrictModel


class EvalConfig(StrictModel):
    """How models are evaluated (the models, output folder and overwrite are given per call)."""

    tasks: list[str] = Field(
        default_factory=list,
        description="mteb task/benchmark names, BEIR folders, built dataset folders or Hub repos",
        json_schema_extra=cli(metavar="TASK"),
    )
    split: Optional[str] = Field(
        None, description="qrels split of local BEIR folders (default: test, else the only one)"
    )
    bm25: bool = Field(True, description="add the BM25 reference row (bm25s) on local tasks")
    level_order: bool = Field(True, description="level-order diagnostics on built datasets")
    batch_size: PositiveInt = Field(32, description="encoding batch size")
    max_seq_length: Optional[PositiveInt] = Field(
        None, description="truncate every model's inputs to this many tokens (default: each model's own)"
    )
    embedding_cache: Optional[str] = Field(
        None,
        description="cache embeddings here (mteb CachedEmbeddingWrapper) to reuse across runs",
        json_schema_extra=cli(metavar="DIR"),
    )
    save_predictions: bool = Field(False, description="also write mteb's ranked runs under OUT/predictions/")
    base: Optional[str] = Field(
        None,
        description="model the Δ column is against (a recorded name; default: the first model given)",
        json_schema_extra=cli(metavar="NAME"),
    )
