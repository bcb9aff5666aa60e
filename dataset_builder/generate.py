"""``rankladder generate``: queries × levels × samples → validated documents in a RUN_DIR.

Resumable (finished keys are skipped), shardable (``shard i/N`` takes the queries whose id hashes to
i), and auditable (every failed attempt is written to ``rejects/`` with its reason).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import InitVar, asdict, dataclass, field
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import prepare_output_parent, sha256_json, write_json_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.dataset_builder import prompts as prompt_lib
from rankladder.dataset_builder.backends import resumable_identity
from rankladder.dataset_builder.backends.base import Backend, GenerationRequest, SamplingConfig
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
from rankladder.dataset_builder.runfiles import (
    RECORDS,
    REJECTS,
    AppendWriter,
    ShardLock,
    iter_kind,
    manifest_path,
    shard_tag,
)

log = logging.getLogger(__name__)
RUN_KIND = "rankladder-generation-run"
COMMIT_SECONDS = 1.0  # fsync at most this often; every result is flushed to the OS when it arrives


@dataclass
class GenerateConfig:
    levels: list[Level]
    template: prompt_lib.PromptTemplate
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    samples_per_level: int = 1
    max_attempts: int = 3
    window: int | None = None  # requests kept in flight; None: the backend's default_window
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    backend: str = "transformers"
    backend_options: dict = field(default_factory=dict)
    structured_output: bool = True  # per-query mode: ask the backend for JSON of the levels' schema
    batch_size: InitVar[int | None] = None  # the old name of ``window`` (release/study configs use it)

    def __post_init__(self, batch_size: int | None) -> None:
        if batch_size is not None and self.window is None:
            self.window = batch_size

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


@dataclass
class GenerationTask:
    """One backend request's worth of work: a query, a sample index, the levels still missing."""

    query: Query
    sample: int
    levels: list[Level]
    attempt: int = 0


class _Run:
    """State of one generate process over one shard."""

    def __init__(
        self, run_dir: Path, config: GenerateConfig, queries: list[Query], shard: tuple[int, int], query_source: dict
    ):
        self.run_dir, self.config, self.shard = run_dir, config, shard
        self.queries = [q for q in queries if shard_of(q.id, shard[1]) == shard[0]]
        self.query_source = query_source
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.done: set[str] = set()
        self.accepted: dict[str, list[str]] = defaultdict(list)
        self.counts: Counter = Counter()

    def load_existing(self) -> None:
        for row in iter_kind(self.run_dir, RECORDS):
            if row["key"] not in self.done:
                self.done.add(row["key"])
                self.accepted[row["query_id"]].append(row["text"])
        for row in iter_kind(self.run_dir, REJECTS):
            if row.get("final"):
                self.done.add(row["key"])

    def pending_tasks(self) -> deque[GenerationTask]:
        tasks = deque()
        for query in self.queries:
            for sample in range(self.config.samples_per_level):
                missing = [lv for lv in self.config.levels if record_key(query.id, lv.value, sample) not in self.done]
                if not missing:
                    continue
                if self.config.template.mode == "per-query":
                    tasks.append(GenerationTask(query, sample, missing))
                else:
                    tasks.extend(GenerationTask(query, sample, [level]) for level in missing)
        return tasks

    def check_resumable(self) -> None:
        path = manifest_path(self.run_dir, *self.shard)
        if not path.is_file():
            return
        previous = resumable_identity(json.loads(path.read_text(encoding="utf-8")).get("config", {}))
        current = resumable_identity(self.config.identity())  # other servers or --concurrency: still resumable
        for key in current:
            if previous.get(key) != current[key]:
                raise UserError(
                    f"{path}: RUN_DIR was generated with a different '{key}'; use a new --out or the same settings"
                )

    def write_manifest(self, status: str, model: dict | None, elapsed: float) -> None:
        records = sum(1 for _ in iter_kind(self.run_dir, RECORDS))
        rejects = Counter(row["reason"] for row in iter_kind(self.run_dir, REJECTS))
        finals = sum(1 for row in iter_kind(self.run_dir, REJECTS) if row.get("final"))
        write_json_atomic(
            manifest_path(self.run_dir, *self.shard),
            {
                "kind": RUN_KIND,
                "status": status,
                "shard": {"index": self.shard[0], "count": self.shard[1]},
                "config": self.config.identity(),
                "config_hash": sha256_json(self.config.identity())[:16],
                "prompt_template": self.config.template.to_dict(),
                "model": model,
                "queries": {**self.query_source, "in_shard": len(self.queries)},
                "counts": {
                    "expected_records": len(self.queries) * len(self.config.levels) * self.config.samples_per_level,
                    "records_all_runs": records,
                    "failed_attempts_by_reason": dict(rejects),
                    "rejected_keys": finals,
                    "this_run": dict(self.counts),
                },
                "last_run": {"run_id": self.run_id, "finished": utc_now(), "seconds": round(elapsed, 2)},
                "tool_versions": tool_versions(),
            },
        )


