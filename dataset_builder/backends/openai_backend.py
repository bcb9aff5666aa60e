"""Any OpenAI-compatible chat server: ``vllm serve``, llama.cpp ``llama-server``, TGI, Ollama, OpenAI.

Requests go out concurrently from a thread pool of ``concurrency`` workers over one shared
(thread-safe) ``openai.OpenAI`` client. :meth:`OpenAIBackend.stream` refills the pool as each reply
arrives, so ``concurrency`` requests are always in flight while work remains. Retries are the client's own: on connection errors,
timeouts, 408, 409, 429 and every 5xx it sleeps ``min(0.5 * 2**n, 8) s`` less up to 25 % jitter
(or the server's ``Retry-After`` / ``retry-after-ms`` when that is at most 60 s) and tries again,
up to ``max_retries`` times per request (``openai._base_client.BaseClient._should_retry``).

Setup faults become :class:`~rankladder.core.errors.UserError` with a one-line message: an unreachable
server, a rejected API key, a model the server does not serve. The model is checked once at start
with ``GET /models``; servers without that route are tolerated and then checked by the first
completion.

Structured output: a request with a ``json_schema`` is sent with ``response_format`` ``json_schema``
(vLLM, llama.cpp, OpenAI and others constrain the reply to it). A server that rejects that field
(HTTP 400/422) gets the request again without it, and every later request goes without it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    Future,
    ThreadPoolExecutor,
    wait,
)

from rankladder.core.errors import UserError
from rankladder.dataset_builder.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    RequestSource,
    SamplingConfig,
)

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # what the openai client uses without OPENAI_BASE_URL
STARTUP_RETRIES = 1  # the model check fails fast on a server that is not there


def _one_line(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error_detail(exc) -> str:
    """The server's own message from an ``APIStatusError`` body (OpenAI, vLLM and FastAPI shapes)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner.get("detail") or inner
        elif "detail" in body:
            inner = body["detail"]
        return _one_line(inner)
    return _one_line(getattr(exc, "message", exc))


