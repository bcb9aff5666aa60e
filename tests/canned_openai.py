"""A loopback OpenAI-compatible server with canned, distinct passages (stdlib only, a few ms a request).

It stands in for the LLM where the thing under test is rankladder's own handling (resuming, kills,
Ctrl-C, damaged inputs), so that many trials fit; the real LLM paths are covered by
``tests/test_builder_generate.py`` (SmolLM2) and ``tests/test_builder_openai_backend.py``.
"""

from __future__ import annotations

import hashlib
import json
import random
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

    ``json_levels``: a request with a ``response_format`` JSON schema gets a JSON object with one passage
    per required key (per-query mode); otherwise (the default) every reply is plain text, as from a
    server that ignores ``response_format``. Switchable while the server runs."""

    def __init__(self, delay: float = 0.02, json_levels: bool = False):
        outer = self
        self.delay = delay
        self.requests = 0
        self.json_levels = json_levels

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self):
                self._send(
                    {
                        "object": "list",
                        "data": [{"id": "fake", "object": "model", "created": 0, "owned_by": "rankladder"}],
                    }
                )

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                outer.requests += 1
                time.sleep(outer.delay)
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
                self._send(
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

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):  # a killed client hung up
                pass

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
