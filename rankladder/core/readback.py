"""Read a written dataset back through the path users use (``datasets.load_dataset``) before reporting success.

A writer records, per config/split, how many rows it wrote and a digest of one id column
(:class:`IdDigest`); :func:`verify_dataset` loads each split with ``load_dataset(path, config,
split=..., revision=...)`` and compares. A folder whose card points at the wrong files, a stale
``datasets`` cache entry, a lost shard or a reordered split all fail here, as one line naming the split.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankladder.core.errors import UserError

BATCH_ROWS = 100_000


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