def _token_logprobs(choice) -> list | None:
    """``choice.logprobs.content`` as ``[(token, {alternative: logprob})]``; None when the server sent none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    return [
        (item.token, {alt.token: alt.logprob for alt in (item.top_logprobs or [])} or {item.token: item.logprob})
        for item in content
    ]


class OpenAIBackend(Backend):
    name = "openai"
    seeding = "per-request seed sent as the OpenAI 'seed' field (reproducible where the server honours it)"

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
    ):
        import openai

        if not model:
            raise UserError("openai backend: a model name is required (--model)")
        if int(concurrency) < 1:
            raise UserError(f"openai backend: concurrency must be at least 1, got {concurrency}")
        if int(max_retries) < 0:
            raise UserError(f"openai backend: max_retries must be 0 or more, got {max_retries}")
        if not float(timeout) > 0:
            raise UserError(f"openai backend: timeout must be positive, got {timeout}")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        self.client = openai.OpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            max_retries=self.max_retries,
            timeout=self.timeout,
        )
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self.default_window = self.concurrency
        self.retries_taken = 0  # over all requests so far; read by tests and benchmarks
        self.structured_output = True  # False once the server has rejected response_format
        self._served_id = self._check_model()

    # -- setup ---------------------------------------------------------------------------------

    def _translate(self, exc: Exception, *, key: str | None = None) -> UserError | None:
        """A UserError for setup faults and exhausted retries; None for anything unexpected."""
        import openai

        where = f"request {key!r}: " if key else ""
        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "connection failed"
            cause = exc.__cause__ or exc.__context__
            reason = f" ({_one_line(cause)})" if cause and _one_line(cause) != kind else ""
            return UserError(
                f"cannot reach OpenAI-compatible server at {self.base_url}: {where}{kind}{reason}"
                + (f" after {self.max_retries} retries" if key else "")
            )
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return UserError(
                f"OpenAI-compatible server at {self.base_url} rejected the API key "
                f"(HTTP {exc.status_code}: {_error_detail(exc)}); set --api-key or OPENAI_API_KEY"
            )
        if isinstance(exc, openai.NotFoundError):
            return UserError(
                f"model {self.model!r} not found on OpenAI-compatible server at {self.base_url} "
                f"(HTTP 404: {_error_detail(exc)})"
            )
        if isinstance(exc, openai.APIStatusError):
            retried = (
                f" after {self.max_retries} retries"
                if exc.status_code in (408, 409, 429) or exc.status_code >= 500
                else ""
            )
            return UserError(
                f"OpenAI-compatible server at {self.base_url}: {where}HTTP {exc.status_code}{retried}: "
                f"{_error_detail(exc)}"
            )
        return None

    def _check_model(self) -> str:
        """The id the server reports for ``self.model``; UserError when it is not served."""
        import openai

        try:
            models = list(self.client.with_options(max_retries=min(STARTUP_RETRIES, self.max_retries)).models.list())
        except openai.NotFoundError:  # a server without GET /models: the first completion tells
            log.info("%s has no /models route; the model is checked by the first request", self.base_url)
            return self.model
        except openai.APIError as exc:
            raise self._translate(exc) or UserError(
                f"OpenAI-compatible server at {self.base_url}: {_one_line(exc)}"
            ) from exc
        ids = [m.id for m in models]
        if self.model in ids:
            return self.model
        # Ollama lists "name:latest" for a model asked for as "name".
        tagged = [i for i in ids if i.split(":", 1)[0] == self.model and i.endswith(":latest")]
        if tagged:
            return tagged[0]
        shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
        raise UserError(
            f"model {self.model!r} not found on OpenAI-compatible server at {self.base_url} (served: {shown or 'none'})"
        )

    def model_identity(self) -> dict:
        """The server-reported model id; a remote server exposes no revision or weights hash."""
        return {"id": self._served_id, "revision": None, "file_sha256": None}

    # -- generation ----------------------------------------------------------------------------

    def _create(self, request: GenerationRequest, sampling: SamplingConfig, structured: bool):
        extra = {}
        if structured:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "levels", "schema": request.json_schema, "strict": True},
            }
        return self.client.chat.completions.with_raw_response.create(
            model=self.model,
            messages=request.messages,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_new_tokens,
            seed=request.seed,
            n=1,
            **extra,
            **({"logprobs": True, "top_logprobs": request.logprobs} if request.logprobs else {}),
        )

    def _complete(self, request: GenerationRequest, sampling: SamplingConfig) -> GenerationResult:
        import openai

        structured = request.json_schema is not None and self.structured_output
        try:
            raw = self._create(request, sampling, structured)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if not structured:
                raise
            with self._lock:
                if self.structured_output:
                    log.warning(
                        "%s rejected response_format json_schema (%s); sending requests without it and "
                        "parsing the replies",
                        self.base_url,
                        _error_detail(exc),
                    )
                self.structured_output = False
            structured = False
            raw = self._create(request, sampling, structured)
        completion = raw.parse()
        with self._lock:
            self.retries_taken += raw.retries_taken
            if completion.model and self._served_id == self.model and completion.model != self.model:
                self._served_id = completion.model
        if not completion.choices:
            raise UserError(
                f"OpenAI-compatible server at {self.base_url}: request {request.key!r}: no choices returned"
            )
        choice = completion.choices[0]
        usage = completion.usage
        return GenerationResult(
            key=request.key,
            text=choice.message.content or "",
            prompt_tokens=int(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=int(usage.completion_tokens or 0) if usage else 0,
            finish_reason=choice.finish_reason or "stop",
            token_logprobs=_token_logprobs(choice) if request.logprobs else None,
            structured=structured,
        )

    def _pool_or_new(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="openai-backend")
        return self._pool

    def _outcome(self, future: Future, request: GenerationRequest) -> GenerationResult:
        """The future's result; its exception as a one-line UserError where it is a known fault."""
        exc = future.exception()
        if exc is None:
            return future.result()
        if isinstance(exc, UserError):
            raise exc
        translated = self._translate(exc, key=request.key)
        if translated is None:
            raise exc
        raise translated from exc

    def generate(self, requests: list[GenerationRequest], sampling: SamplingConfig) -> list[GenerationResult]:
        if not requests:
            return []
        pool = self._pool_or_new()
        futures = [pool.submit(self._complete, request, sampling) for request in requests]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future, request in zip(futures, requests):
            if future in done and future.exception() is not None:
                for other in pending:
                    other.cancel()
                wait(pending)  # requests already running finish; nothing is left behind
                self._outcome(future, request)
        return [future.result() for future in futures]

    def stream(
        self, next_request: RequestSource, sampling: SamplingConfig, window: int | None = None
    ) -> Iterator[GenerationResult]:
        """Replies as they arrive; each one's slot is refilled at once (``window`` in flight, default
        ``concurrency``). The first failed request stops the stream: queued ones are cancelled,
        running ones finish, then its error is raised."""
        window = window or self.concurrency
        pool = self._pool_or_new()
        running: dict[Future, GenerationRequest] = {}
        try:
            while True:
                while len(running) < window and (request := next_request()) is not None:
                    running[pool.submit(self._complete, request, sampling)] = request
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in [f for f in running if f in done]:  # in the order they were sent
                    yield self._outcome(future, running.pop(future))
        finally:
            for future in running:
                future.cancel()
            wait(running)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self.client.close()
