"""Two processes train what one process trains with the global batch (issue 23).

Real launches on the CPU (gloo): ``accelerate launch --config_file configs/accelerate_cpu_2proc.yaml`` of
``rankladder train`` (ws2, the loss that couples a batch's rows; then resumed from a checkpoint) and of
``tests/helpers/dist_probe.py`` (the Trainer's DataLoader under accelerate's sharding, every loss's value and
gradients with gathered documents, and ``rankladder train`` with the other three losses). A tiny random BERT with MiniLM's tokenizer keeps each launch to seconds of
compute; every dropout is off so that one process and two compute the very same steps.
(``accelerate launch --cpu --num_processes 2`` starts ONE process: accelerate's simple launcher.)
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DIST_PROBE = ROOT / "tests" / "helpers" / "dist_probe.py"  # run as a script by accelerate launch
CPU_CONFIG = ROOT / "configs" / "accelerate_cpu_2proc.yaml"
TRAIN_FLAGS = [
    "--loss", "ws2", "--gather_across_devices", "--max_steps", "3", "--learning_rate", "1e-3", "--seed", "7",
    "--use_cpu", "--disable_tqdm", "true", "--report_to", "none",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:  # other test sessions on this machine may hold accelerate's default port
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``accelerate launch`` with the repository's 2-process CPU config (gloo; torchrun underneath)."""
    accelerate = Path(sys.executable).with_name("accelerate")
    command = [str(accelerate), "launch", "--config_file", str(CPU_CONFIG), "--main_process_port", str(free_port())]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, minilm_path):
    from tests.helpers.tiny_models import write_tiny_bert

    return write_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model", minilm_path)


@pytest.fixture(scope="module")
def probe(tmp_path_factory, tiny_dataset_dir, tiny_model):
    out = tmp_path_factory.mktemp("probe")
    launch([str(DIST_PROBE), str(out), str(tiny_dataset_dir), str(tiny_model)], cwd=out)
    return out


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory, tiny_dataset_dir, tiny_model):
    """ws2, 2 × 2 lists per step, 3 steps, a checkpoint every step, dev evaluation (the default)."""
    out = tmp_path_factory.mktemp("two") / "model"
    args = ["-m", "rankladder.cli", "train", "--data", str(tiny_dataset_dir), "--model", str(tiny_model)]
    args += TRAIN_FLAGS + ["--per_device_train_batch_size", "2", "--save_steps", "1", "--keep_checkpoints"]
    done = launch(args + ["--out", str(out)], cwd=out.parent)
    return out, done


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "model.safetensors"))


