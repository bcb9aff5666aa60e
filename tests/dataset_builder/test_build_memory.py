"""What ``build`` keeps in memory between partitions: nothing of an earlier partition or range.

Measured with Arrow's own allocation counter (``pyarrow.total_allocated_bytes``), not RSS: the counter is
exact and does not depend on the allocator or the machine's load.
"""

from __future__ import annotations

import gc

import pyarrow as pa
import pyarrow.parquet as pq

from rankladder.dataset_builder import schema
from rankladder.dataset_builder.shards import SplitWriter


def _qrels(rows: int, width: int) -> pa.Table:
    ids = [f"q{i:08d}" for i in range(rows)]
    return pa.table(
        {
            "query-id": pa.array(ids, pa.string()),
            "corpus-id": pa.array([i + "x" * width for i in ids], pa.string()),
            "score": pa.array([i % 4 for i in range(rows)], pa.int32()),
        }
    )


def test_split_writer_keeps_a_copy_of_the_tail_not_the_whole_range(tmp_path):
    """A range of 10,500 rows, row groups of 1,000: the 500-row tail waits for the next range. Before, the tail
    was a slice of the range, which kept all of the range's buffers alive while the next one was read."""
    writer = SplitWriter(tmp_path, schema.QRELS_CONFIG, schema.TRAIN_SPLIT, rows_per_group=1000)
    table = _qrels(10_500, 1000)
    range_bytes = table.nbytes
    gc.collect()
    before = pa.total_allocated_bytes() - range_bytes
    writer.write(table)
    del table
    gc.collect()
    held = pa.total_allocated_bytes() - before
    assert held < range_bytes * 0.2, f"the writer holds {held} bytes of a {range_bytes}-byte range"
    writer.write(_qrels(600, 10))  # the tail and the next range still make whole row groups, in order
    written = pa.concat_tables(pq.read_table(tmp_path / path) for path in writer.close())
    assert written.equals(pa.concat_tables([_qrels(10_500, 1000), _qrels(600, 10)]).cast(writer.schema))


def test_build_allocates_on_a_pool_that_returns_freed_pages_and_restores_the_former_one():
    from rankladder.dataset_builder.spill import memory_returned_promptly

    former = pa.default_memory_pool().backend_name
    with memory_returned_promptly():
        inside = pa.default_memory_pool().backend_name
    assert inside == "jemalloc"
    assert pa.default_memory_pool().backend_name == former


def test_spill_partitions_hold_back_rows_so_row_groups_do_not_grow_with_the_batches(tmp_path):
    """3,000 batches spread over 4 partitions: each partition gets a row group per ~SPILL_BUFFER_BYTES / 4, not
    one per batch (a 10M-record build had 2,400 per partition, and reading those took ~2.5x the data), and
    reads back every row in the order it came."""
    import numpy as np

    from rankladder.dataset_builder.spill import SPILL_BUFFER_BYTES, Partitions

    parts = Partitions(tmp_path, "records", 4)
    batch = _qrels(40, 200)
    for index in range(3000):
        parts.write(batch.set_column(2, "score", pa.array([index] * 40, pa.int32())), np.arange(40) % 4)
    parts.close()
    per_part_bytes = 3000 * batch.nbytes / 4
    for part in range(4):
        groups = pq.ParquetFile(parts.path(part)).metadata.num_row_groups
        assert groups <= per_part_bytes / (SPILL_BUFFER_BYTES / 4) + 1 < 3000
        table = parts.read(part)
        assert table.num_rows == 3000 * 10
        assert table.column("score").to_pylist() == [index for index in range(3000) for _ in range(10)]