def make_request(config: GenerateConfig, task: GenerationTask, topics: list[str]) -> GenerationRequest:
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


def make_requests(config: GenerateConfig, tasks: list[GenerationTask], topics: list[str]) -> list[GenerationRequest]:
    return [make_request(config, task, topics) for task in tasks]


class _Feed:
    """The backend's request source: tasks still to send (retries join at the end), and the tasks of
    the requests in flight, found again by the key of their result."""

    def __init__(self, config: GenerateConfig, tasks: deque[GenerationTask], topics: list[str]):
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
    config: GenerateConfig,
    backend_factory,
    shard: tuple[int, int] = (0, 1),
    query_source: dict | None = None,
    progress: bool = True,
) -> dict:
    """Generate every missing (query, level, sample) of this shard; returns the shard manifest.

    A RUN_DIR this call created is removed again when it fails before writing anything (bad server,
    model not found), so a failed first run leaves no output behind."""
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    prepare_output_parent(run_dir / "x")
    try:
        return _generate_locked(run_dir, queries, config, backend_factory, shard, query_source, progress)
    except BaseException:
        lock = ShardLock(run_dir, *shard).path
        if created and {p.name for p in run_dir.iterdir()} <= {lock.name}:  # failed before writing anything
            lock.unlink(missing_ok=True)
            run_dir.rmdir()
        raise


def _generate_locked(
    run_dir: Path,
    queries: list[Query],
    config: GenerateConfig,
    backend_factory,
    shard: tuple[int, int],
    query_source: dict | None,
    progress: bool,
) -> dict:
    run = _Run(run_dir, config, queries, shard, query_source or {})
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
            tag = f"{shard_tag(*shard)}.{run.run_id}.jsonl"
            records, rejects = AppendWriter(run_dir / RECORDS / tag), AppendWriter(run_dir / REJECTS / tag)
            topics = prompt_lib.load_topics([query.text for query in queries])  # none related to a query
            total_docs = sum(len(t.levels) for t in tasks)
            feed = _Feed(config, tasks, topics)
            live = LiveProgress(
                total_docs,
                f"generate {shard_tag(*shard)}",
                docs_of=lambda key: len(feed.in_flight[key][0].levels) if key in feed.in_flight else 0,
                in_flight=lambda: len(feed.in_flight),
                disable=not progress,
            )
            live.attach(backend)
            last_commit = time.monotonic()
            try:
                for result in backend.stream(feed.next_request, config.sampling, config.window):
                    task, request = feed.finish(result.key)
                    finished = _handle_result(
                        run, task, request, result, model, backend.seeding, records, rejects, tasks
                    )
                    live.result(result.key, finished, result.completion_tokens)
                    records.flush()  # in the OS at once: a kill -9 loses only what is still in flight
                    rejects.flush()
                    if time.monotonic() - last_commit >= COMMIT_SECONDS:
                        records.commit()
                        rejects.commit()
                        last_commit = time.monotonic()
                if feed.in_flight:
                    raise RuntimeError(
                        f"backend {backend.name!r} ended its stream with {len(feed.in_flight)} requests unanswered"
                    )
            finally:
                live.close(backend)
                records.close()
                rejects.close()
                backend.close()
        run.write_manifest("complete", model or _previous_model(run_dir, shard), time.time() - started)
    return json.loads(manifest_path(run_dir, *shard).read_text(encoding="utf-8"))


def _previous_model(run_dir: Path, shard: tuple[int, int]) -> dict | None:
    path = manifest_path(run_dir, *shard)
    return json.loads(path.read_text(encoding="utf-8")).get("model") if path.is_file() else None


def _handle_result(
    run: _Run,
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
        final = task.attempt + 1 >= config.max_attempts
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
        tasks.append(GenerationTask(task.query, task.sample, retry_levels, task.attempt + 1))
    return finished
