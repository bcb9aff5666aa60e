"""The data stage's typed options: which queries, how to generate, how to build.

One set of defaults for every entry point: ``rankladder generate``/``build`` flags, the release YAML
(``queries:``, ``generation:``, ``build:``), the study YAML and the Python API all validate through
these models (``rankladder.core.config.validate``), before any model loads or any file is written.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, NonNegativeInt, PositiveInt, field_validator

from rankladder.core.config import StrictModel

QUERY_FORMATS = ("auto", "jsonl", "tsv", "beir", "hf")
BACKENDS = ("transformers", "vllm", "openai")
PROMPT_MODES = ("per-level", "per-query")


class QueriesConfig(StrictModel):
    """Where the queries come from (``None`` source: the bundled sample queries)."""

    source: str | None = Field(None, description="JSONL, TSV (id<TAB>text), BEIR folder or HF dataset path/repo id")
    format: Literal["auto", "jsonl", "tsv", "beir", "hf"] = "auto"
    id_field: str | None = Field(None, description="query id column (default: _id / id / query_id)")
    text_field: str | None = Field(None, description="query text column (default: text / query)")
    qrels_split: str | None = Field(None, description="BEIR folder: keep only queries judged in this qrels split")
    hf_config: str | None = None
    hf_split: str = "train"
    limit: PositiveInt | None = Field(None, description="sample this many queries")
    seed: int = Field(0, description="seed of query sampling")


class GenerationConfig(StrictModel):
    """LLM, levels, prompts and sampling of ``rankladder generate``."""

    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    backend_options: dict[str, Any] = Field(default_factory=dict, description="passed to the backend (model, ...)")
    levels_config: str | None = Field(None, description="YAML/JSON file of levels (default: the 4-level ladder 3..0)")
    levels: list[int] | None = Field(None, description="subset of level values to generate")
    prompt_mode: Literal["per-level", "per-query"] = "per-level"
    prompt_template: str | None = Field(None, description="prompt template YAML (default: the bundled one)")
    samples_per_level: PositiveInt = 1
    temperature: float = Field(0.7, ge=0.0, le=5.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_new_tokens: PositiveInt = 128
    seed: int = 0
    window: PositiveInt | None = Field(
        None,
        validation_alias=AliasChoices("window", "batch_size"),
        description="requests kept in flight (batch_size is the old name); default: the backend's (transformers 16, "
        "vllm 256, openai its concurrency per server)",
    )
    structured_output: bool = Field(
        True, description="per-query mode: constrain replies to the levels' JSON schema where the backend supports it"
    )
    max_attempts: PositiveInt = Field(3, description="attempts per document before it is rejected")

    @field_validator("levels", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            try:
                return [int(part) for part in value.split(",") if part.strip()]
            except ValueError:
                raise ValueError("expected comma-separated integers") from None
        return value


class BuildConfig(StrictModel):
    """``rankladder build``: the dev split and optional selection among samples."""

    dev_fraction: float = Field(0.2, ge=0.0, lt=1.0, description="fraction of queries held out as dev")
    seed: int = Field(0, description="seed of the dev split")
    select_by_similarity: bool | str | None = Field(
        None, description="keep the sample combination best ordered by this embedding model (True: the default one)"
    )
    labels: Literal["intended", "judged", "agree"] = Field(
        "intended",
        description="qrels score / lists level: the intended level, the judge's grade, or the intended "
        "level of documents the judge agrees with",
    )
    max_disagreement: NonNegativeInt = Field(
        1,
        description="--labels agree: keep documents with |intended level - judged grade| <= K "
        "(0: exact agreement only; 1: within one grade)",
    )
    allow_degenerate_labels: bool = Field(
        False,
        description="build even when the label policy leaves fewer than two levels or lists of one document "
        "(refused by default: a list-wise loss and nDCG are undefined on them)",
    )
    merge: Literal["refuse", "first", "keep-all"] = Field(
        "refuse",
        description="runs from different generators (model, prompt, sampling): refuse (default), keep the first "
        "run's record per key (first), or keep every run's documents as separate samples (keep-all)",
    )


class JudgeOptions(StrictModel):
    """``rankladder judge`` in a release: a model grades every kept (query, document) on the level scale."""

    enabled: bool = Field(True, description="judge, and report intended-vs-judged agreement in stats and card")
    backend: Literal["transformers", "vllm", "openai"] | None = Field(None, description="default: the generator's")
    backend_options: dict[str, Any] = Field(default_factory=dict, description="default: the generator's")
    prompt_template: str | None = Field(None, description="judge prompt YAML (default: the bundled one)")
    max_new_tokens: PositiveInt = 8
    logprobs: PositiveInt = Field(20, description="top logprobs asked for at the grade token")
    batch_size: PositiveInt = 16


def generate_config(generation: GenerationConfig):
    """The run-time ``GenerateConfig`` (levels and prompt template loaded) for validated options."""
    from rankladder.dataset_builder.backends.base import SamplingConfig
    from rankladder.dataset_builder.generate import GenerateConfig
    from rankladder.dataset_builder.levels import load_levels, select_levels
    from rankladder.dataset_builder.prompts import load_template

    g = generation
    levels = load_levels(g.levels_config)
    if g.levels:
        levels = select_levels(levels, g.levels, "--levels")
    return GenerateConfig(
        levels=levels,
        template=load_template(g.prompt_template, g.prompt_mode),
        sampling=SamplingConfig(g.temperature, g.top_p, g.max_new_tokens, g.seed),
        samples_per_level=g.samples_per_level,
        max_attempts=g.max_attempts,
        window=g.window,
        backend=g.backend,
        backend_options=dict(g.backend_options),
        structured_output=g.structured_output,
    )
