"""The ``openai`` backend against a real OpenAI-compatible server on loopback.

The server is, in order of preference:

* an external one named by ``RANKLADDER_TEST_OPENAI_BASE_URL`` (+ ``RANKLADDER_TEST_OPENAI_MODEL``),
  e.g. ``vllm serve`` from ``.venv-vllm`` (``tests/vllm_cpu/`` starts one itself, see ``.ci/vllm_check.sh``);
* otherwise :class:`SmolLM2Server` below: stdlib ``http.server`` speaking the OpenAI chat API over
  SmolLM2-135M-Instruct in transformers (real generations, seeds honoured).

Faults (429/503, stalls, concurrency counting) come from :class:`FaultProxy`, a tiny HTTP proxy in
front of that server: it answers the faults it is told to, then forwards to the real server.
Every socket is on 127.0.0.1 and every server is stopped at the end of the module.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rankladder.core.errors import UserError
from rankladder.dataset_builder.backends import GenerationRequest, Sampling, create_backend
from rankladder.dataset_builder.backends.openai_backend import OpenAIBackend

SERVED_NAME = "smollm2-135m-instruct"
EXTERNAL_URL = os.environ.get("RANKLADDER_TEST_OPENAI_BASE_URL")
EXTERNAL_MODEL = os.environ.get("RANKLADDER_TEST_OPENAI_MODEL")

QUERIES = [
    ("q1", "what causes the northern lights"),
    ("q2", "how do vaccines train the immune system"),
    ("q3", "why is the sky blue"),
]


def _messages(query: str) -> list[dict]:
    return [
        {"role": "system", "content": "You write short encyclopedia passages."},
        {"role": "user", "content": f"Write one sentence that answers: {query}"},
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that timed out and hung up
        pass


class _JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, status: int, body: dict, headers: dict | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))


def _start(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


# -- a real OpenAI-compatible server over transformers SmolLM2 ----------------------------------


class SmolLM2Server:
    """``GET /v1/models`` and ``POST /v1/chat/completions`` over SmolLM2 (one generation at a time)."""

    def __init__(self, served_name: str = SERVED_NAME, api_key: str | None = None):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from rankladder.dataset_builder.backends.smollm2 import dequantized_copy

        path = dequantized_copy()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32).eval()
        self.served_name = served_name
        self.api_key = api_key
        self.lock = threading.Lock()
        self.auth_headers: list[str] = []
        outer = self

        class Handler(_JSONHandler):
            def authorized(self) -> bool:
                outer.auth_headers.append(self.headers.get("Authorization", ""))
                if outer.api_key and self.headers.get("Authorization") != f"Bearer {outer.api_key}":
                    self.send_json(401, {"error": {"message": "invalid api key", "type": "auth", "code": 401}})
                    return False
                return True

            def do_GET(self):
                if not self.authorized():
                    return
                if self.path.rstrip("/") == "/v1/models":
                    self.send_json(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {
                                    "id": outer.served_name,
                                    "object": "model",
                                    "created": 0,
                                    "owned_by": "rankladder-tests",
                                }
                            ],
                        },
                    )
                else:
                    self.send_json(
                        404, {"error": {"message": f"no route {self.path}", "type": "NotFoundError", "code": 404}}
                    )

            def do_POST(self):
                body = json.loads(self.read_body() or b"{}")
                if not self.authorized():
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self.send_json(404, {"error": {"message": f"no route {self.path}", "code": 404}})
                if body.get("model") != outer.served_name:
                    return self.send_json(
                        404,
                        {
                            "error": {
                                "message": f"The model `{body.get('model')}` does not exist.",
                                "type": "NotFoundError",
                                "code": 404,
                            }
                        },
                    )
                self.send_json(200, outer.complete(body))

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = _start(self.httpd)

    def complete(self, body: dict) -> dict:
        import torch

        ids = self.tokenizer.apply_chat_template(
            body["messages"], add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        max_tokens = int(body.get("max_tokens") or 16)
        temperature = float(body.get("temperature", 1.0))
        options = {
            "do_sample": temperature > 0,
            "max_new_tokens": max_tokens,
            "pad_token_id": self.tokenizer.eos_token_id,
        }
        if temperature > 0:
            options.update(temperature=temperature, top_p=float(body.get("top_p", 1.0)), top_k=0)
        with self.lock, torch.inference_mode():
            torch.manual_seed(int(body.get("seed") or 0))
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids), **options)[0, ids.shape[1] :].tolist()
        stopped = bool(out) and out[-1] == self.tokenizer.eos_token_id
        text = self.tokenizer.decode(out, skip_special_tokens=True)
        return {
            "id": f"chatcmpl-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.served_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop" if stopped or len(out) < max_tokens else "length",
                }
            ],
            "usage": {
                "prompt_tokens": ids.shape[1],
                "completion_tokens": len(out),
                "total_tokens": ids.shape[1] + len(out),
            },
        }

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- fault injection ----------------------------------------------------------------------------


class FaultProxy:
    """Forwards every request to ``upstream``, except chat completions while ``faults`` is not empty.

    A fault is an HTTP status (answered at once with an OpenAI-style error body) or ``("stall", s)``
    (no answer for ``s`` seconds: a client with a shorter timeout gives up and retries) or
    ``("answer", payload)`` (a 200 with that body at once, e.g. ``last_payload``, the last forwarded one).
    ``delay`` holds every chat request that long before forwarding (to observe concurrency).
    """

    def __init__(self, upstream: str, no_models_route: bool = False):
        self.upstream = upstream.rstrip("/")
        self.no_models_route = no_models_route
        self.faults: list = []
        self.last_payload: dict | None = None
        self.delay = 0.0
        self.chat_times: list[float] = []
        self.chat_bodies: list[dict] = []  # every chat request as sent by the client
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(_JSONHandler):
            def do_GET(self):
                if outer.no_models_route and self.path.rstrip("/").endswith("/models"):
                    return self.send_json(404, {"detail": "Not Found"})
                self.send_json(*outer.forward(self, None))

            def do_POST(self):
                body = self.read_body()
                with outer.lock:
                    outer.chat_times.append(time.monotonic())
                    outer.chat_bodies.append(json.loads(body or b"{}"))
                    fault = outer.faults.pop(0) if outer.faults else None
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    if isinstance(fault, int):
                        status, payload = (
                            fault,
                            {"error": {"message": f"injected {fault}", "type": "injected", "code": fault}},
                        )
                    elif fault is not None and fault[0] == "stall":  # the client gives up first
                        time.sleep(fault[1])
                        status, payload = 504, {"error": {"message": "stalled", "code": 504}}
                    elif fault is not None:  # ("answer", payload): a reply recorded earlier
                        status, payload = 200, fault[1]
                    else:
                        time.sleep(outer.delay)
                        status, payload = outer.forward(self, body)
                        outer.last_payload = payload
                finally:
                    with outer.lock:  # before answering: the client may send its next request at once
                        outer.in_flight -= 1
                self.send_json(status, payload)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = _start(self.httpd)

    def forward(self, handler: _JSONHandler, body: bytes | None) -> tuple[int, dict]:
        path = handler.path[len("/v1") :] if handler.path.startswith("/v1") else handler.path
        request = urllib.request.Request(self.upstream + path, data=body, method=handler.command)
        for name in ("Content-Type", "Authorization"):
            if handler.headers.get(name):
                request.add_header(name, handler.headers[name])
        try:
            with urllib.request.urlopen(request, timeout=300) as response:
                status, payload = response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            status, payload = exc.code, json.loads(exc.read() or b"{}")
        return status, payload

    def reset(self) -> None:
        with self.lock:
            self.faults.clear()
            self.delay = 0.0
            self.chat_times.clear()
            self.chat_bodies.clear()
            self.max_in_flight = 0

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smol():
    """The in-test server, or None when an external server is configured."""
    if EXTERNAL_URL:
        yield None
        return
    smol_server = SmolLM2Server()
    try:
        yield smol_server
    finally:
        smol_server.close()


@pytest.fixture(scope="module")
def server(smol):
    """(base_url, model) of the real server: external when configured, else SmolLM2Server."""
    if smol is None:
        if not EXTERNAL_MODEL:
            pytest.fail("RANKLADDER_TEST_OPENAI_BASE_URL needs RANKLADDER_TEST_OPENAI_MODEL")
        return EXTERNAL_URL, EXTERNAL_MODEL
    return smol.url, smol.served_name


@pytest.fixture(scope="module")
def proxy(server):
    fault_proxy = FaultProxy(server[0])
    try:
        yield fault_proxy
    finally:
        fault_proxy.close()


@pytest.fixture
def fresh_proxy(proxy):
    proxy.reset()
    yield proxy
    deadline = time.monotonic() + 60  # a stalled request the client gave up on still finishes upstream
    while proxy.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)


TINY = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=8, seed=0)
TWO = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=2, seed=0)  # fault tests: speed over text


# -- tests --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_generates_in_request_order_with_usage(server):
    url, model = server
    requests = [GenerationRequest(key, _messages(query), seed=i) for i, (key, query) in enumerate(QUERIES)]
    with create_backend("openai", model=model, base_url=url, concurrency=3) as backend:
        assert backend.model_identity() == {"id": model, "revision": None, "file_sha256": None}
        results = backend.generate(requests, TINY)
    assert [r.key for r in results] == [r.key for r in requests]
    for result in results:
        assert result.text.strip()
        assert 0 < result.completion_tokens <= TINY.max_new_tokens
        assert result.prompt_tokens > 10
        assert result.finish_reason in ("stop", "length")


@pytest.mark.slow
def test_seed_is_passed_and_reproducible(server):
    url, model = server
    sampling = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=8)
    same = [GenerationRequest(f"a{i}", _messages(QUERIES[0][1]), seed=1234) for i in range(2)]
    with OpenAIBackend(model, base_url=url, concurrency=2) as backend:
        first, second = backend.generate(same, sampling)
        others = backend.generate(
            [GenerationRequest(f"b{seed}", _messages(QUERIES[0][1]), seed=seed) for seed in range(2)], sampling
        )
    assert first.text == second.text
    assert len({r.text for r in others} | {first.text}) > 1  # seeds change the sample


def test_max_tokens_is_honoured(server):
    url, model = server
    with OpenAIBackend(model, base_url=url) as backend:
        (result,) = backend.generate(
            [GenerationRequest("long", _messages("write a long essay on the history of rome"), seed=3)],
            Sampling(temperature=0.0, max_new_tokens=3),
        )
    assert result.completion_tokens <= 3
    assert result.finish_reason == "length"


def test_retries_429_and_503_with_backoff(fresh_proxy, server):
    fresh_proxy.faults[:] = [429, 503]
    with OpenAIBackend(server[1], base_url=fresh_proxy.url, max_retries=3) as backend:
        (result,) = backend.generate([GenerationRequest("q1", _messages(QUERIES[0][1]), seed=1)], TWO)
        assert backend.retries_taken == 2
    assert result.completion_tokens > 0
    times = fresh_proxy.chat_times
    assert len(times) == 3
    # openai client backoff: 0.5 s * 2**n, less at most 25 % jitter
    assert times[1] - times[0] >= 0.5 * 0.75 - 0.02
    assert times[2] - times[1] >= 1.0 * 0.75 - 0.02


def test_retries_a_request_that_times_out(fresh_proxy, server):
    request = GenerationRequest("q1", _messages(QUERIES[0][1]), seed=1)
    with OpenAIBackend(server[1], base_url=fresh_proxy.url) as backend:
        (real,) = backend.generate([request], TWO)
    # the first try gets no answer within the timeout; the retry gets the recorded real reply at
    # once, so the test does not depend on how fast the CPU generates
    fresh_proxy.faults[:] = [("stall", 3.0), ("answer", fresh_proxy.last_payload)]
    with OpenAIBackend(server[1], base_url=fresh_proxy.url, timeout=1.0, max_retries=2) as backend:
        (result,) = backend.generate([request], TWO)
        assert backend.retries_taken == 1
    assert result == real
    assert len(fresh_proxy.chat_times) == 3


def test_exhausted_retries_raise_user_error(fresh_proxy, server):
    fresh_proxy.faults[:] = [503, 503, 503]
    with OpenAIBackend(server[1], base_url=fresh_proxy.url, max_retries=1) as backend:
        with pytest.raises(UserError, match=r"request 'q1': HTTP 503 after 1 retries: injected 503"):
            backend.generate([GenerationRequest("q1", _messages(QUERIES[0][1]))], TWO)
    assert len(fresh_proxy.chat_times) == 2


def test_concurrency_is_bounded(fresh_proxy, server):
    fresh_proxy.delay = 0.3
    requests = [GenerationRequest(f"k{i}", _messages(QUERIES[i % 3][1]), seed=i) for i in range(5)]
    with OpenAIBackend(server[1], base_url=fresh_proxy.url, concurrency=2) as backend:
        results = backend.generate(requests, TWO)
    assert [r.key for r in results] == [r.key for r in requests]
    assert fresh_proxy.max_in_flight == 2


def test_stream_keeps_concurrency_in_flight_and_takes_requests_added_while_running(fresh_proxy, server):
    """Each reply frees a slot that is refilled at once; a request the consumer adds while handling a
    reply (a retry) joins the same stream."""
    fresh_proxy.delay = 0.3
    pending = [GenerationRequest(f"k{i}", _messages(QUERIES[i % 3][1]), seed=i) for i in range(5)]
    seen = []
    with OpenAIBackend(server[1], base_url=fresh_proxy.url, concurrency=3) as backend:
        for result in backend.stream(lambda: pending.pop(0) if pending else None, TWO):
            seen.append(result.key)
            if result.key == "k0":
                pending.append(GenerationRequest("retry-k0", _messages(QUERIES[0][1]), seed=99))
    assert sorted(seen) == sorted([f"k{i}" for i in range(5)] + ["retry-k0"])
    assert fresh_proxy.max_in_flight == 3  # never more than --concurrency, and the pool was kept full


def test_stream_stops_on_the_first_failed_request(fresh_proxy, server):
    fresh_proxy.faults[:] = [503, 503]
    pending = [GenerationRequest(f"k{i}", _messages(QUERIES[0][1]), seed=i) for i in range(2)]
    with (
        OpenAIBackend(server[1], base_url=fresh_proxy.url, concurrency=1, max_retries=1) as backend,
        pytest.raises(UserError, match=r"request 'k0': HTTP 503 after 1 retries"),
    ):
        list(backend.stream(lambda: pending.pop(0) if pending else None, TWO))
    assert [r.key for r in pending] == ["k1"]  # never sent: the stream stopped at the first failure


SCHEMA = {
    "type": "object",
    "properties": {"3": {"type": "string"}, "0": {"type": "string"}},
    "required": ["3", "0"],
    "additionalProperties": False,
}


def test_json_schema_is_sent_as_response_format(fresh_proxy, server):
    request = GenerationRequest("q1", _messages(QUERIES[0][1]), seed=1, json_schema=SCHEMA)
    with OpenAIBackend(server[1], base_url=fresh_proxy.url) as backend:
        (result,) = backend.generate([request], TWO)
    sent = fresh_proxy.chat_bodies[-1]["response_format"]
    assert sent["type"] == "json_schema" and sent["json_schema"]["schema"] == SCHEMA
    assert result.structured


def test_a_server_rejecting_response_format_gets_plain_requests(fresh_proxy, server):
    fresh_proxy.faults[:] = [400]  # e.g. a server without structured output
    requests = [GenerationRequest(f"q{i}", _messages(QUERIES[0][1]), seed=i, json_schema=SCHEMA) for i in range(2)]
    with OpenAIBackend(server[1], base_url=fresh_proxy.url, concurrency=1) as backend:
        results = backend.generate(requests, TWO)
        assert backend.structured_output is False
    assert [r.structured for r in results] == [False, False]
    assert ["response_format" in body for body in fresh_proxy.chat_bodies] == [True, False, False]


def test_connection_refused_is_a_user_error():
    url = f"http://127.0.0.1:{_free_port()}/v1"
    start = time.monotonic()
    with pytest.raises(UserError, match=rf"^cannot reach OpenAI-compatible server at {url}: connection failed"):
        OpenAIBackend("any-model", base_url=url)
    assert time.monotonic() - start < 5  # one quick retry at start, not the full backoff


def test_unknown_model_is_a_user_error(server):
    with pytest.raises(UserError, match=r"model 'no-such-model' not found on OpenAI-compatible server at .*served: "):
        OpenAIBackend("no-such-model", base_url=server[0])


def test_unknown_model_without_models_route_fails_on_first_request(server):
    proxy = FaultProxy(server[0], no_models_route=True)
    try:
        backend = OpenAIBackend("no-such-model", base_url=proxy.url)  # nothing to check against yet
        with backend, pytest.raises(UserError, match=r"model 'no-such-model' not found .*HTTP 404"):
            backend.generate([GenerationRequest("q1", _messages(QUERIES[0][1]))], TWO)
    finally:
        proxy.close()


def test_base_url_and_api_key_from_env(monkeypatch, smol):
    if smol is None:
        pytest.skip("needs the in-test server (it checks the API key)")
    monkeypatch.setattr(smol, "api_key", "sekrit")
    monkeypatch.setenv("OPENAI_BASE_URL", smol.url)
    monkeypatch.setenv("OPENAI_API_KEY", "sekrit")
    with create_backend("openai", model=smol.served_name) as backend:
        assert backend.base_url == smol.url
        (result,) = backend.generate([GenerationRequest("q", _messages("why is the sky blue"))], TWO)
    assert result.completion_tokens > 0
    assert smol.auth_headers[-1] == "Bearer sekrit"
    with pytest.raises(UserError, match=r"rejected the API key \(HTTP 401: invalid api key\)"):
        OpenAIBackend(smol.served_name, api_key="wrong")
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(UserError, match="rejected the API key"):  # the default key is "EMPTY"
        OpenAIBackend(smol.served_name)


def test_bad_options_are_user_errors():
    with pytest.raises(UserError, match="concurrency"):
        OpenAIBackend("m", base_url="http://127.0.0.1:9/v1", concurrency=0)
    with pytest.raises(UserError, match="model name is required"):
        OpenAIBackend("", base_url="http://127.0.0.1:9/v1")
