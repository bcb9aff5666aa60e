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
# Rows of all partitions held back before they are written as row groups. Written as they came (a row group
# per partition per input batch), a partition had one row group per batch of the whole run: 2,400 at 10M
# records, and reading such a file took ~2.5x its data in memory, kept after the read (parquet metadata
# and decoders outside Arrow's pool). Buffered, a partition has about parts x its size / this many groups.
SPILL_BUFFER_BYTES = 32 * 2**20


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
    """``parts`` parquet files under ``folder/name``; tables are appended in order and held back per partition
    until about ``SPILL_BUFFER_BYTES / parts`` have come, then written as one row group (``close`` writes the rest)."""

    def __init__(self, folder: Path, name: str, parts: int):
        self.folder = Path(folder) / name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.parts = parts
        self._writers: dict[int, object] = {}
        self._schema = None
        self._pending: dict[int, list] = {}
        self._pending_bytes: dict[int, int] = {}
        self._flush_bytes = max(1, SPILL_BUFFER_BYTES // parts)

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
        import numpy as np

        pending = self._pending.setdefault(part, [])
        if not pending and table.nbytes >= self._flush_bytes:
            self._write(part, table.combine_chunks())  # a row group's worth already: written as it came
            return
        # held as a copy: a slice would keep the whole table it was cut from alive until the flush
        pending.append(table.take(np.arange(table.num_rows)))
        self._pending_bytes[part] = self._pending_bytes.get(part, 0) + table.nbytes
        if self._pending_bytes[part] >= self._flush_bytes:
            self._flush(part)

    def _flush(self, part: int) -> None:
        """The partition's held-back rows as one row group."""
        import pyarrow as pa

        tables = self._pending.pop(part, [])
        self._pending_bytes.pop(part, None)
        if tables:
            self._write(part, pa.concat_tables(tables).combine_chunks())

    def _write(self, part: int, table) -> None:
        import pyarrow.parquet as pq

        writer = self._writers.get(part)
        if writer is None:
            writer = self._writers[part] = pq.ParquetWriter(self.path(part), table.schema, compression=SPILL_CODEC)
        writer.write_table(table)

    def close(self) -> None:
        for part in sorted(self._pending):
            self._flush(part)
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()

    def row_groups(self, part: int):
        """One partition's row groups in order, each read on its own. (``ParquetFile.iter_batches`` over a whole
        file held about the file's size outside Arrow's pool until it finished: 125 -> 524 MiB over a 900 MiB
        file, where this stays flat; in a 10M-record build that was a 1.6 GiB peak while the corpus was written.)"""
        import pyarrow.parquet as pq

        path = self.path(part)
        if not path.exists():
            return
        file = pq.ParquetFile(path)
        for index in range(file.num_row_groups):
            yield file.read_row_group(index)

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
