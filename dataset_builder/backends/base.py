"""The one interface every LLM backend implements; records look the same whichever produced them."""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class SamplingConfig:
    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 128  # = GenerationConfig.max_new_tokens (the one default; a test keeps them equal)
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GenerationRequest:
    """One chat prompt. ``seed`` is per request so a retry can ask for a different sample."""

    key: str
    messages: list[dict] = field(hash=False)
    seed: int = 0
    # judging: how many top alternatives to return per generated token (None: no logprobs asked)
    logprobs: int | None = None


@dataclass
class GenerationResult:
    key: str
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    # with ``request.logprobs``: one ``(token_text, {alternative_text: logprob})`` per generated token
    token_logprobs: list[tuple[str, dict[str, float]]] | None = None


class Backend(abc.ABC):
    """Generates chat completions for batches of requests."""

    name: str = "abstract"

    @abc.abstractmethod
    def model_identity(self) -> dict:
        """``{"id": ..., "revision": ..., "file_sha256": ...}``: recorded in every record."""

    @abc.abstractmethod
    def generate(self, requests: list[GenerationRequest], sampling: SamplingConfig) -> list[GenerationResult]:
        """Results in the order of ``requests``. Raises ``UserError`` for unrecoverable setup faults."""

    def close(self) -> None:
        """Release engines, pools and connections."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SharedBackend:
    """Lends one loaded backend to several runs: ``generate_run`` closes what its factory returns, and
    this wrapper's ``close`` leaves the model loaded (benchmarks and tests reuse one SmolLM2)."""

    def __init__(self, backend: Backend):
        self._backend = backend

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def close(self) -> None:
        pass
