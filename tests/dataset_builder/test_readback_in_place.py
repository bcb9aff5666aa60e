"""Issue 22: the build's read-back of a large config reads it in place instead of preparing an Arrow copy.

``verify_dataset(..., prepare=False)`` is what a build uses for a config over ``PREPARE_MAX_BYTES``: the
config is resolved as ``load_dataset`` resolves it, and the resolved files are streamed for the id column.
These tests force that path on tiny builds and show it passes what the plain load passes and fails what
the plain load would get wrong or fail on.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from datasets.exceptions import DatasetGenerationError

from rankladder.core.errors import UserError
from rankladder.core.readback import verify_dataset
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.build import build_dataset
from tests.helpers.run_fixtures import write_run_dir


@pytest.fixture
def sharded(tmp_path, graded_rows):
    """A real build whose corpus is seven shards (one per group of 10 rows)."""
    out = tmp_path / "ds"
    build_dataset(
        [write_run_dir(tmp_path / "run", graded_rows)],
        out,
        version="1.0.0",
        dev_fraction=0.25,
        shard_bytes=1,
        rows_per_group=10,
    )
    return out, json.loads((out / schema.MANIFEST_FILE).read_text())


def test_in_place_passes_what_the_plain_load_passes_and_writes_no_arrow_copy(sharded, tmp_path):
    out, manifest = sharded
    verify_dataset(out, manifest["readback"], cache_dir=tmp_path / "prepared", prepare=True)
    verify_dataset(out, manifest["readback"], cache_dir=tmp_path / "in-place", prepare=False)
    assert list((tmp_path / "prepared").rglob("*.arrow"))  # the plain load converted every config
    assert not list((tmp_path / "in-place").rglob("*.arrow"))  # the in-place read converted nothing


def test_in_place_counts_the_rows_the_card_points_at(sharded, tmp_path):
    """A card that lost one corpus shard: the plain load returns fewer than 64 rows, and so does the check."""
    out, manifest = sharded
    card = (out / "README.md").read_text()
    last = manifest["files"]["corpus/corpus"]["shards"][-1]["path"]
    (out / "README.md").write_text(
        card.replace(f"  - split: corpus\n    path: {last}\n", "").replace(f"    - {last}\n", "")
    )
    kept = len(load_dataset(str(out), "corpus", split="corpus", cache_dir=tmp_path / "plain"))
    assert 50 <= kept < 64
    with pytest.raises(UserError, match=f"config 'corpus' split 'corpus' loads {kept} rows, 64 were written"):
        verify_dataset(out, manifest["readback"], cache_dir=tmp_path / "in-place", prepare=False)


def test_in_place_fails_on_a_shard_the_plain_load_cannot_convert(sharded, tmp_path):
    """One corpus shard with an extra column: the plain load fails casting it; the in-place check says so."""
    out, manifest = sharded
    shard = out / manifest["files"]["corpus/corpus"]["shards"][3]["path"]
    table = pq.read_table(shard)
    pq.write_table(table.append_column("extra", pa.array(["x"] * table.num_rows)), shard)
    with pytest.raises(DatasetGenerationError):  # datasets wraps its cast error in this
        load_dataset(str(out), "corpus", split="corpus", cache_dir=tmp_path / "plain")
    with pytest.raises(UserError, match=rf"config 'corpus': {shard.name} has the columns/types .*'extra'"):
        verify_dataset(out, manifest["readback"], cache_dir=tmp_path / "in-place", prepare=False)