def max_gap(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max((a[k].double() - b[k].double()).abs().max().item() for k in a)


def test_sampler_deals_each_rank_disjoint_equal_parts_of_the_global_batch():
    """The real sampler under accelerate's real shard, no launch: W local batches per global batch."""
    import datasets
    from accelerate.data_loader import BatchSamplerShard

    from rankladder.training.grouping import EpochBatchSampler

    for rows, batch in ((12, 5), (11, 2), (16, 4)):
        data = datasets.Dataset.from_dict({"x": list(range(rows))})
        one = EpochBatchSampler(data, batch * 2, drop_last=False, seed=3, num_processes=1)
        two = EpochBatchSampler(data, batch, drop_last=False, seed=3, num_processes=2)
        for epoch in (0, 1):
            one.set_epoch(epoch)
            two.set_epoch(epoch)
            ranks = [list(BatchSamplerShard(two, 2, r, even_batches=False)) for r in (0, 1)]
            assert len(ranks[0]) == len(ranks[1]) == len(two) // 2  # same number of steps: no rank waits
            seen = [i for dealt in ranks for b in dealt for i in b]
            assert len(seen) == len(set(seen))  # disjoint
            assert len(seen) >= rows - 1  # the epoch, but for fewer than W rows of a last uneven batch
            for step, global_batch in enumerate(one):
                if step < len(ranks[0]):
                    parts = ranks[0][step] + ranks[1][step]
                    assert len(ranks[0][step]) == len(ranks[1][step])  # gathering needs equal shapes
                    assert parts == global_batch[: len(parts)]  # rank-major = the global batch's order


def test_two_processes_get_disjoint_groups_covering_the_epoch_once(probe, tiny_dataset_dir):
    """Under a real 2-process launch, the Trainer's DataLoader deals each rank its rows of the global
    batch, and each rank's groups are those of that epoch (the epoch reaches the data path)."""
    from rankladder.training.data import Source, load_lists
    from rankladder.training.grouping import EpochBatchSampler, GroupedLists, make_train_dataset

    dealt = [json.loads((probe / f"sampler-rank{r}.json").read_text()) for r in (0, 1)]
    grouper = GroupedLists(4, seed=7)
    train = make_train_dataset(load_lists([Source(path=str(tiny_dataset_dir))]), grouper)
    one = EpochBatchSampler(train, 10, drop_last=False, seed=7, num_processes=1)
    labels_by_epoch = []
    for epoch in ("0", "1"):
        rows = [i for r in (0, 1) for batch in dealt[r][epoch]["rows"] for i in batch]
        assert sorted(rows) == list(range(len(train)))  # each row exactly once
        one.set_epoch(int(epoch))
        steps = list(zip(dealt[0][epoch]["rows"], dealt[1][epoch]["rows"]))
        assert [a + b for a, b in steps] == list(one)  # step k: rank 0 then rank 1 = global batch k
        grouper.epoch = int(epoch)
        for r in (0, 1):
            for batch, labels in zip(dealt[r][epoch]["rows"], dealt[r][epoch]["labels"]):
                assert labels == train[batch]["labels"]
        labels_by_epoch.append({i: tuple(train[[i]]["labels"][0]) for i in range(len(train))})
    assert labels_by_epoch[0] != labels_by_epoch[1]  # groups are redrawn per epoch


@pytest.mark.parametrize("loss", ["ws2", "wasserstein", "listnet", "infonce"])
def test_gathered_loss_and_gradients_equal_one_process_on_the_global_batch(probe, tiny_dataset_dir, tiny_model, loss):
    """Mean over ranks (what DDP averages) of loss and gradients = one process on all 8 rows."""
    from sentence_transformers import SentenceTransformer

    from tests.helpers.dist_probe import fixed_rows, loss_and_grads

    model = SentenceTransformer(str(tiny_model), device="cpu")
    one = loss_and_grads(model, fixed_rows(str(tiny_dataset_dir)), loss, gather=False)
    ranks = [torch.load(probe / f"{loss}-rank{r}.pt") for r in (0, 1)]
    assert sum(r["loss"] for r in ranks) / 2 == pytest.approx(one["loss"], rel=1e-5)
    mean = {k: (ranks[0]["grads"][k] + ranks[1]["grads"][k]) / 2 for k in one["grads"]}
    scale = max(g.abs().max().item() for g in one["grads"].values())
    assert scale > 0 and max_gap(mean, one["grads"]) <= 1e-4 * scale
    if loss == "listnet":  # without gathering each rank sees only its own documents: another loss
        local = [torch.load(probe / f"listnet-local-rank{r}.pt") for r in (0, 1)]
        assert sum(r["loss"] for r in local) / 2 != pytest.approx(one["loss"], rel=1e-3)


@pytest.mark.parametrize("loss", ["wasserstein", "listnet", "infonce"])
def test_rankladder_train_runs_in_two_processes(probe, loss):
    from sentence_transformers import SentenceTransformer

    for r in (0, 1):
        assert json.loads((probe / f"train-{loss}-rank{r}.json").read_text()) == {"exit": 0}
    manifest = json.loads((probe / f"model-{loss}" / "rankladder_train_manifest.json").read_text())
    assert manifest["distributed"]["world_size"] == 2 and manifest["final_metrics"]["global_step"] == 1
    assert SentenceTransformer(str(probe / f"model-{loss}"), device="cpu").encode(["a query"]).shape == (1, 32)


def test_two_process_run_equals_one_process_run_on_the_global_batch(
    two_process_run, tiny_dataset_dir, tiny_model, tmp_path
):
    import contextlib
    import io

    from rankladder.cli import main

    two, _ = two_process_run
    one = tmp_path / "one-process"
    argv = ["train", "--data", str(tiny_dataset_dir), "--model", str(tiny_model), *TRAIN_FLAGS]
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(argv + ["--per_device_train_batch_size", "4", "--out", str(one)]) == 0
    moved = max_gap(weights(two), weights(tiny_model))
    assert moved > 1e-3  # three steps changed the model ...
    assert max_gap(weights(two), weights(one)) < 1e-4  # ... and two processes changed it as one did
    two_log = json.loads((two / "rankladder_train_manifest.json").read_text())["train_log"]
    one_log = json.loads((one / "rankladder_train_manifest.json").read_text())["train_log"]
    assert [e["loss"] for e in two_log if "loss" in e] == pytest.approx([e["loss"] for e in one_log if "loss" in e])


def test_only_rank_zero_writes_and_evaluates(two_process_run):
    two, done = two_process_run
    manifest = json.loads((two / "rankladder_train_manifest.json").read_text())
    launch_record = manifest["distributed"]
    assert {k: launch_record[k] for k in ("world_size", "backend", "global_batch_size", "writer_rank")} == {
        "world_size": 2,
        "backend": "gloo",
        "global_batch_size": 4,
        "writer_rank": 0,
    }
    assert manifest["training_args"]["dataloader_drop_last"] is False  # equal local batches: nothing to drop
    calls = launch_record["evaluator_calls_per_rank"]
    assert calls[0] >= 2 and calls[1] == 0  # eval_on_start and later: rank 0 only
    assert "dev_ndcg@10" in manifest["final_metrics"]
    logs = {p.name.split("-rank")[1]: p.read_text() for p in (two / "logs").glob("train-*-rank*.log")}
    assert set(logs) == {"0.log", "1.log"}  # one log per process ...
    assert f"rank 0 of 2: writing {two}" in logs["0.log"]
    assert "rank 1 of 2: rank 0 writes" in logs["1.log"] and "rank 0 of 2: writing" not in logs["1.log"]
    assert done.stdout.count("rankladder train: done") == 1  # ... and one closing summary
    assert sorted(p.name for p in two.parent.iterdir()) == ["model", "model.checkpoints"]  # no temp leftovers
    assert (two / "README.md").read_text().count("rankladder") >= 1


def test_checkpoints_resume_under_the_same_launch(two_process_run, tiny_dataset_dir, tiny_model):
    """Resume step 1's checkpoint in a new 2-process launch: the same model as the uninterrupted run."""
    two, _ = two_process_run
    checkpoint = two.with_name("model.checkpoints") / "checkpoint-1"
    resumed = two.parent.parent / (two.parent.name + "-resumed") / "model"
    resumed.parent.mkdir()
    args = ["-m", "rankladder.cli", "train", "--data", str(tiny_dataset_dir), "--model", str(tiny_model)]
    args += TRAIN_FLAGS + ["--per_device_train_batch_size", "2", "--resume_from_checkpoint", str(checkpoint)]
    launch(args + ["--out", str(resumed)], cwd=resumed.parent)
    assert json.loads((resumed / "rankladder_train_manifest.json").read_text())["final_metrics"]["global_step"] == 3
    assert max_gap(weights(resumed), weights(two)) < 1e-6


def test_dataloader_workers_group_with_the_current_epoch(tiny_dataset_dir):
    """With DataLoader workers (the GPU data path), each epoch's groups are that epoch's: the Trainer sets
    the epoch before the workers copy the dataset (it used to reach them one epoch late)."""
    from torch.utils.data import DataLoader

    from rankladder.training.data import Source, load_lists
    from rankladder.training.grouping import EpochBatchSampler, GroupedLists, make_train_dataset

    grouper = GroupedLists(4, seed=7)
    train = make_train_dataset(load_lists([Source(path=str(tiny_dataset_dir))]), grouper)
    sampler = EpochBatchSampler(train, 4, drop_last=False, seed=7, num_processes=1)
    loader = DataLoader(train, batch_sampler=sampler, num_workers=2, collate_fn=lambda rows: rows)
    for epoch in (1, 2):
        sampler.set_epoch(epoch)  # what the Trainer's loop does before iter(loader)
        got = [[row["labels"] for row in batch] for batch in loader]
        reference = GroupedLists(4, seed=7)
        reference.epoch = epoch
        expected = [reference(train.with_format(None)[batch])["labels"] for batch in sampler]
        assert got == expected
