"""Issue 23: a published dataset is sharded, and ``load_dataset(repo, config, streaming=True, revision=tag)``
reads every shard from the Hub, in order (here the loopback Hub, through the real clients)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from rankladder.cli import main
from rankladder.dataset_builder import schema
from tests.helpers.hubserver import inputs

STREAM = """
import json, sys
from datasets import load_dataset
ids = {}
for config, split, column in json.loads(sys.argv[1]):
    rows = load_dataset("org/sharded", config, split=split, streaming=True, revision="v1.0.0")
    ids[f"{config}/{split}"] = [row[column] for row in rows]
print(json.dumps(ids))
"""


@pytest.mark.slow
def test_a_published_multi_shard_dataset_streams_from_the_hub(hub_env, tmp_path):
    # every group of 10 rows overfills a 1-byte shard: the corpus is several shards
    out = inputs.make_dataset_dir(tmp_path / "sharded", version="1.0.0", shard_bytes=1, rows_per_group=10)
    manifest = json.loads((out / schema.MANIFEST_FILE).read_text())
    assert len(manifest["files"]["corpus/corpus"]["shards"]) > 1
    assert main(["publish", "dataset", str(out), "--repo", "org/sharded", "--version", "1.0.0"]) == 0

    wanted = [[e["config"], e["split"], e["id_column"]] for e in manifest["readback"]]
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "fresh-cache"), "HF_HUB_CACHE": str(tmp_path / "hub")}
    child = subprocess.run(
        [sys.executable, "-c", STREAM, json.dumps(wanted)], env=env, capture_output=True, text=True, timeout=300
    )
    assert child.returncode == 0, child.stderr[-2000:]
    streamed = json.loads(child.stdout.strip().splitlines()[-1])
    for config, split, column in wanted:
        local = schema.read_split(out, config, split).column(column).to_pylist()
        assert streamed[f"{config}/{split}"] == local, f"{config}/{split}"
