"""A loopback OpenAI-compatible server with canned, distinct passages (stdlib only, a few ms a request).

It stands in for the LLM where the thing under test is rankladder's own handling (resuming, kills,
Ctrl-C, damaged inputs), so that many trials fit; the real LLM paths are covered by
``tests/dataset_builder/test_generate.py`` (SmolLM2) and ``tests/dataset_builder/test_openai_backend.py``.
"""

from __future__ import annotations

import hashlib
import json
import random
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = (
    "river mountain engine protein orbit harvest signal copper lattice glacier quartz mineral "
    "voltage canyon enzyme membrane turbine pollen algebra nebula sediment circuit fossil tide "
    "crystal vapor spectrum cellular ridge delta magnet prism thermal basin meadow comet"
).split()


class CannedOpenAI:
    """``GET /v1/models`` and ``POST /v1/chat/completions``: distinct valid passages seeded by the request.

    ``max_concurrent``: completions worked on at once (more wait their turn), so that with ``delay`` the
    server has a fixed rate of ``max_concurrent / delay`` replies a second (a stand-in for one GPU replica).
    ``kill_after``: the server dies (:meth:`kill`) once it has taken that many completions, while they
    are still in flight. ``answered`` counts the replies it sent. ``port``: 0 for a free one, or the port of
    a killed server to stand in for it restarted. ``reply``: the same content for every request (e.g. a judge
    that always answers ``"0"``). ``json_levels``: a request with a ``response_format`` JSON schema gets a
    JSON object with one passage per required key (per-query mode); otherwise (the default) every reply is plain
    text, as from a server that ignores ``response_format``. ``reply_for``: a function of the request body
    giving the content (overrides the rest). Switchable while the server runs."""

    def __init__(
        self,
        delay: float = 0.02,
        max_concurrent: int | None = None,
        kill_after: int | None = None,
        port: int = 0,
        reply: str | None = None,
        json_levels: bool = False,
        reply_for=None,
    ):
        outer = self
        self.delay = delay
        self.reply = reply
        self.reply_for = reply_for  # request body -> content (e.g. a judge answering from the passage it is shown)
        self.requests = 0
        self.answered = 0
        self.first_request_at: float | None = None  # time.monotonic() of the first completion asked for
        self.last_answer_at: float | None = None  # ... and of the last reply sent
        self.killed = False
        self.kill_after = kill_after
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None
        self.connections: set[socket.socket] = set()
        self.json_levels = json_levels

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with outer.lock:
                    outer.connections.add(self.connection)

            def finish(self):
                with outer.lock:
                    outer.connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:  # the connection was reset by kill()
                    pass

            def _send(self, body: dict) -> bool:
                if outer.killed:
                    return False
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:  # a killed client hung up, or kill() reset the connection
                    return False
                return True

            def do_GET(self):
                self._send(
                    {
                        "object": "list",
                        "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "rankladder"}],
                    }
                )

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with outer.lock:
                    outer.requests += 1
                    outer.first_request_at = outer.first_request_at or time.monotonic()
                    if outer.kill_after is not None and outer.requests == outer.kill_after:
                        threading.Thread(target=outer.kill, daemon=True).start()
                if outer.slots:
                    outer.slots.acquire()
                try:
                    time.sleep(outer.delay)
                finally:
                    if outer.slots:
                        outer.slots.release()
                digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()
                rng = random.Random(digest)
                text = " ".join(rng.choice(WORDS) for _ in range(28)).capitalize() + "."
                schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema")
                if outer.json_levels and schema:
                    text = json.dumps(
                        {
                            key: " ".join(rng.choice(WORDS) for _ in range(28)).capitalize() + "."
                            for key in schema["required"]
                        }
                    )
                if outer.reply is not None:
                    text = outer.reply
                if outer.reply_for is not None:
                    text = outer.reply_for(body)
                sent = self._send(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "fake",
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 30, "total_tokens": 40},
                    }
                )
                if sent:
                    with outer.lock:
                        outer.answered += 1
                        outer.last_answer_at = time.monotonic()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a killed client hung up
                pass

        self.httpd = Server(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def kill(self) -> None:
        """Die as a crashed replica does: stop listening (new connections are refused) and reset every open
        connection, so requests in flight get no reply."""
        with self.lock:
            if self.killed:
                return
            self.killed = True
        self.close()
        with self.lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        if not getattr(self, "_closed", False):
            self._closed = True
            self.httpd.shutdown()
            self.httpd.server_close()
