"""RUN_DIR files: append-only JSONL shards that survive ``kill -9``.

Each process appends to its own files (``<kind>/shard-I-of-N.<run_id>.jsonl``), hands every finished
result's lines to the OS at once (``flush``: a ``kill -9`` loses only requests still in flight) and
fsyncs at least once a second (``commit``: durable against power loss), so a crash can only leave a
torn *last* line in a file nobody writes any more; readers skip exactly that line. A lock per shard
(``RUN_DIR/.lock.shard-I-of-N``, ``rankladder.core.locks``) stops two processes from writing the same keys:
the second is refused with the holder's pid, host and command.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

from rankladder.core.errors import UserError, located
from rankladder.core.locks import describe_holder, hold_file, is_held, read_holder
from rankladder.dataset_builder import schema

RECORDS = "records"
REJECTS = "rejects"


# the manifests other commands write at the top of their output (the data contract's, and eval's results):
# a RUN_DIR written into one of those would mix two outputs (a dataset folder would upload generation records)
OTHER_OUTPUT_MANIFESTS = (schema.MANIFEST_FILE, schema.TRAIN_MANIFEST_FILE, "eval_manifest.json")


def check_run_dir_target(run_dir: Path) -> None:
    """Before ``generate`` writes anything: ``run_dir`` is new, a folder, and no other command's output."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UserError(f"{run_dir}: --out exists and is not a folder (a RUN_DIR is a folder; choose another path)")
    found = [name for name in OTHER_OUTPUT_MANIFESTS if (run_dir / name).is_file()]
    if found:
        raise UserError(
            f"{run_dir}: --out is another command's output (it holds {found[0]}), not a RUN_DIR: "
            "choose a new folder for the generation run"
        )


def shard_tag(index: int, count: int) -> str:
    return f"shard-{index:05d}-of-{count:05d}"


def manifest_path(run_dir: Path, index: int, count: int) -> Path:
    return run_dir / f"manifest.{shard_tag(index, count)}.json"


def manifests(run_dir: Path) -> list[Path]:
    return sorted(run_dir.glob("manifest.shard-*.json"))


def iter_jsonl(path: Path) -> Iterator[dict]:
    """Complete lines of an append-only file; a torn final line (no newline) is skipped."""
    with open(path, "rb") as handle:
        data = handle.read()
    end = data.rfind(b"\n") + 1
    for line_no, line in enumerate(data[:end].split(b"\n")[:-1], 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise located(path, f"corrupt record ({exc.__class__.__name__})", line_no) from None


def iter_kind(run_dir: Path, kind: str) -> Iterator[dict]:
    for path in sorted((run_dir / kind).glob("shard-*.jsonl")):
        yield from iter_jsonl(path)


class AppendWriter:
    """One JSONL file opened for append; ``flush()`` hands written lines to the OS (they survive the
    process), ``commit()`` also makes them durable on disk."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._handle = open(path, "a", encoding="utf-8")

    def write(self, row: dict) -> None:
        self._handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    def flush(self) -> None:
        self._handle.flush()

    def commit(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self.commit()
            self._handle.close()


RUN_MANIFESTS = "manifest.shard-*.json"  # generate's shard manifests (``manifest_path``)
SHARD_NAME = re.compile(r"shard-(\d+)-of-(\d+)")
LAYOUT_LOCK = ".lock.shard-layout"  # held only while a writer checks the shard counts and takes its shard lock
LAYOUT_WAIT_SECONDS = 10.0  # others hold it for milliseconds


class ShardLock:
    """Exclusive lock on one shard of a RUN_DIR, taken before any work (``generate`` and ``judge``): a second
    writer of the same shard gets one line naming the holder; a lock left by a killed process is taken over.

    Shards of one RUN_DIR must share one count N: shard 0/2 and shard 0/3 own overlapping keys, so a writer
    of N is refused while a writer of another count holds a shard, or while the RUN_DIR holds an unfinished
    run of another count (``manifest_glob``: that kind's shard manifests; a complete one is no obstacle).
    The check and the shard lock are taken together under ``LAYOUT_LOCK``, so two writers of different
    counts starting at once cannot both pass."""

    def __init__(self, run_dir: Path, index: int, count: int, manifest_glob: str = RUN_MANIFESTS):
        self.run_dir, self.count, self.manifest_glob = Path(run_dir), count, manifest_glob
        self.path = self.run_dir / f".lock.{shard_tag(index, count)}"
        self._what = f"{run_dir} ({shard_tag(index, count)})"
        self._hold = None

    def __enter__(self):
        with hold_file(self.run_dir / LAYOUT_LOCK, f"{self.run_dir} (shard layout)", LAYOUT_WAIT_SECONDS):
            self._check_other_counts()
            self._hold = hold_file(self.path, self._what)
            self._hold.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hold.__exit__(*exc)

    def _check_other_counts(self) -> None:
        for lock in sorted(self.run_dir.glob(".lock.shard-*-of-*")):
            match = SHARD_NAME.search(lock.name)
            index, count = (int(match.group(1)), int(match.group(2))) if match else (0, self.count)
            if count != self.count and is_held(lock):
                raise UserError(
                    f"{self.run_dir}: shard {index}/{count} is being written by {describe_holder(read_holder(lock))}; "
                    f"all shards of one RUN_DIR use one count: run --shard I/{count}, or wait for it to finish"
                )
        complete: dict[int, set[int]] = {}
        for path in self.run_dir.glob(self.manifest_glob):
            match = SHARD_NAME.search(path.name)
            if not match or int(match.group(2)) == self.count:
                continue
            index, count = int(match.group(1)), int(match.group(2))
            try:
                status = json.loads(path.read_text(encoding="utf-8")).get("status")
            except (OSError, ValueError):
                status = None
            complete.setdefault(count, set()).update({index} if status == "complete" else set())
        for count, done in sorted(complete.items()):
            if len(done) < count:
                raise UserError(
                    f"{self.run_dir}: holds an unfinished run of --shard I/{count} ({len(done)} of {count} shards "
                    f"complete); a --shard I/{self.count} writer would write keys those shards own: finish it with "
                    f"--shard I/{count}, or use a new RUN_DIR"
                )


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be, so a terminated run stops as cleanly as an interrupted one."""


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs (in the main thread), SIGTERM raises :class:`Terminated`: ``finally`` blocks
    close the files and the manifest records ``interrupted`` instead of the process vanishing mid-write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
