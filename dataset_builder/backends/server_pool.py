"""Several OpenAI-compatible servers behind one backend: least-loaded routing and taking failed servers out.

The openai backend (:mod:`~rankladder.dataset_builder.backends.openai_backend`) keeps one :class:`Server`
per base URL (one per vLLM replica or node) and asks the :class:`ServerPool` where each new request goes:
to the healthy server with the fewest requests in flight, never past ``concurrency`` per server.

A server whose request failed for a server reason (connection refused or reset, timeout, HTTP 5xx — each
after the openai client's own retries) is taken out: it gets no new requests, and the backend sends that
request again to another server. A server that is out is re-checked with ``GET /models`` after
``recheck_seconds`` (doubling per take-out, at most :data:`MAX_RECHECK_SECONDS`); when it answers it is
back in rotation. When no server is left, the backend stops with one error that names each server's
last failure.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from rankladder.core.errors import UserError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"  # what the openai client uses without OPENAI_BASE_URL

RECHECK_SECONDS = 30.0  # first re-check of a server that was taken out
MAX_RECHECK_SECONDS = 300.0
PROBE_TIMEOUT = 10.0  # seconds a re-check waits for GET /models
PROBING = float("inf")  # recheck_at of a server whose re-check is under way


def public_url(url: str) -> str:
    """``url`` without user:password (what records, logs and errors may show)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, parts.query, parts.fragment))


@dataclass(eq=False)
class Server:
    """One OpenAI-compatible server: its client and what the pool knows about it."""

    url: str
    client: object  # openai.OpenAI
    in_flight: int = 0
    healthy: bool = True
    take_outs: int = 0
    recheck_at: float = 0.0
    last_error: str = ""
    last_sent: int = field(default=0, repr=False)  # order of the last request sent here (ties go round-robin)

    @property
    def label(self) -> str:
        return public_url(self.url)


class ServerPool:
    """Which server gets the next request, and which servers are out (and when to look at them again)."""

    def __init__(self, servers: list[Server], concurrency: int, recheck_seconds: float = RECHECK_SECONDS):
        self.servers = servers
        self.concurrency = concurrency
        self.recheck_seconds = recheck_seconds
        self._sent = 0

    def __len__(self) -> int:
        return len(self.servers)

    @property
    def healthy(self) -> list[Server]:
        return [s for s in self.servers if s.healthy]

    def pick(self) -> Server | None:
        """The healthy server with the fewest requests in flight and a free slot; None when all are busy or out."""
        free = [s for s in self.servers if s.healthy and s.in_flight < self.concurrency]
        if not free:
            return None
        server = min(free, key=lambda s: (s.in_flight, s.last_sent))
        self._sent += 1
        server.last_sent = self._sent
        server.in_flight += 1
        return server

    def release(self, server: Server) -> None:
        server.in_flight -= 1

    def take_out(self, server: Server, reason: str) -> None:
        """No new requests for ``server`` until a re-check finds it answering again."""
        server.last_error = reason
        if not server.healthy:
            return
        server.healthy = False
        server.take_outs += 1
        delay = min(self.recheck_seconds * 2 ** (server.take_outs - 1), MAX_RECHECK_SECONDS)
        server.recheck_at = time.monotonic() + delay
        others = len(self.healthy)
        # one server, or the last one: the run's own error says it (one line), not a warning before it
        log.log(
            logging.WARNING if others else logging.INFO,
            "OpenAI-compatible server %s taken out (%s); %d of %d servers left, re-check in %.0f s",
            server.label,
            reason,
            others,
            len(self.servers),
            delay,
        )

    def bring_back(self, server: Server) -> None:
        if not server.healthy:
            server.healthy = True
            log.warning("OpenAI-compatible server %s answers again; back in rotation", server.label)

    def due_for_recheck(self) -> list[Server]:
        now = time.monotonic()
        return [s for s in self.servers if not s.healthy and s.recheck_at <= now]

    def seconds_to_next_recheck(self) -> float | None:
        waiting = [s.recheck_at for s in self.servers if not s.healthy and s.recheck_at != PROBING]
        return max(0.0, min(waiting) - time.monotonic()) if waiting else None

    def start_recheck(self, server: Server) -> None:
        server.recheck_at = PROBING

    def recheck_now(self, server: Server) -> None:
        """A re-check that was abandoned (its stream ended first) is due again at once."""
        if not server.healthy:
            server.recheck_at = time.monotonic()

    def postpone_recheck(self, server: Server, reason: str) -> None:
        """A re-check found ``server`` still down: look again after the next (longer) delay."""
        server.last_error = reason
        server.take_outs += 1
        delay = min(self.recheck_seconds * 2 ** (server.take_outs - 1), MAX_RECHECK_SECONDS)
        server.recheck_at = time.monotonic() + delay

    def all_down_message(self) -> str:
        failures = "; ".join(f"{s.label}: {s.last_error or 'not reachable'}" for s in self.servers)
        return (
            f"all {len(self.servers)} OpenAI-compatible servers failed ({failures}); the finished results are kept, "
            "re-run the same command to resume"
        )


def one_line(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def error_detail(exc) -> str:
    """The server's own message from an ``APIStatusError`` body (OpenAI, vLLM and FastAPI shapes)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            inner = inner.get("message") or inner.get("detail") or inner
        elif "detail" in body:
            inner = body["detail"]
        return one_line(inner)
    return one_line(getattr(exc, "message", exc))


def is_server_failure(exc: BaseException) -> bool:
    """A fault of the server rather than of the request: another server may answer it."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # refused, reset, timed out (after the client's retries)
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def short_reason(exc: BaseException, key: str | None = None) -> str:
    """One short phrase for a server failure (the server's URL is named by the caller)."""
    import openai

    where = f"request {key!r}: " if key else ""
    if isinstance(exc, openai.APITimeoutError):
        return f"{where}timed out"
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        return f"{where}connection failed" + (f" ({one_line(cause, 120)})" if cause else "")
    if isinstance(exc, openai.APIStatusError):
        return f"{where}HTTP {exc.status_code}: {error_detail(exc)}"
    return where + one_line(exc, 120)


def base_urls(base_url: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The servers' URLs: a list (or one URL), else OPENAI_BASE_URL, else OpenAI's own."""
    if base_url is None or base_url == [] or base_url == ():
        urls = [os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL]
    elif isinstance(base_url, str):
        urls = [base_url]
    elif isinstance(base_url, (list, tuple)) and all(isinstance(u, str) for u in base_url):
        urls = list(base_url)
    else:
        raise UserError(f"openai backend: base_url must be a URL or a list of URLs, got {base_url!r}")
    urls = [u.strip().rstrip("/") for u in urls]
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise UserError(f"openai backend: base_url: {public_url(url)!r} is not an http(s) URL")
    seen = set()
    for url in urls:
        if url in seen:
            raise UserError(f"openai backend: base_url: {public_url(url)} is given twice")
        seen.add(url)
    return urls
