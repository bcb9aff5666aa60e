"""The ``openai`` backend against ``vllm serve`` (SmolLM2 on CPU, 127.0.0.1), plus retries via a fault proxy."""

from __future__ import annotations

import pytest

from rankladder.core.errors import UserError
from rankladder.dataset_builder.backends import GenerationRequest, Sampling, create_backend
from rankladder.dataset_builder.backends.openai_backend import OpenAIBackend
from tests.dataset_builder.test_openai_backend import FaultProxy, _messages  # shared with the main suite

TINY = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=8)


@pytest.fixture(scope="module")
def proxy(vllm_server):
    fault_proxy = FaultProxy(vllm_server[0])
    yield fault_proxy
    fault_proxy.close()


def test_generates_through_vllm_serve(vllm_server):
    url, model = vllm_server
    requests = [
        GenerationRequest("q1", _messages("what causes the northern lights"), seed=1),
        GenerationRequest("q2", _messages("why is the sky blue"), seed=2),
    ]
    with create_backend("openai", model=model, base_url=url, concurrency=2) as backend:
        assert backend.model_identity() == {"id": model, "revision": None, "file_sha256": None}
        results = backend.generate(requests, TINY)
        again = backend.generate(requests, TINY)
    assert [r.key for r in results] == ["q1", "q2"]
    for result in results:
        assert result.text.strip()
        assert 0 < result.completion_tokens <= TINY.max_new_tokens
        assert result.prompt_tokens > 10
        assert result.finish_reason in ("stop", "length")
    assert [r.text for r in again] == [r.text for r in results]  # the per-request seed reached vLLM


def test_retries_429_and_503_then_succeeds(proxy, vllm_server):
    proxy.reset()
    proxy.faults[:] = [429, 503]
    with OpenAIBackend(vllm_server[1], base_url=proxy.url, max_retries=3) as backend:
        (result,) = backend.generate([GenerationRequest("q1", _messages("why is the sky blue"), seed=1)], TINY)
        assert backend.retries_taken == 2
    assert result.text.strip()
    times = proxy.chat_times
    assert len(times) == 3 and times[1] - times[0] >= 0.35 and times[2] - times[1] >= 0.7


def test_unknown_model_is_a_user_error(vllm_server):
    with pytest.raises(
        UserError, match=r"model 'nope' not found on OpenAI-compatible server .*'smollm2-135m-instruct'"
    ):
        OpenAIBackend("nope", base_url=vllm_server[0])


def test_unknown_model_on_completion_is_a_user_error(vllm_server):
    proxy = FaultProxy(vllm_server[0], no_models_route=True)
    try:
        with (
            OpenAIBackend("nope", base_url=proxy.url) as backend,
            pytest.raises(UserError, match=r"model 'nope' not found .*HTTP 404"),
        ):
            backend.generate([GenerationRequest("q1", _messages("x"))], TINY)
    finally:
        proxy.close()
