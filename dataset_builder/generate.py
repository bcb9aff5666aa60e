"""``rankladder generate``: queries × levels × samples → validated documents in a RUN_DIR.

Resumable (finished keys are skipped), shardable (``shard i/N`` takes the queries whose id hashes to
i), and auditable (every failed attempt is written to ``rejects/`` with its reason).
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rankladder.core.fsutil import prepare_output_parent
from rankladder.core.manifest import utc_now
from rankladder.dataset_builder import prompts as prompt_lib
from rankladder.dataset_builder.backends.base import Backend, GenerationRequest, Sampling
from rankladder.dataset_builder.levels import Level
from rankladder.dataset_builder.parsing import (
    ValidationConfig,
    clean_generation,
    duplicate_reason,
    parse_levels_json,
    validate,
)
from rankladder.dataset_builder.progress import LiveProgress
from rankladder.dataset_builder.queries import Query
from rankladder.dataset_builder.run_records import (  # noqa: F401 (re-exported: callers import them from here)
    generation_record,
    key_sample,
    levels_json_schema,
    parse_shard,
    record_key,
    request_seed,
    shard_of,
    trim_to_sentence,
)
from rankladder.dataset_builder.run_state import RUN_KIND, GenerationTask, RunState  # noqa: F401 (re-exported)
from rankladder.dataset_builder.runfiles import (
    RECORDS,
    REJECTS,
    AppendWriter,
    ShardLock,
    check_run_dir_target,
    manifest_path,
    shard_tag,
    sigterm_as_interrupt,
)

_Run = RunState  # the old name (benchmarks/bench_streaming.py)

if TYPE_CHECKING:
    from rankladder.dataset_builder.config import GenerateConfig

log = logging.getLogger(__name__)
COMMIT_SECONDS = 1.0  # fsync at most this often; every result is flushed to the OS when it arrives


@dataclass
class GenerationPlan:
    """What a run generates, loaded and ready (levels, prompt template, sampling): derived from a
    :class:`rankladder.dataset_builder.config.GenerateConfig` by :meth:`from_config`; not a config."""

    levels: list[Level]
    template: prompt_lib.PromptTemplate
    sampling: Sampling = field(default_factory=Sampling)
    samples_per_level: int = 1
    max_attempts: int = 3
    window: int | None = None  # requests kept in flight; None: the backend's default_window
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    backend: str = "transformers"
    backend_options: dict = field(default_factory=dict)
    structured_output: bool = True  # per-query mode: ask the backend for JSON of the levels' schema

    @classmethod
    def from_config(cls, config: GenerateConfig) -> GenerationPlan:
        """Levels and prompt template loaded, sampling and backend options taken from ``config``."""
        from rankladder.core.cli_model import option_label
        from rankladder.dataset_builder.levels import load_levels, select_levels

        levels = load_levels(config.levels_config)
        if config.levels:
            levels = select_levels(levels, config.levels, option_label("levels"))
        return cls(
            levels=levels,
            template=prompt_lib.load_template(config.prompt_template, config.prompt_mode),
            sampling=Sampling(config.temperature, config.top_p, config.max_new_tokens, config.seed),
            samples_per_level=config.samples_per_level,
            max_attempts=config.max_attempts,
            window=config.window,
            backend=config.backend,
            backend_options=config.backend_options(),
            structured_output=config.structured_output,
        )

    @property
    def uses_structured_output(self) -> bool:
        return self.structured_output and self.template.mode == "per-query"

    def identity(self) -> dict:
        """What must match for a RUN_DIR to be resumed (and for shards to be merged)."""
        identity = {
            "levels": [level.to_dict() for level in self.levels],
            "prompt": {"name": self.template.name, "mode": self.template.mode, "hash": self.template.hash},
            "sampling": self.sampling.to_dict(),
            "samples_per_level": self.samples_per_level,
            "max_attempts": self.max_attempts,
            "validation": asdict(self.validation),
            "backend": self.backend,
            "backend_options": {k: v for k, v in self.backend_options.items() if "key" not in k.lower()},
        }
        if self.uses_structured_output:  # absent otherwise, so runs from before it existed still resume
            identity["structured_output"] = True
        return identity


def make_request(config: GenerationPlan, task: GenerationTask, topics: list[str]) -> GenerationRequest:
    """The chat request of one task; its key is unique among requests in flight (key + attempt)."""
    schema = None
    if config.template.mode == "per-query":
        messages = prompt_lib.render_per_query(config.template, task.query.text, task.levels)
        key = record_key(task.query.id, -1, task.sample)
        schema = levels_json_schema(task.levels) if config.uses_structured_output else None
    else:
        level = task.levels[0]
        topic = prompt_lib.unrelated_topic(task.query.id, task.sample, task.attempt, topics)
        messages = prompt_lib.render_per_level(config.template, task.query.text, level, topic)
        key = record_key(task.query.id, level.value, task.sample)
    return GenerationRequest(
        key=f"{key}\t{task.attempt}",
        messages=messages,
        seed=request_seed(config.sampling.seed, key, task.attempt),
        json_schema=schema,
    )


def make_requests(config: GenerationPlan, tasks: list[GenerationTask], topics: list[str]) -> list[GenerationRequest]:
    return [make_request(config, task, topics) for task in tasks]


class _Feed:
    """The backend's request source: tasks still to send (retries join at the end), and the tasks of
    the requests in flight, found again by the key of their result."""

    def __init__(self, config: GenerationPlan, tasks: deque[GenerationTask], topics: list[str]):
        self.config, self.tasks, self.topics = config, tasks, topics
        self.in_flight: dict[str, tuple[GenerationTask, GenerationRequest]] = {}

    def next_request(self) -> GenerationRequest | None:
        if not self.tasks:
            return None
        task = self.tasks.popleft()
        request = make_request(self.config, task, self.topics)
        self.in_flight[request.key] = (task, request)
        return request

    def finish(self, key: str) -> tuple[GenerationTask, GenerationRequest]:
        try:
            return self.in_flight.pop(key)
        except KeyError:
            raise RuntimeError(f"backend returned a result for {key!r}, which is not in flight") from None


def generate_run(
    run_dir: str | Path,
    queries: list[Query],
    config: GenerationPlan,
    backend_factory,
    shard: tuple[int, int] = (0, 1),
    query_source: dict | None = None,
    progress: bool = True,
    retry_rejected: bool = False,
) -> dict:
    """Generate every missing (query, level, sample) of this shard; returns the shard manifest.

    ``retry_rejected``: keys given up by earlier runs (every attempt failed) are tried again, with
    ``max_attempts`` new attempts (new seeds); their rejects stay in ``rejects/`` as history.
    A RUN_DIR this call created is removed again when it fails before writing anything (bad server,
    model not found), so a failed first run leaves no output behind. SIGTERM stops it like Ctrl-C:
    every finished document is kept and the manifest says ``interrupted``."""
    run_dir = Path(run_dir)
    check_run_dir_target(run_dir)
    created = not run_dir.exists()
    prepare_output_parent(run_dir / "x")
    run = RunState(run_dir, config, queries, shard, query_source or {}, retry_rejected)
    try:
        with sigterm_as_interrupt():
            return _generate_locked(run, backend_factory, progress)
    except BaseException:
        lock = ShardLock(run_dir, *shard).path
        if created and {p.name for p in run_dir.iterdir()} <= {lock.name}:  # failed before writing anything
            lock.unlink(missing_ok=True)
            run_dir.rmdir()
        raise


def _generate_locked(run: RunState, backend_factory, progress: bool) -> dict:
    run_dir, shard = run.run_dir, run.shard
    started = time.time()
    with ShardLock(run_dir, *shard):
        run.check_resumable()
        run.load_existing()
        tasks = run.pending_tasks()
        model = None
        if not tasks:
            log.info("shard %s: nothing to generate", shard_tag(*shard))
        else:
            backend: Backend = backend_factory()
            model = backend.model_identity()
            run.write_manifest("running", model, 0.0)
            try:
                _stream_into(run, backend, model, tasks, progress)
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: what is written stays, and the manifest says so
                run.write_manifest("interrupted", model, time.time() - started)
                raise
            except BaseException as exc:
                run.write_manifest("failed", model, time.time() - started, error=f"{type(exc).__name__}: {exc}")
                raise
        run.write_manifest("complete", model or _previous_model(run_dir, shard), time.time() - started)
    return json.loads(manifest_path(run_dir, *shard).read_text(encoding="utf-8"))


def _stream_into(run: RunState, backend: Backend, model: dict, tasks: deque, progress: bool) -> None:
    """Send the tasks through the backend's stream; write each result the moment it comes back."""
    config = run.config
    tag = f"{shard_tag(*run.shard)}.{run.run_id}.jsonl"
    records, rejects = AppendWriter(run.run_dir / RECORDS / tag), AppendWriter(run.run_dir / REJECTS / tag)
    feed = _Feed(
        config, tasks, prompt_lib.load_topics([query.text for query in run.queries])
    )  # none related to a query
    live = LiveProgress(
        sum(len(t.levels) for t in tasks),
        f"generate {shard_tag(*run.shard)}",
        in_flight=lambda: len(feed.in_flight),
        disable=not progress,
    )
    live.attach(backend)
    last_commit = time.monotonic()
    stream = backend.stream(feed.next_request, config.sampling, config.window)
    try:
        for result in stream:
            task, request = feed.finish(result.key)
            finished = _handle_result(run, task, request, result, model, backend.seeding, records, rejects, tasks)
            records.flush()  # in the OS at once: a kill -9 loses only what is still in flight
            rejects.flush()
            live.result(finished, result.completion_tokens)  # only now: the bar counts what is on disk
            if time.monotonic() - last_commit >= COMMIT_SECONDS:
                records.commit()
                rejects.commit()
                last_commit = time.monotonic()
        if feed.in_flight:
            raise RuntimeError(
                f"backend {backend.name!r} ended its stream with {len(feed.in_flight)} requests unanswered"
            )
    finally:
        stream.close()  # now, not when the traceback lets go of it: the backend stops what is in flight
        live.close(backend)
        records.close()
        rejects.close()
        backend.close()


