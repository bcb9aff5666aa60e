"""Any OpenAI-compatible chat server: ``vllm serve``, llama.cpp ``llama-server``, TGI, Ollama, OpenAI.

``base_url`` is one URL or a list of them (one per vLLM replica or node: ``--base-url URL [URL ...]``).
Each server gets its own (thread-safe) ``openai.OpenAI`` client and up to ``concurrency`` requests in
flight; :meth:`OpenAIBackend.stream` refills a slot as each reply arrives, sending the new request to
the least-loaded healthy server. A server that fails (connection refused or reset, timeout, HTTP 5xx,
after the client's retries) is taken out and the request goes to another server; a server that is out
is re-checked later and comes back when it answers (:mod:`.server_pool`). Every result names the
server that produced it (``GenerationResult.server``). Retries are the client's own: on connection errors,
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
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from rankladder.core.errors import UserError
from rankladder.dataset_builder.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    RequestSource,
    Sampling,
)
from rankladder.dataset_builder.backends.server_pool import (
    PROBE_TIMEOUT,
    RECHECK_SECONDS,
    Server,
    ServerPool,
    base_urls,
    error_detail,
    is_server_failure,
    one_line,
    short_reason,
)

log = logging.getLogger(__name__)

STARTUP_RETRIES = 1  # the model check fails fast on a server that is not there


def _token_logprobs(choice) -> list | None:
    """``choice.logprobs.content`` as ``[(token, {alternative: logprob})]``; None when the server sent none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    return [
        (item.token, {alt.token: alt.logprob for alt in (item.top_logprobs or [])} or {item.token: item.logprob})
        for item in content
    ]


class _ServerDown(Exception):
    """A server that did not answer the start-up check (carries the one-line error for it)."""

    def __init__(self, error: UserError, reason: str):
        super().__init__(str(error))
        self.error, self.reason = error, reason


