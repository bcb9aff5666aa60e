"""The LLM backend's options, declared once and used by both ``GenerateConfig`` and ``JudgeConfig``.

Flat fields (``model``, ``base_url``, ``concurrency``, ...): the same names as the flags (``--base-url``),
the API keywords and the YAML keys. :func:`backend_options` shapes them into the chosen backend's keyword
arguments. The old nested ``backend_options:`` mapping is still read (each key moved up, with a warning).
"""

from __future__ import annotations

import logging
import os
from typing import Annotated

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, field_validator, model_validator

from rankladder.core.cli_model import cli, option_label
from rankladder.core.config import StrictModel
from rankladder.core.errors import UserError

log = logging.getLogger(__name__)
BACKEND = "backend"


def _in(group: str, **more):
    return cli(group=group, **more)


GgufFile = Annotated[
    str | None, Field(None, description="transformers: GGUF file name inside model", json_schema_extra=_in(BACKEND))
]
Device = Annotated[str, Field("auto", description="transformers: cpu, cuda, auto", json_schema_extra=_in(BACKEND))]
DType = Annotated[
    str | None,
    Field(None, description="model dtype (transformers: float32; vllm: auto)", json_schema_extra=_in(BACKEND)),
]
BaseUrl = Annotated[
    list[str] | None,
    Field(
        None,
        description="openai: server URL (env OPENAI_BASE_URL); repeat the flag (a list in YAML and the API) for "
        "several, one per vLLM replica or node: each request goes to the least-loaded healthy server",
        # one value per flag, so a positional after it (judge's RUN_DIR) is never taken for a URL
        json_schema_extra=_in(BACKEND, repeat=True, metavar="URL"),
    ),
]
ApiKeyEnv = Annotated[
    str,
    Field("OPENAI_API_KEY", description="openai: env variable holding the API key", json_schema_extra=_in(BACKEND)),
]
Concurrency = Annotated[
    PositiveInt, Field(8, description="openai: requests in flight at each server", json_schema_extra=_in(BACKEND))
]
MaxRetries = Annotated[
    NonNegativeInt,
    Field(5, description="openai: the client's retries of a failed request", json_schema_extra=_in(BACKEND)),
]
Timeout = Annotated[
    PositiveFloat, Field(120.0, description="openai: seconds per request", json_schema_extra=_in(BACKEND))
]
TensorParallel = Annotated[
    PositiveInt, Field(1, description="vllm: GPUs per engine (tensor parallel)", json_schema_extra=_in(BACKEND))
]
PipelineParallel = Annotated[
    PositiveInt, Field(1, description="vllm: pipeline stages per engine", json_schema_extra=_in(BACKEND))
]
DataParallel = Annotated[
    PositiveInt,
    Field(
        1,
        description="vllm: engine replicas (data parallel; see vLLM's docs for its offline support)",
        json_schema_extra=_in(BACKEND),
    ),
]
MaxModelLen = Annotated[PositiveInt, Field(2048, description="vllm: context length", json_schema_extra=_in(BACKEND))]
SERVER_DEFAULTS = {"max_retries": 5, "timeout": 120.0}  # the openai backend's own; recorded only when changed


class BackendFields(StrictModel):
    """Validators shared by the configs that choose an LLM backend (the fields are declared in each)."""

    @field_validator("base_url", mode="before", check_fields=False)
    @classmethod
    def _one_url(cls, value):
        return [value] if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _old_backend_options(cls, data):
        """``backend_options: {model: ..., base_url: ...}`` (the old nested spelling): each key moved up."""
        if not isinstance(data, dict) or "backend_options" not in data:
            return data
        data = dict(data)
        old = data.pop("backend_options") or {}
        if not isinstance(old, dict):
            raise ValueError("backend_options: must be a mapping (better: give its keys directly, e.g. model)")
        for key, value in old.items():
            if key == "api_key":
                raise ValueError("backend_options.api_key: put the key in an environment variable named by api_key_env")
            if key not in cls.model_fields:
                raise ValueError(f"backend_options.{key}: unknown backend option")
            if key in data and data[key] != value:
                raise ValueError(f"backend_options.{key}: conflicts with {key} (give it once, as {key})")
            data[key] = value
        if old:
            log.warning("backend_options is deprecated: give its keys (%s) directly", ", ".join(old))
        return data


def base_url_value(urls: list[str] | None) -> str | list[str] | None:
    """``base_url`` as the backend (and the run manifest) takes it: one URL as a string, several as a list."""
    if not urls:
        return None
    return urls[0] if len(urls) == 1 else list(urls)


def backend_options(config, backend: str) -> dict:
    """The keyword arguments of ``create_backend(backend, ...)`` from a config's flat backend fields.

    Shaped as runs have always recorded them (a RUN_DIR resumes only with the same options): only the
    chosen backend's options, ``None`` left out, vLLM's parallel sizes of 1 left out except tensor's."""
    if backend == "transformers":
        options = {"model": config.model, "gguf_file": config.gguf_file, "device": config.device, "dtype": config.dtype}
    elif backend == "vllm":
        options = {"model": config.model, "tensor_parallel_size": config.tensor_parallel_size}
        for name in ("pipeline_parallel_size", "data_parallel_size"):
            if getattr(config, name) != 1:
                options[name] = getattr(config, name)
        options.update(max_model_len=config.max_model_len, dtype=config.dtype or "auto")
    else:
        if not config.model:
            raise UserError(f"{option_label('model')}: required with backend openai (the served model name)")
        options = {
            "model": config.model,
            "base_url": base_url_value(config.base_url) or os.environ.get("OPENAI_BASE_URL"),
            "api_key": os.environ.get(config.api_key_env),
            "concurrency": config.concurrency,
        }
        options.update({k: getattr(config, k) for k, v in SERVER_DEFAULTS.items() if getattr(config, k) != v})
    return {k: v for k, v in options.items() if v is not None}
