"""Streaming writer of one config/split as content-addressed parquet shards (``schema.shard_file``).

Rows arrive in tables of any size; they leave in fixed-size row groups, and a new shard starts once
the current one holds ``shard_bytes`` of Arrow data (the Hub's usual shard size by default). Row
groups and shard boundaries depend only on the rows, not on how the input was chunked, so the same
data gives the same files (and the same names) whatever the RUN_DIR's shards looked like.
"""

from __future__ import annotations

import os
from pathlib import Path

from rankladder.core.fsutil import sha256_file
from rankladder.core.readback import IdDigest, expectation
from rankladder.dataset_builder import schema

ROWS_PER_GROUP = {schema.LISTS_CONFIG: 10_000}  # a list row holds a whole ranked list
DEFAULT_ROWS_PER_GROUP = 50_000


class SplitWriter:
    def __init__(
        self,
        folder: Path,
        config: str,
        split: str,
        label_columns: bool = False,
        shard_bytes: int | None = None,
        rows_per_group: int | None = None,
    ):
        self.folder, self.config, self.split = Path(folder), config, split
        self.schema = schema.features(config, label_columns).arrow_schema
        self.shard_bytes = shard_bytes or schema.SHARD_BYTES
        self.digest = IdDigest()
        self._id_column = schema.ID_COLUMNS[config]
        self._group_rows = rows_per_group or ROWS_PER_GROUP.get(config, DEFAULT_ROWS_PER_GROUP)
        self._pending, self._rows = [], 0
        self._writer, self._shard_bytes_written, self._partials = None, 0, []
        (self.folder / schema.CONFIG_LAYOUT[config][0]).mkdir(parents=True, exist_ok=True)

    def write(self, table) -> None:
        if table.num_rows:
            self._pending.append(table.select(self.schema.names).cast(self.schema))
            self._rows += table.num_rows
        while self._rows >= self._group_rows:
            self._flush(self._group_rows)
        if self._rows:
            # the tail waits for the next write as a copy: a slice would keep all of ``table``'s buffers alive
            import pyarrow as pa

            tail = pa.concat_tables(self._pending)
            self._pending = [tail.take(pa.array(range(tail.num_rows), pa.int64()))]

    def _open_shard(self) -> None:
        import pyarrow.parquet as pq

        path = self.folder / schema.CONFIG_LAYOUT[self.config][0] / f".{self.split}-{len(self._partials)}.partial"
        self._partials.append(path)
        self._writer = pq.ParquetWriter(path, self.schema, compression="zstd")
        self._shard_bytes_written = 0

    def _flush(self, rows: int) -> None:
        import pyarrow as pa

        table = pa.concat_tables(self._pending)
        group = table.slice(0, rows).combine_chunks()
        if self._writer is None:
            self._open_shard()
        self._writer.write_table(group, row_group_size=rows)
        self.digest.update(group.column(self._id_column).to_pylist())
        self._shard_bytes_written += group.nbytes
        if self._shard_bytes_written >= self.shard_bytes:
            self._writer.close()
            self._writer = None
        rest = table.slice(rows)
        self._pending, self._rows = ([rest] if rest.num_rows else []), rest.num_rows

    def close(self) -> list[str]:
        """Finish the last shard and give every shard its final, content-addressed name; returns them."""
        if self._rows:
            self._flush(self._rows)
        if self._writer is None and not self._partials:
            self._open_shard()  # an empty split still gets one (empty) file with the schema
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        names = []
        for index, partial in enumerate(self._partials):
            rel = schema.shard_file(self.config, self.split, index, len(self._partials), sha256_file(partial))
            os.replace(partial, self.folder / rel)
            names.append(rel)
        return names

    def expectation(self) -> dict:
        """Rows and id digest of what was written, for ``rankladder.core.readback.verify_dataset``."""
        return expectation(self.config, self.split, self._id_column, self.digest)