def _previous_model(run_dir: Path, shard: tuple[int, int]) -> dict | None:
    path = manifest_path(run_dir, *shard)
    return json.loads(path.read_text(encoding="utf-8")).get("model") if path.is_file() else None


def _handle_result(
    run: RunState,
    task: GenerationTask,
    request: GenerationRequest,
    result,
    model: dict,
    seeding: str,
    records: AppendWriter,
    rejects: AppendWriter,
    tasks: deque,
) -> int:
    """Validate one generation; write accepted records / rejected attempts; requeue retries."""
    config = run.config
    run.counts["completion_tokens"] += result.completion_tokens
    if config.template.mode == "per-query":
        texts = parse_levels_json(result.text, [lv.value for lv in task.levels])
    else:
        raw = clean_generation(result.text)
        texts = {task.levels[0].value: trim_to_sentence(raw) if result.finish_reason == "length" else raw}
    prompt_texts = tuple(m["content"] for m in request.messages if m["role"] == "user")
    retry_levels, finished = [], 0
    for level in task.levels:
        key = record_key(task.query.id, level.value, task.sample)
        text = texts.get(level.value, "")
        reason = (
            "missing_level"
            if level.value not in texts
            else validate(text, prompt_texts, config.validation, query=task.query.text)
        )
        reason = reason or duplicate_reason(text, run.accepted[task.query.id], config.validation)
        if reason is None:
            records.write(
                generation_record(
                    task.query,
                    level,
                    task.sample,
                    text,
                    attempt=task.attempt,
                    seed=request.seed,
                    backend=config.backend,
                    model=model,
                    template=config.template,
                    sampling=config.sampling,
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=result.completion_tokens,
                    finish_reason=result.finish_reason,
                    run_id=run.run_id,
                    seeding=seeding,
                    structured_output=result.structured,
                    server=result.server,
                )
            )
            run.accepted[task.query.id].append(text)
            run.done.add(key)
            run.counts["accepted"] += 1
            finished += 1
            continue
        final = task.attempt + 1 - task.first_attempt >= config.max_attempts
        rejects.write(
            {
                "key": key,
                "query_id": task.query.id,
                "level": level.value,
                "sample": task.sample,
                "attempt": task.attempt,
                "seed": request.seed,
                "reason": reason,
                "final": final,
                "raw": result.text[:2000],
                "structured_output": result.structured,
                "run_id": run.run_id,
                "created": utc_now(),
            }
        )
        run.counts[f"failed_{reason}"] += 1
        if final:
            run.done.add(key)
            run.counts["rejected"] += 1
            finished += 1
        else:
            retry_levels.append(level)
    if retry_levels:  # a new attempt means a new seed (and, for level 0, a new topic)
        tasks.append(GenerationTask(task.query, task.sample, retry_levels, task.attempt + 1, task.first_attempt))
    return finished
