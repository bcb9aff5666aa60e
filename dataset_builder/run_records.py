"""The identity of every generated document: record keys, shards, per-request seeds, the record line.

Kept apart from the generation loop (``generate.py``) because build, judge, mining fixtures and tests
need these without the loop.
"""

from __future__ import annotations

import hashlib

from rankladder.core.errors import UserError
from rankladder.core.manifest import utc_now
from rankladder.dataset_builder import prompts as prompt_lib
from rankladder.dataset_builder.backends.base import Sampling
from rankladder.dataset_builder.levels import Level
from rankladder.dataset_builder.parsing import word_count
from rankladder.dataset_builder.queries import Query


def levels_json_schema(levels: list[Level]) -> dict:
    """Per-query mode's reply as a JSON schema: one non-empty string per level value (the prompt's keys)."""
    keys = [str(level.value) for level in levels]
    return {
        "type": "object",
        "properties": {key: {"type": "string", "minLength": 1} for key in keys},
        "required": keys,
        "additionalProperties": False,
    }


def parse_shard(text: str | None) -> tuple[int, int]:
    if not text:
        return 0, 1
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UserError(f"shard (--shard): expected I/N (e.g. 0/4), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise UserError(f"shard (--shard): need 0 <= I < N, got {text!r}")
    return index, count


def shard_of(query_id: str, count: int) -> int:
    return int(hashlib.sha256(query_id.encode("utf-8")).hexdigest()[:8], 16) % count


def record_key(query_id: str, level: int, sample: int) -> str:
    return f"{query_id}\t{level}\t{sample}"


def key_sample(key: str) -> int:
    """The sample number of a :func:`record_key`."""
    return int(key.rsplit("\t", 1)[1])


def request_seed(base: int, key: str, attempt: int) -> int:
    return int(hashlib.sha256(f"{base}\x1f{key}\x1f{attempt}".encode()).hexdigest()[:8], 16)


def trim_to_sentence(text: str) -> str:
    """Cut a length-truncated generation after its last complete sentence."""
    cut = max(text.rfind(". "), text.rfind("! "), text.rfind("? "), text.rfind(".\n"))
    if text.endswith((".", "!", "?")):
        return text
    return text[: cut + 1] if cut > 0 else text


def generation_record(
    query: Query,
    level: Level,
    sample: int,
    text: str,
    *,
    attempt: int,
    seed: int,
    backend: str,
    model: dict | None,
    template: prompt_lib.PromptTemplate,
    sampling: Sampling,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
    finish_reason: str = "stop",
    run_id: str = "",
    seeding: str = "",
    structured_output: bool = False,
    server: str | None = None,
) -> dict:
    """One line of ``records/*.jsonl``: the document and everything needed to reproduce it."""
    return {
        "key": record_key(query.id, level.value, sample),
        "query_id": query.id,
        "query": query.text,
        "level": level.value,
        "level_name": level.name,
        "sample": sample,
        "text": text,
        "title": "",
        "words": word_count(text),
        "attempt": attempt,
        "seed": seed,
        "backend": backend,
        "model": model,
        "prompt": {"name": template.name, "mode": template.mode, "hash": template.hash},
        "sampling": sampling.to_dict(),
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "finish_reason": finish_reason,
        "seeding": seeding,
        "structured_output": structured_output,
        "server": server,  # schema.RECORD_OPTIONAL_FIELDS: absent from runs made before it existed
        "run_id": run_id,
        "created": utc_now(),
    }
