"""The one interface every LLM backend implements; records look the same whichever produced them."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Sampling:
    """The decoding settings a backend is called with: derived from a stage's config (``GenerateConfig``,
    ``JudgeConfig``), not a config of its own; these defaults are for direct callers (tests, benchmarks)."""

    temperature: float = 0.7
    top_p: float = 0.95
    max_new_tokens: int = 128
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GenerationRequest:
    """One chat prompt. ``seed`` is per request so a retry can ask for a different sample.

    ``json_schema``: ask for a reply that matches this JSON schema (structured output) where the
    backend supports it; backends without support ignore it (the caller parses the text anyway)."""

    key: str
    messages: list[dict] = field(hash=False)
    seed: int = 0
    # judging: how many top alternatives to return per generated token (None: no logprobs asked)
    logprobs: int | None = None
    json_schema: dict | None = field(default=None, hash=False, compare=False)


@dataclass
class GenerationResult:
    key: str
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"
    # with ``request.logprobs``: one ``(token_text, {alternative_text: logprob})`` per generated token
    token_logprobs: list[tuple[str, dict[str, float]]] | None = None
    structured: bool = False  # the reply was constrained to the request's json_schema
    server: str | None = None  # the server that answered (openai backend: its base URL); None for local engines


RequestSource = Callable[[], "GenerationRequest | None"]


def take(next_request: RequestSource, count: int) -> list[GenerationRequest]:
    """Up to ``count`` requests from a source (fewer when it has nothing more right now)."""
    batch = []
    while len(batch) < count:
        request = next_request()
        if request is None:
            break
        batch.append(request)
    return batch


class Backend(abc.ABC):
    """Generates chat completions: in batches (:meth:`generate`) or as a stream (:meth:`stream`)."""

    name: str = "abstract"
    #: in-flight requests of :meth:`stream` when the caller names none
    default_window: int = 16
    #: how a record's ``seed`` reproduces its text with this backend (written into every record)
    seeding: str = "per-request seed"
    #: set by a caller that shows live progress: a backend that decodes a whole batch in one call
    #: (transformers) calls ``progress_hook(finished_keys, new_tokens)`` after each decoding step, so a
    #: bar can move per finished request before the batch's results come back (it never alters output)
    progress_hook: Callable[[list[str], int], None] | None = None

    @abc.abstractmethod
    def model_identity(self) -> dict:
        """``{"id": ..., "revision": ..., "file_sha256": ...}``: recorded in every record."""

    @abc.abstractmethod
    def generate(self, requests: list[GenerationRequest], sampling: Sampling) -> list[GenerationResult]:
        """Results in the order of ``requests``. Raises ``UserError`` for unrecoverable setup faults."""

    def stream(
        self, next_request: RequestSource, sampling: Sampling, window: int | None = None
    ) -> Iterator[GenerationResult]:
        """Results as they finish, with up to ``window`` requests in flight.

        ``next_request()`` is called whenever a slot is free; ``None`` means "nothing more right
        now". The stream ends when the source has nothing and nothing is in flight, so a consumer may
        add requests (retries) to the source while it handles a result. Closing the generator early
        abandons what is in flight. This default sends whole batches through :meth:`generate`;
        backends that can refill a running batch override it."""
        window = window or self.default_window
        while batch := take(next_request, window):
            yield from self.generate(batch, sampling)

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

    @property
    def progress_hook(self):
        return self._backend.progress_hook

    @progress_hook.setter
    def progress_hook(self, hook) -> None:  # the lent backend is the one that decodes: it must call the hook
        self._backend.progress_hook = hook

    def close(self) -> None:
        pass
