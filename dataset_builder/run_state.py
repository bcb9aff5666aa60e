"""What one ``generate`` process knows about its shard of a RUN_DIR, and the shard manifest it writes.

Every count is per shard (the records and rejects of this shard's queries, deduplicated by key), so
shards generated into one RUN_DIR never add up to "28 of 16 documents"; ``this_run`` holds the counts
of the current process. The manifest's ``status`` says how the last process ended: ``running`` (or a
process killed with ``-9``), ``complete``, ``interrupted`` (Ctrl-C, SIGTERM) or ``failed``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json, write_json_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.dataset_builder.backends import resumable_identity
from rankladder.dataset_builder.levels import Level
from rankladder.dataset_builder.queries import Query
from rankladder.dataset_builder.run_records import record_key, shard_of
from rankladder.dataset_builder.runfiles import RECORDS, REJECTS, iter_kind, manifest_path

RUN_KIND = "rankladder-generation-run"


@dataclass
class GenerationTask:
    """One backend request's worth of work: a query, a sample index, the levels still missing.

    ``first_attempt``: the attempt this round of tries began at (``--retry-rejected`` continues the
    attempt numbers of a given-up key, so its seeds are new; it gets ``max_attempts`` more tries)."""

    query: Query
    sample: int
    levels: list[Level]
    attempt: int = 0
    first_attempt: int = 0


@dataclass
class ShardCounts:
    """The records and rejects of one shard on disk (every run of it), by key."""

    record_keys: set[str]
    final_reasons: dict[str, str]  # key given up (no record) -> the reason of its last final attempt
    failed_attempts: Counter
    next_attempt: dict[str, int]  # key -> one past the highest attempt made for it


def shard_counts(run_dir: Path, shard: tuple[int, int]) -> ShardCounts:
    def mine(row: dict) -> bool:
        return shard_of(row["query_id"], shard[1]) == shard[0]

    records = {row["key"] for row in iter_kind(run_dir, RECORDS) if mine(row)}
    finals: dict[str, str] = {}
    failed: Counter = Counter()
    next_attempt: dict[str, int] = {}
    for row in iter_kind(run_dir, REJECTS):
        if not mine(row):
            continue
        failed[row["reason"]] += 1
        next_attempt[row["key"]] = max(next_attempt.get(row["key"], 0), int(row.get("attempt", 0)) + 1)
        if row.get("final") and row["key"] not in records:
            finals[row["key"]] = row["reason"]
    return ShardCounts(records, finals, failed, next_attempt)


class RunState:
    """State of one generate process over one shard."""

    def __init__(
        self,
        run_dir: Path,
        config,
        queries: list[Query],
        shard: tuple[int, int],
        query_source: dict,
        retry_rejected: bool = False,
    ):
        self.run_dir, self.config, self.shard = run_dir, config, shard
        self.queries = [q for q in queries if shard_of(q.id, shard[1]) == shard[0]]
        self.run_query_texts = [q.text for q in queries]  # every shard's: level-0 topics avoid all of them
        self.query_source = query_source
        self.retry_rejected = retry_rejected
        self.run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.done: set[str] = set()
        self.accepted: dict[str, list[str]] = defaultdict(list)
        self.next_attempt: dict[str, int] = {}
        self.counts: Counter = Counter()
        self.retried_keys = 0

    def load_existing(self) -> None:
        for row in iter_kind(self.run_dir, RECORDS):
            if row["key"] not in self.done:
                self.done.add(row["key"])
                self.accepted[row["query_id"]].append(row["text"])
        on_disk = shard_counts(self.run_dir, self.shard)
        if self.retry_rejected:  # given-up keys are pending again; their rejects stay as history
            self.next_attempt = on_disk.next_attempt
            self.retried_keys = len(on_disk.final_reasons)
        else:
            self.done.update(on_disk.final_reasons)

    def pending_tasks(self) -> deque[GenerationTask]:
        tasks = deque()
        for query in self.queries:
            for sample in range(self.config.samples_per_level):
                keys = {lv.value: record_key(query.id, lv.value, sample) for lv in self.config.levels}
                missing = [lv for lv in self.config.levels if keys[lv.value] not in self.done]
                if not missing:
                    continue
                if self.config.template.mode == "per-query":
                    first = max(self.next_attempt.get(keys[lv.value], 0) for lv in missing)
                    tasks.append(GenerationTask(query, sample, missing, first, first))
                else:
                    for level in missing:
                        first = self.next_attempt.get(keys[level.value], 0)
                        tasks.append(GenerationTask(query, sample, [level], first, first))
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

    def write_manifest(self, status: str, model: dict | None, elapsed: float, error: str | None = None) -> None:
        on_disk = shard_counts(self.run_dir, self.shard)
        manifest = {
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
                "records_all_runs": len(on_disk.record_keys),
                "failed_attempts_by_reason": dict(on_disk.failed_attempts),
                "rejected_keys": len(on_disk.final_reasons),
                "rejected_keys_by_reason": dict(Counter(on_disk.final_reasons.values()).most_common()),
                "this_run": dict(self.counts),
            },
            "last_run": {
                "run_id": self.run_id,
                "finished": utc_now(),
                "seconds": round(elapsed, 2),
                "retry_rejected": self.retried_keys if self.retry_rejected else None,
            },
            "tool_versions": tool_versions(),
        }
        if error:
            manifest["error"] = error
        write_json_atomic(manifest_path(self.run_dir, *self.shard), manifest)
