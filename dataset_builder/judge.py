"""``rankladder judge``: an LLM grades every kept (query, document) of a RUN_DIR on the run's own ladder.

The judge prompt is data (``prompts/judge.yaml``, hashed like the generation prompts) and asks for a
bare grade digit. Where the backend returns token log-probabilities (transformers, vLLM, OpenAI-compatible
servers with ``logprobs``/``top_logprobs``) the judgement records the probability of each grade at the
first generated grade token and the expected grade; otherwise the first integer of the reply.

Judgements live beside the records (``judgements/shard-I-of-N.<run_id>.jsonl``, manifest
``judge-manifest.shard-I-of-N.json``) with the generation's machinery: append-only, fsynced per
batch, a lock per shard, finished keys skipped on a re-run, so a killed judge resumes where it died.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rankladder.core.errors import UserError
from rankladder.core.fsutil import prepare_output_parent, sha256_json, write_json_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.backends import resumable_identity
from rankladder.dataset_builder.backends.base import (
    Backend,
    GenerationRequest,
    Sampling,
)
from rankladder.dataset_builder.generate import shard_of
from rankladder.dataset_builder.progress import LiveProgress
from rankladder.dataset_builder.prompts import PROMPTS_DIR
from rankladder.dataset_builder.runfiles import (
    RECORDS,
    AppendWriter,
    ShardLock,
    iter_kind,
    manifests,
    shard_tag,
    sigterm_as_interrupt,
)

log = logging.getLogger(__name__)
JUDGE_KIND = "rankladder-judge-run"
_INTEGER = re.compile(r"(?<![\d.])-?\d+(?!\.\d)")  # an integer, not part of a decimal


@dataclass
class JudgePlan:
    """What a judge run asks (prompt loaded, greedy sampling, backend resolved for one RUN_DIR): derived from
    a :class:`rankladder.dataset_builder.config.JudgeConfig` by :meth:`from_config`; not a config."""

    template: JudgePrompt
    # greedy and short: the reply is one digit (a few tokens of slack for "Grade: 2")
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.0, top_p=1.0, max_new_tokens=8, seed=0))
    logprobs: int = 20  # top alternatives per token (the OpenAI API's maximum)
    batch_size: int = 16
    backend: str = "transformers"
    backend_options: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config, backend: str, backend_options: dict, template: JudgePrompt | None = None):
        """The plan of ``config`` (a ``JudgeConfig``) with the backend resolved for one RUN_DIR."""
        return cls(
            template=template or load_judge_template(config.prompt_template),
            sampling=Sampling(0.0, 1.0, config.max_new_tokens, 0),
            logprobs=config.logprobs or None,
            batch_size=config.batch_size,
            backend=backend,
            backend_options=backend_options,
        )

    def identity(self) -> dict:
        """What must match for judgements in a RUN_DIR to be resumed."""
        return {
            "prompt": {"name": self.template.name, "hash": self.template.hash},
            "sampling": self.sampling.to_dict(),
            "logprobs": self.logprobs,
            "backend": self.backend,
            "backend_options": {k: v for k, v in self.backend_options.items() if "key" not in k.lower()},
        }


@dataclass(frozen=True)
class JudgePrompt:
    """The judge prompt (``prompts/judge.yaml``): system, user template and example turns, hashed."""

    name: str
    system: str
    user: str
    examples: tuple = ()  # ({"query", "passage", "grade": "max" | "min" | int}, ...)
    source: str = ""

    @property
    def hash(self) -> str:
        return sha256_json(
            {"mode": "judge", "system": self.system, "user": self.user, "examples": [dict(e) for e in self.examples]}
        )[:16]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "mode": "judge",
            "hash": self.hash,
            "system": self.system,
            "user": self.user,
            "examples": [dict(e) for e in self.examples],
        }


def load_judge_template(path: str | Path | None = None) -> JudgePrompt:
    path = Path(path) if path else PROMPTS_DIR / "judge.yaml"
    if not path.is_file():
        raise UserError(f"{path}: judge prompt template not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: cannot parse judge prompt: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("user"), str):
        raise UserError(f"{path}: judge prompt needs a string field 'user'")
    for placeholder in ("{query}", "{passage}"):
        if placeholder not in data["user"]:
            raise UserError(f"{path}: field 'user' lacks the placeholder {placeholder}")
    examples = data.get("examples") or []
    for index, example in enumerate(examples if isinstance(examples, list) else [None]):
        if not (
            isinstance(example, dict)
            and isinstance(example.get("query"), str)
            and isinstance(example.get("passage"), str)
            and (example.get("grade") in ("max", "min") or isinstance(example.get("grade"), int))
        ):
            raise UserError(f"{path}: examples[{index}] needs 'query', 'passage' and 'grade' (max, min or an integer)")
    return JudgePrompt(
        name=str(data.get("name", path.stem)),
        system=str(data.get("system", "")).strip(),
        user=data["user"],
        examples=tuple(dict(e) for e in examples),
        source=str(path),
    )


def render(template: JudgePrompt, query: str, passage: str, levels: list[dict]) -> list[dict]:
    """Chat messages for one judgement; ``levels`` as in the run manifest (highest first)."""
    block = "\n".join(f"{lv['value']} = {lv['definition']}" for lv in sorted(levels, key=lambda lv: -lv["value"]))
    values = [lv["value"] for lv in levels]

    def user(q: str, p: str) -> dict:
        return {
            "role": "user",
            "content": template.user.format(
                query=q, passage=p, level_block=block, min_grade=min(values), max_grade=max(values)
            ),
        }

    messages = [{"role": "system", "content": template.system}] if template.system else []
    for example in template.examples:
        grade = {"max": max(values), "min": min(values)}.get(example["grade"], example["grade"])
        messages += [user(example["query"], example["passage"]), {"role": "assistant", "content": str(grade)}]
    return messages + [user(query, passage)]


def parse_grade(reply: object, grades: list[int]) -> int | None:
    """The first integer of the reply when it is a grade of the scale, else None (total: never raises)."""
    if not isinstance(reply, str):
        return None
    match = _INTEGER.search(reply[:2000])
    if match is None:
        return None
    try:
        value = int(match.group())
    except ValueError:
        return None
    return value if value in grades else None


def grade_distribution(token_logprobs: object, grades: list[int]) -> dict[int, float] | None:
    """Probability of each grade at the first generated token that is a grade digit, renormalised over
    the grades (variants such as ``"2"`` and ``" 2"`` add up); None when no generated token is a grade."""
    if not isinstance(token_logprobs, list):
        return None
    names = {str(g): g for g in grades}
    for step in token_logprobs:
        if not (isinstance(step, (list, tuple)) and len(step) == 2 and isinstance(step[1], dict)):
            continue
        token, alternatives = step
        if not isinstance(token, str) or token.strip() not in names:
            continue
        mass = dict.fromkeys(grades, 0.0)
        for text, logprob in alternatives.items():
            grade = names.get(text.strip()) if isinstance(text, str) else None
            if grade is not None and isinstance(logprob, (int, float)) and math.isfinite(logprob):
                mass[grade] += math.exp(min(logprob, 0.0))
        total = sum(mass.values())
        if total <= 0:
            return {g: float(g == names[token.strip()]) for g in grades}
        return {g: p / total for g, p in mass.items()}
    return None


def judgement(reply: str, token_logprobs, grades: list[int]) -> dict:
    """grade, expected_grade, grade_probs and method (``logprobs`` / ``parsed`` / ``unparsed``)."""
    probs = grade_distribution(token_logprobs, grades)
    if probs is not None:
        grade = max(probs, key=lambda g: (probs[g], -g))
        return {
            "grade": grade,
            "expected_grade": round(sum(g * p for g, p in probs.items()), 4),
            "grade_probs": {str(g): round(p, 6) for g, p in probs.items()},
            "method": "logprobs",
        }
    grade = parse_grade(reply, grades)
    return {
        "grade": grade,
        "expected_grade": None if grade is None else float(grade),
        "grade_probs": None,
        "method": "parsed" if grade is not None else "unparsed",
    }


def judge_manifest_path(run_dir: Path, index: int, count: int) -> Path:
    return run_dir / f"judge-manifest.{shard_tag(index, count)}.json"


def run_levels(run_dir: Path) -> list[dict]:
    paths = manifests(run_dir)
    if not paths:
        raise UserError(f"{run_dir}: not a generation RUN_DIR (no manifest.shard-*.json)")
    try:
        return json.loads(paths[0].read_text(encoding="utf-8"))["config"]["levels"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError(f"{paths[0]}: corrupt run manifest (no config.levels)") from None


def generator_backend(run_dir: Path) -> tuple[str, dict]:
    """The backend and options the run was generated with (the judge's default)."""
    paths = manifests(Path(run_dir))
    if not paths:
        raise UserError(f"{run_dir}: not a generation RUN_DIR (no manifest.shard-*.json)")
    config = json.loads(paths[0].read_text(encoding="utf-8")).get("config", {})
    return config.get("backend", "transformers"), dict(config.get("backend_options") or {})


def _records_to_judge(run_dir: Path, shard: tuple[int, int]) -> list[dict]:
    seen, rows = set(), []
    for row in iter_kind(run_dir, RECORDS):
        if row["key"] in seen or shard_of(row["query_id"], shard[1]) != shard[0]:
            continue
        seen.add(row["key"])
        rows.append(
            {
                "key": row["key"],
                "query_id": row["query_id"],
                "query": row["query"],
                "level": row["level"],
                "text": row["text"],
                "doc_id": schema.doc_id(row["text"], row.get("title") or ""),
            }
        )
    return rows


def _check_resumable(path: Path, config: JudgePlan) -> None:
    if not path.is_file():
        return
    previous = resumable_identity(json.loads(path.read_text(encoding="utf-8")).get("config", {}))
    for key, value in resumable_identity(config.identity()).items():  # other servers: still resumable
        if previous.get(key) != value:
            raise UserError(
                f"{path}: this RUN_DIR was judged with a different '{key}'; judge a copy of the run, "
                f"or move its {schema.JUDGEMENTS}/ and judge-manifest files away"
            )


def judge_run(
    run_dir: str | Path, config: JudgePlan, backend_factory, shard: tuple[int, int] = (0, 1), progress: bool = True
) -> dict:
    """Judge every record of this shard that has no judgement yet; returns the judge manifest."""
    run_dir = Path(run_dir)
    levels = run_levels(run_dir)
    grades = sorted(lv["value"] for lv in levels)
    prepare_output_parent(run_dir / "x")
    path = judge_manifest_path(run_dir, *shard)
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    started, counts, model = time.time(), Counter(), None
    with sigterm_as_interrupt(), ShardLock(run_dir, *shard, schema.JUDGE_MANIFEST):
        _check_resumable(path, config)
        rows = _records_to_judge(run_dir, shard)
        done = {row["key"] for row in iter_kind(run_dir, schema.JUDGEMENTS)}
        pending = sorted((row for row in rows if row["key"] not in done), key=lambda r: len(r["text"]))
        if pending:
            backend: Backend = backend_factory()
            model = backend.model_identity()
            _write_manifest(run_dir, path, config, shard, "running", model, rows, counts, run_id, 0.0)
            try:
                _judge_pending(run_dir, config, shard, backend, pending, levels, grades, counts, run_id, progress)
            except BaseException as exc:  # every exit leaves a true manifest: interrupted (Ctrl-C, SIGTERM) or failed
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                error = None if status == "interrupted" else f"{type(exc).__name__}: {exc}"
                seconds = time.time() - started
                _write_manifest(run_dir, path, config, shard, status, model, rows, counts, run_id, seconds, error)
                raise
        elif path.is_file():
            model = json.loads(path.read_text(encoding="utf-8")).get("model")
        _write_manifest(run_dir, path, config, shard, "complete", model, rows, counts, run_id, time.time() - started)
    return json.loads(path.read_text(encoding="utf-8"))


def _judge_pending(
    run_dir: Path,
    config: JudgePlan,
    shard: tuple[int, int],
    backend: Backend,
    pending: list[dict],
    levels: list[dict],
    grades: list[int],
    counts: Counter,
    run_id: str,
    progress: bool,
) -> None:
    """Judge ``pending`` batch by batch; a batch's judgements are fsynced before the bar counts them."""
    writer = AppendWriter(run_dir / schema.JUDGEMENTS / f"{shard_tag(*shard)}.{run_id}.jsonl")
    in_batch: list[int] = [0]
    live = LiveProgress(len(pending), f"judge {shard_tag(*shard)}", in_flight=lambda: in_batch[0], disable=not progress)
    live.attach(backend)
    try:
        for first in range(0, len(pending), config.batch_size):
            batch = pending[first : first + config.batch_size]
            requests = [
                GenerationRequest(
                    key=row["key"],
                    seed=config.sampling.seed,
                    logprobs=config.logprobs,
                    messages=render(config.template, row["query"], row["text"], levels),
                )
                for row in batch
            ]
            in_batch[0] = len(requests)
            tokens = 0
            for row, result in zip(batch, backend.generate(requests, config.sampling)):
                found = judgement(result.text, result.token_logprobs, grades)
                counts[found["method"]] += 1
                tokens += result.completion_tokens
                writer.write(
                    {
                        "key": row["key"],
                        "query_id": row["query_id"],
                        "doc_id": row["doc_id"],
                        "level": row["level"],
                        **found,
                        "reply": result.text[:200],
                        "run_id": run_id,
                        "created": utc_now(),
                    }
                )
            writer.commit()
            in_batch[0] = 0
            live.result(len(batch), tokens)
    finally:
        live.close(backend)
        writer.close()
        backend.close()


def _write_manifest(
    run_dir: Path,
    path: Path,
    config: JudgePlan,
    shard: tuple[int, int],
    status: str,
    model: dict | None,
    rows: list[dict],
    counts: Counter,
    run_id: str,
    elapsed: float,
    error: str | None = None,
) -> None:
    keys = {row["key"] for row in rows}
    methods = Counter(row["method"] for row in iter_kind(run_dir, schema.JUDGEMENTS) if row["key"] in keys)
    write_json_atomic(
        path,
        {
            "kind": JUDGE_KIND,
            "status": status,
            "shard": {"index": shard[0], "count": shard[1]},
            "config": config.identity(),
            "config_hash": sha256_json(config.identity())[:16],
            "prompt_template": config.template.to_dict(),
            "model": model,
            "counts": {
                "records_in_shard": len(rows),
                "judged_all_runs": sum(methods.values()),
                "by_method": dict(methods),
                "this_run": dict(counts),
            },
            "last_run": {"run_id": run_id, "finished": utc_now(), "seconds": round(elapsed, 2)},
            "tool_versions": tool_versions(),
            **({"error": error} if error else {}),
        },
    )


def read_judgements(run_dirs: list[Path]) -> dict[tuple[str, str], dict]:
    """``(query_id, doc_id) -> judgement`` over the RUN_DIRs (first wins), for ``build``."""
    found: dict[tuple[str, str], dict] = {}
    for run_dir in run_dirs:
        for row in iter_kind(Path(run_dir), schema.JUDGEMENTS):
            found.setdefault((row["query_id"], row["doc_id"]), row)
    return found


def judge_manifests(run_dirs: list[Path]) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8"))
        for run_dir in run_dirs
        for p in sorted(Path(run_dir).glob("judge-manifest.shard-*.json"))
    ]
