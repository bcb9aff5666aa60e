"""``rankladder judge``: an LLM grades every kept (query, document) of a RUN_DIR on the run's own ladder.

The judge prompt is data (``prompts/judge.yaml``, hashed like the generation prompts) and asks for a
bare grade digit. Where the backend returns token log-probabilities (transformers, vLLM, OpenAI-compatible
servers with ``logprobs``/``top_logprobs``) the judgement records the probability of each grade at the
first generated grade token and the expected grade; otherwise the first integer of the reply.

The prompt is in ``judge_prompt``, reading a reply in ``judge_grades``, the RUN_DIR's judge files in
``judge_files``; this module runs the judging. Judgements live beside the records (``judgements/shard-I-of-N.<run_id>.jsonl``, manifest
``judge-manifest.shard-I-of-N.json``) with the generation's machinery: append-only, fsynced per
batch, a lock per shard, finished keys skipped on a re-run, so a killed judge resumes where it died.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import prepare_output_parent
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.backends import resumable_identity
from rankladder.dataset_builder.backends.base import Backend, GenerationRequest, Sampling
from rankladder.dataset_builder.generate import shard_of
from rankladder.dataset_builder.judge_files import (  # noqa: F401 (re-exported: the judge's public names)
    JUDGE_KIND,
    generator_backend,
    judge_manifest_path,
    judge_manifests,
    read_judgements,
    run_levels,
    write_judge_manifest,
)
from rankladder.dataset_builder.judge_grades import (  # noqa: F401 (re-exported)
    grade_distribution,
    judgement,
    judgement_record,
    parse_grade,
)
from rankladder.dataset_builder.judge_prompt import JudgePrompt, load_judge_template, render  # noqa: F401
from rankladder.dataset_builder.progress import LiveProgress
from rankladder.dataset_builder.runfiles import (
    RECORDS,
    AppendWriter,
    ShardLock,
    iter_kind,
    shard_tag,
    sigterm_as_interrupt,
)

log = logging.getLogger(__name__)


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
            write_judge_manifest(run_dir, path, config, shard, "running", model, rows, counts, run_id, 0.0)
            try:
                _judge_pending(run_dir, config, shard, backend, pending, levels, grades, counts, run_id, progress)
            except BaseException as exc:  # every exit leaves a true manifest: interrupted (Ctrl-C, SIGTERM) or failed
                status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                error = None if status == "interrupted" else f"{type(exc).__name__}: {exc}"
                seconds = time.time() - started
                write_judge_manifest(run_dir, path, config, shard, status, model, rows, counts, run_id, seconds, error)
                raise
        elif path.is_file():
            model = json.loads(path.read_text(encoding="utf-8")).get("model")
        write_judge_manifest(
            run_dir, path, config, shard, "complete", model, rows, counts, run_id, time.time() - started
        )
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
                writer.write(judgement_record(row, found, result.text, run_id))
            writer.commit()
            in_batch[0] = 0
            live.result(len(batch), tokens)
    finally:
        live.close(backend)
        writer.close()
        backend.close()
