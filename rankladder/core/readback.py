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
PREPARE_MAX_BYTES = 64 * 2**20  # a config this small is prepared as users load it; a larger one is read in place
CHILD_TIMEOUT_S = 3600  # a published read-back downloads the whole dataset once


class IdDigest:
    """Order-sensitive sha256 over a sequence of string ids, fed in any chunking."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.rows = 0

    def update(self, ids: Iterable[str | None]) -> None:
        values = ["" if value is None else value for value in ids]
        if values:  # one joined update hashes the same bytes as one update per id, far faster
            self._hash.update("\x00".join(values).encode("utf-8") + b"\x00")
            self.rows += len(values)

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
    path: str | Path,
    expected: list[dict],
    revision: str | None = None,
    cache_dir: str | Path | None = None,
    prepare: bool | None = None,
) -> None:
    """Load every expected config/split with ``datasets.load_dataset`` and check rows and ids; else UserError.

    ``path`` is a local folder or a Hub repo id (then ``revision`` is the tag just pushed). Each config is
    read one of two ways (``prepare`` forces one; by default a repo id and a local config of at most
    ``PREPARE_MAX_BYTES`` of data files are prepared, a larger local config is checked in place):

    - *prepared*: the plain ``load_dataset(path, config, split=...)``: ``datasets`` converts the config's
      data files into its Arrow cache (or reuses a copy already there) and the ids are read from that.
    - *in place*: ``load_dataset_builder`` resolves the config exactly as the plain call does (the card's
      ``configs:``, the data files, the cache folder). If the cache folder already holds a prepared copy,
      that copy is what users get, so it is loaded as above (memory-mapped, no conversion) and a stale entry
      is caught. Otherwise the plain call would convert the resolved files, so those are checked instead:
      every file's schema must equal the features the conversion casts to, and
      ``load_dataset(..., streaming=True, columns=[id])`` reads the id column alone. This gives the same
      rows, ids and cast check without writing an Arrow copy of every text, which at 1M records was most of
      a build's read-back time and memory.
    """
    import datasets

    where = f"{path}@{revision}" if revision else str(path)
    cache = str(cache_dir) if cache_dir else None
    local = Path(path).is_dir()
    for entry in expected:
        config, split = entry["config"], entry["split"]
        try:
            if prepare or (prepare is None and not local):
                batches = _ids_prepared(datasets, str(path), entry, revision, cache)
            else:
                batches = _ids_in_place(datasets, str(path), entry, cache, force=prepare is False)
            digest = IdDigest()
            for batch in batches:
                digest.update(batch.to_pylist())
        except UserError:
            raise
        except Exception as exc:  # any failure to load is a failed read-back, reported on one line
            message = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise UserError(
                f"{where}: read-back failed: load_dataset(config={config!r}, split={split!r}): {message}"
            ) from exc
        if digest.rows != entry["rows"]:
            raise UserError(
                f"{where}: read-back failed: config {config!r} split {split!r} loads {digest.rows} rows, "
                f"{entry['rows']} were written"
            )
        if digest.hexdigest() != entry["ids_sha256"]:
            raise UserError(
                f"{where}: read-back failed: config {config!r} split {split!r} loads other "
                f"{entry['id_column']!r} values than were written (stale cache or wrong files)"
            )


def _ids_prepared(datasets, path: str, entry: dict, revision: str | None, cache: str | None) -> Iterator:
    """The id column, in order, of the plain ``load_dataset`` call (prepared into the Arrow cache)."""
    loaded = datasets.load_dataset(path, entry["config"], split=entry["split"], revision=revision, cache_dir=cache)
    column = loaded.select_columns([entry["id_column"]]).with_format("arrow")
    return (batch.column(0) for batch in column.iter(batch_size=BATCH_ROWS))


def _ids_in_place(datasets, path: str, entry: dict, cache: str | None, force: bool) -> Iterator:
    """The id column, in order, of what the plain ``load_dataset(path, config)`` returns, without preparing
    a large config: the cached copy when one exists, else the resolved files read for that column only."""
    import pyarrow.parquet as pq

    config, split, id_column = entry["config"], entry["split"], entry["id_column"]
    builder = datasets.load_dataset_builder(path, config, cache_dir=cache)
    files = [(name, file) for name, listed in (builder.config.data_files or {}).items() for file in listed]
    small = sum(Path(file).stat().st_size for _, file in files) <= PREPARE_MAX_BYTES
    if Path(builder.cache_dir, datasets.config.DATASET_INFO_FILENAME).exists() or (small and not force):
        return _ids_prepared(datasets, path, entry, None, cache)  # what users get, stale or not
    _check_schemas(datasets, pq, path, config, [file for _, file in files], builder.info.features)
    streamed = datasets.load_dataset(path, config, split=split, streaming=True, columns=[id_column], cache_dir=cache)
    return (batch.column(id_column) for batch in streamed.with_format("arrow").iter(batch_size=BATCH_ROWS))


def _check_schemas(datasets, pq, path: str, config: str, files: list[str], declared) -> None:
    """What the plain call's conversion fails on: it infers the features from the config's first data file
    (or takes the card's ``dataset_info``) and casts every file of every split to them."""
    first = None
    for file in files:
        features = datasets.Features.from_arrow_schema(pq.read_schema(file))
        first = first or features
        # declared features only need the same columns: the cast converts compatible types
        differs = set(features) != set(declared) if declared is not None else features != first
        if differs:
            reference = "the card's dataset_info" if declared is not None else Path(files[0]).name
            raise UserError(
                f"{path}: read-back failed: config {config!r}: {Path(file).name} has the columns/types "
                f"{dict(features)}, which differ from {reference}'s {dict(declared or first)}"
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