class OpenAIBackend(Backend):
    name = "openai"
    seeding = "per-request seed sent as the OpenAI 'seed' field (reproducible where the server honours it)"

    def __init__(
        self,
        model: str,
        base_url: str | list[str] | None = None,
        api_key: str | None = None,
        concurrency: int = 8,
        max_retries: int = 5,
        timeout: float = 120.0,
        recheck_seconds: float = RECHECK_SECONDS,
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
        if not float(recheck_seconds) > 0:
            raise UserError(f"openai backend: recheck_seconds must be positive, got {recheck_seconds}")
        self.model = model
        self.base_urls = base_urls(base_url)
        self.base_url = self.base_urls[0]  # the first server (the only one, usually)
        self.concurrency = int(concurrency)
        self.max_retries = int(max_retries)
        self.timeout = float(timeout)
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        servers = [
            Server(url, openai.OpenAI(base_url=url, api_key=key, max_retries=self.max_retries, timeout=self.timeout))
            for url in self.base_urls
        ]
        self.pool = ServerPool(servers, self.concurrency, float(recheck_seconds))
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.default_window = self.concurrency * len(servers)
        self.retries_taken = 0  # over all requests so far; read by tests and benchmarks
        self.structured_output = True  # False once a server has rejected response_format
        self._served_id = self._check_servers()

    # -- setup ---------------------------------------------------------------------------------

    def _translate(self, exc: Exception, server: Server, *, key: str | None = None) -> UserError | None:
        """A UserError for setup faults and exhausted retries; None for anything unexpected."""
        import openai

        url = server.label
        where = f"request {key!r}: " if key else ""
        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            kind = "timed out" if isinstance(exc, openai.APITimeoutError) else "connection failed"
            cause = exc.__cause__ or exc.__context__
            reason = f" ({one_line(cause)})" if cause and one_line(cause) != kind else ""
            return UserError(
                f"cannot reach OpenAI-compatible server at {url}: {where}{kind}{reason}"
                + (f" after {self.max_retries} retries" if key else "")
            )
        if isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return UserError(
                f"OpenAI-compatible server at {url} rejected the API key "
                f"(HTTP {exc.status_code}: {error_detail(exc)}); set --api-key or OPENAI_API_KEY"
            )
        if isinstance(exc, openai.NotFoundError):
            return UserError(
                f"model {self.model!r} not found on OpenAI-compatible server at {url} (HTTP 404: {error_detail(exc)})"
            )
        if isinstance(exc, openai.APIStatusError):
            retried = (
                f" after {self.max_retries} retries"
                if exc.status_code in (408, 409, 429) or exc.status_code >= 500
                else ""
            )
            return UserError(
                f"OpenAI-compatible server at {url}: {where}HTTP {exc.status_code}{retried}: {error_detail(exc)}"
            )
        return None

    def _check_servers(self) -> str:
        """Check every server serves the model; a server that is not reachable is taken out (and re-checked
        later) while another one answers. Returns the model id the first answering server reports."""
        served, down = None, []
        for server in self.pool.servers:
            try:
                found = self._check_model(server)
            except _ServerDown as exc:
                down.append(exc)
                self.pool.take_out(server, exc.reason)
                continue
            served = served or found
        if served is None:
            raise down[0].error if len(down) == 1 else UserError(self.pool.all_down_message())
        return served

    def _check_model(self, server: Server) -> str:
        """The id ``server`` reports for ``self.model``; UserError when it is not served."""
        import openai

        startup = server.client.with_options(max_retries=min(STARTUP_RETRIES, self.max_retries))
        try:
            models = list(startup.models.list())
        except openai.NotFoundError:  # a server without GET /models: the first completion tells
            log.info("%s has no /models route; the model is checked by the first request", server.label)
            return self.model
        except openai.APIError as exc:
            error = self._translate(exc, server) or UserError(
                f"OpenAI-compatible server at {server.label}: {one_line(exc)}"
            )
            if is_server_failure(exc):
                raise _ServerDown(error, short_reason(exc)) from exc
            raise error from exc
        ids = [m.id for m in models]
        if self.model in ids:
            return self.model
        # Ollama lists "name:latest" for a model asked for as "name".
        tagged = [i for i in ids if i.split(":", 1)[0] == self.model and i.endswith(":latest")]
        if tagged:
            return tagged[0]
        shown = ", ".join(repr(i) for i in ids[:10]) + (" ..." if len(ids) > 10 else "")
        raise UserError(
            f"model {self.model!r} not found on OpenAI-compatible server at {server.label} (served: {shown or 'none'})"
        )

    def _recheck(self, server: Server) -> str | None:
        """None when a server that was taken out answers ``GET /models`` again; else why not."""
        import openai

        try:
            server.client.with_options(max_retries=0, timeout=min(PROBE_TIMEOUT, self.timeout)).models.list()
        except openai.NotFoundError:  # it answers; it just has no /models route
            return None
        except openai.APIError as exc:
            return short_reason(exc)
        return None

    def model_identity(self) -> dict:
        """The server-reported model id; a remote server exposes no revision or weights hash."""
        return {"id": self._served_id, "revision": None, "file_sha256": None}

    # -- generation ----------------------------------------------------------------------------

    def _create(self, server: Server, request: GenerationRequest, sampling: Sampling, structured: bool):
        extra = {}
        if structured:
            extra["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "levels", "schema": request.json_schema, "strict": True},
            }
        return server.client.chat.completions.with_raw_response.create(
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

    def _complete(self, server: Server, request: GenerationRequest, sampling: Sampling) -> GenerationResult:
        import openai

        structured = request.json_schema is not None and self.structured_output
        try:
            raw = self._create(server, request, sampling, structured)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
            if not structured:
                raise
            with self._lock:
                if self.structured_output:
                    log.warning(
                        "%s rejected response_format json_schema (%s); sending requests without it and "
                        "parsing the replies",
                        server.label,
                        error_detail(exc),
                    )
                self.structured_output = False
            structured = False
            raw = self._create(server, request, sampling, structured)
        completion = raw.parse()
        with self._lock:
            self.retries_taken += raw.retries_taken
            if completion.model and self._served_id == self.model and completion.model != self.model:
                self._served_id = completion.model
        if not completion.choices:
            raise UserError(f"OpenAI-compatible server at {server.label}: request {request.key!r}: no choices returned")
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
            server=server.label,
        )

    def _threads(self) -> ThreadPoolExecutor:
        if self._executor is None:  # every request slot, plus one re-check per server
            workers = (self.concurrency + 1) * len(self.pool)
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai-backend")
        return self._executor

    def _outcome(self, future: Future, request: GenerationRequest, server: Server) -> GenerationResult:
        """The future's result; its exception as a one-line UserError where it is a known fault."""
        exc = future.exception()
        if exc is None:
            return future.result()
        if isinstance(exc, UserError):
            raise exc
        translated = self._translate(exc, server, key=request.key)
        if translated is None:
            raise exc
        raise translated from exc

    def generate(self, requests: list[GenerationRequest], sampling: Sampling) -> list[GenerationResult]:
        """Results in the order of ``requests`` (sent through :meth:`stream`)."""
        if not requests:
            return []
        queue = deque(requests)
        finished: dict[str, deque[GenerationResult]] = {}
        for result in self.stream(lambda: queue.popleft() if queue else None, sampling):
            finished.setdefault(result.key, deque()).append(result)
        return [finished[request.key].popleft() for request in requests]

    def stream(
        self, next_request: RequestSource, sampling: Sampling, window: int | None = None
    ) -> Iterator[GenerationResult]:
        """Replies as they arrive; each one's slot is refilled at once (``window`` in flight, default
        ``concurrency`` per server), the new request going to the least-loaded healthy server.

        A request that failed for a server reason is sent again to another server (its server is taken
        out). Any other failed request stops the stream: queued ones are cancelled, running ones finish,
        then its error is raised; so does a request that no server is left to answer."""
        window = window or self.default_window
        threads = self._threads()
        running: dict[Future, tuple[GenerationRequest, Server]] = {}
        rechecks: dict[Future, Server] = {}
        resend: deque[GenerationRequest] = deque()  # requests of servers that failed, sent again first
        last_failure: UserError | None = None
        try:
            while True:
                for server in self.pool.due_for_recheck():
                    self.pool.start_recheck(server)
                    rechecks[threads.submit(self._recheck, server)] = server
                while len(running) < window and (server := self.pool.pick()) is not None:
                    request = resend.popleft() if resend else next_request()
                    if request is None:
                        self.pool.release(server)
                        break
                    running[threads.submit(self._complete, server, request, sampling)] = (request, server)
                if not running:
                    if not self.pool.healthy and (resend or next_request() is not None):
                        raise self._all_down(last_failure)
                    return
                done, _ = wait(
                    [*running, *rechecks],
                    timeout=self.pool.seconds_to_next_recheck(),
                    return_when=FIRST_COMPLETED,
                )
                for future in [f for f in rechecks if f in done]:
                    server, reason = rechecks.pop(future), future.result()
                    if reason is None:
                        self.pool.bring_back(server)
                    else:
                        self.pool.postpone_recheck(server, reason)
                for future in [f for f in running if f in done]:  # in the order they were sent
                    request, server = running.pop(future)
                    self.pool.release(server)
                    exc = future.exception()
                    if exc is not None and is_server_failure(exc):
                        last_failure = self._translate(exc, server, key=request.key)
                        self.pool.take_out(server, short_reason(exc, request.key))
                        resend.append(request)
                        continue
                    yield self._outcome(future, request, server)
        finally:
            for future in [*running, *rechecks]:
                future.cancel()
            for server in rechecks.values():  # unfinished: the next stream (judge: the next batch) looks again
                self.pool.recheck_now(server)
            wait(running)

    def _all_down(self, last_failure: UserError | None) -> UserError:
        if len(self.pool) == 1 and last_failure is not None:
            return last_failure  # one server: its own error, as it always was
        return UserError(self.pool.all_down_message())

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        for server in self.pool.servers:
            server.client.close()
