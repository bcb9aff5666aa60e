"""Read a written dataset back through the path users use (``datasets.load_dataset``) before reporting success.

A writer records, per config/split, how many rows it wrote and a digest of one id column
(:class:`IdDigest`); :func:`verify_dataset` loads each split with ``load_dataset(path, config,
split=..., revision=...)`` and compares. A folder whose card points at the wrong files, a stale
``datasets`` cache entry, a lost shard or a reordered split all fail here, as one line naming the split.
After ``publish dataset``, :func:`verify_published` does the same for ``load_dataset(repo, config,
revision=tag)`` in a fresh process with empty caches, online at the Hub just written to.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankladder.core.errors import UserError

BATCH_ROWS = 100_000
CHILD_TIMEOUT_S = 3600  # a published read-back downloads the whole dataset once


class IdDigest:
    """Order-sensitive sha256 over a sequence of string ids, fed in any chunking."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def update(self, ids: Iterable[str | None]) -> None:
        for value in ids:
            self._hash.update(("" if value is None else value).encode("utf-8") + b"\x00")
            self.rows += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def expectation(config: str, split: str, id_column: str, digest: IdDigest) -> dict:
    """What a writer promises for one config/split (stored in its manifest, checked by :func:`verify_dataset`)."""
    return {
        "config": config,
        "split": split,
        "rows": digest.rows,
        "id_column": id_column,
        "ids_sha256": digest.hexdigest(),
    }


@contextlib.contextmanager
def scratch_cache_beside(final: Path) -> Iterator[Path]:
    """A private ``datasets`` cache next to ``final`` (same disk), deleted afterwards.

    Named like ``atomic_output_dir``'s temp folders (``.NAME.tmp-PID-…``) so a killed writer's
    leftover is cleaned up by the next writer of the same output."""
    path = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}-readback")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def verify_dataset(
    path: str | Path, expected: list[dict], revision: str | None = None, cache_dir: str | Path | None = None
) -> None:
    """Load every expected config/split with ``datasets.load_dataset`` and check rows and ids; else UserError.

    ``path`` is a local folder or a Hub repo id (then ``revision`` is the tag just pushed).
    """
    import datasets

    where = f"{path}@{revision}" if revision else str(path)
    for entry in expected:
        config, split = entry["config"], entry["split"]
        try:
            loaded = datasets.load_dataset(
                str(path), config, split=split, revision=revision, cache_dir=str(cache_dir) if cache_dir else None
            )
        except Exception as exc:  # any failure to load is a failed read-back, reported on one line
            message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise UserError(
                f"{where}: read-back failed: load_dataset(config={config!r}, split={split!r}): {message}"
            ) from exc
        if len(loaded) != entry["rows"]:
            raise UserError(
                f"{where}: read-back failed: config {config!r} split {split!r} loads {len(loaded)} rows, "
                f"{entry['rows']} were written"
            )
        digest = IdDigest()
        column = loaded.select_columns([entry["id_column"]]).with_format("arrow")
        for batch in column.iter(batch_size=BATCH_ROWS):
            digest.update(batch.column(0).to_pylist())
        if digest.hexdigest() != entry["ids_sha256"]:
            raise UserError(
                f"{where}: read-back failed: config {config!r} split {split!r} loads other "
                f"{entry['id_column']!r} values than were written (stale cache or wrong files)"
            )


def verify_published(repo_id: str, expected: list[dict], revision: str, endpoint: str) -> None:
    """Read a just-published dataset back from the Hub, ``load_dataset(repo_id, config, revision=...)``, in a
    fresh interpreter with its own empty ``datasets`` and Hub caches, online, at ``endpoint``; else UserError.

    A fresh process because ``datasets``/``huggingface_hub`` read their offline switches and endpoint at
    import time, and empty caches so no entry from an earlier download of the same repo can answer.
    """
    with tempfile.TemporaryDirectory(prefix="rankladder-readback-") as scratch:
        env = {
            **os.environ,
            "HF_ENDPOINT": endpoint,
            "HF_HUB_OFFLINE": "0",
            "HF_DATASETS_OFFLINE": "0",
            "HF_DATASETS_CACHE": str(Path(scratch) / "datasets"),
            "HF_HUB_CACHE": str(Path(scratch) / "hub"),
            "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "PYTHONWARNINGS": "ignore",
        }
        request = json.dumps({"path": repo_id, "expected": expected, "revision": revision})
        try:
            child = subprocess.run(
                [sys.executable, "-m", "rankladder.core.readback"],
                input=request,
                env=env,
                capture_output=True,
                text=True,
                timeout=CHILD_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            raise UserError(
                f"{repo_id}@{revision}: read-back failed: load_dataset did not finish in {CHILD_TIMEOUT_S} s"
            ) from None
    lines = [line for line in child.stdout.splitlines() if line.strip()]
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if child.returncode == 0 and answer.get("ok"):
        return
    tail = [line for line in child.stderr.splitlines() if line.strip()]
    reason = answer.get("error") or (tail[-1] if tail else f"the read-back process exited {child.returncode}")
    raise UserError(reason if reason.startswith(f"{repo_id}@") else f"{repo_id}@{revision}: read-back failed: {reason}")


def _child() -> int:
    """``python -m rankladder.core.readback``: one JSON request on stdin, one JSON answer on stdout."""
    request = json.loads(sys.stdin.read())
    try:
        verify_dataset(request["path"], request["expected"], revision=request.get("revision"))
    except UserError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 2
    print(json.dumps({"ok": True}))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
