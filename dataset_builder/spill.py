"""Partitioned parquet spill files, so ``build`` never holds more than one partition of the run in memory.

``build`` writes the records once into ``parts`` files partitioned by a hash of a key (the query id, the
document id, …), then loads one partition at a time. Every load is reported to an optional ``on_hold``
callable as ``(phase, rows)``: that public hook is how tests (and a curious user) see how many records
the build held at once; ``BUCKET_RECORDS`` (``build_dataset(bucket_records=...)``) sets the partition size.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path

BUCKET_RECORDS = 200_000  # records per in-memory partition: ~200 MB of texts and index at most
HoldHook = Callable[[str, int], None]
SPILL_CODEC = "lz4"  # spill files are read once or twice: speed over size


@contextlib.contextmanager
def memory_returned_promptly() -> Iterator[None]:
    """Arrow allocations on the jemalloc pool with decay 0 while the block runs, then the former default pool.

    Arrow's default allocator (mimalloc) keeps freed pages for later reuse, so each partition left the
    next one a heap as large as its own peak and the build's RSS grew with the partition count (measured:
    at 600k records RSS at each partition's read climbed 480 → 680 MiB; with pages returned on free it
    stays flat). A pyarrow built without jemalloc keeps its pool."""
    import pyarrow as pa

    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def partition_count(records: int, bucket_records: int) -> int:
    return max(1, math.ceil(records / max(1, bucket_records)))


def hash_parts(values, parts: int):
    """Partition index (uint32 numpy array) of each string in an arrow array, stable within one process."""
    import polars as pl

    if parts == 1:
        import numpy as np

        return np.zeros(len(values), dtype=np.uint32)
    series = pl.Series(values=values)
    return (series.hash(seed=0) % parts).cast(pl.UInt32).to_numpy()


class Partitions:
    """``parts`` parquet files under ``folder/name``; tables are appended in order, one row group per call."""

    def __init__(self, folder: Path, name: str, parts: int):
        self.folder = Path(folder) / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.parts = parts
        self._writers: dict[int, object] = {}
        self._schema = None

    def path(self, part: int) -> Path:
        return self.folder / f"part-{part:05d}.parquet"

    def write(self, table, part_of_row) -> None:
        """Append ``table``'s rows to the partitions named by ``part_of_row`` (one index per row), in row order."""
        import numpy as np
        import pyarrow as pa

        if not table.num_rows:
            return
        self._schema = table.schema
        if self.parts == 1:
            self._append(0, table)
            return
        order = np.argsort(part_of_row, kind="stable")
        self.write_grouped(table.take(pa.array(order)), part_of_row[order])

    def write_grouped(self, table, part_of_row) -> None:
        """Like :meth:`write` for rows already grouped by partition (``part_of_row`` ascending): no reordering copy."""
        import numpy as np

        bounds = np.searchsorted(part_of_row, np.arange(self.parts + 1))
        for part in range(self.parts):
            if bounds[part + 1] > bounds[part]:
                self._append(part, table.slice(bounds[part], bounds[part + 1] - bounds[part]))

    def append(self, part: int, table) -> None:
        if table.num_rows:
            self._schema = table.schema
            self._append(part, table)

    def _append(self, part: int, table) -> None:
        import pyarrow.parquet as pq

        writer = self._writers.get(part)
        if writer is None:
            writer = self._writers[part] = pq.ParquetWriter(self.path(part), table.schema, compression=SPILL_CODEC)
        writer.write_table(table.combine_chunks())

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def read(self, part: int, columns: list[str] | None = None, on_hold: HoldHook | None = None, phase: str = ""):
        """One partition as an arrow table (None when nothing was written to it)."""
        import pyarrow.parquet as pq

        path = self.path(part)
        if not path.exists():
            return None
        table = pq.read_table(path, columns=columns)
        if on_hold is not None:
            on_hold(phase or self.folder.name, table.num_rows)
        return table
