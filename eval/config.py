"""The eval stage's typed options (``rankladder eval`` flags, the release's ``eval:`` section, the API)."""

from __future__ import annotations

from pydantic import Field, PositiveInt

from rankladder.core.config import StrictModel


class EvalOptions(StrictModel):
    """How models are evaluated; the models and output folder are given per call."""

    tasks: list[str] = Field(
        default_factory=list, description="mteb task/benchmark names, BEIR folders, built dataset folders or Hub repos"
    )
    split: str | None = Field(None, description="qrels split of local BEIR folders (default: test, else the only one)")
    bm25: bool = Field(True, description="add the BM25 reference row")
    level_order: bool = Field(True, description="level-order diagnostics on built datasets")
    batch_size: PositiveInt = Field(32, description="encoding batch size")
