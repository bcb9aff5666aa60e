"""Run by tests/training/test_distributed.py under ``accelerate launch --config_file
configs/accelerate_cpu_2proc.yaml`` (2 processes, gloo on the CPU): each process writes what it saw to OUT,
the test compares with one process on the global batch.

usage: dist_probe.py OUT DATASET_DIR MODEL_DIR

1. the Trainer's own train DataLoader (our EpochBatchSampler under accelerate's sharding): the rows and
   labels this rank gets in epochs 0 and 1 → ``sampler-rank{R}.json``;
2. every loss with ``gather_across_devices`` on this rank's half of 8 fixed rows: loss value and
   parameter gradients → ``{loss}-rank{R}.pt`` (listnet without gathering too: ``listnet-local-rank{R}.pt``);
3. ``rankladder train`` for one step with each of wasserstein, listnet, infonce in this same launch
   (ws2 has its own launch in the test) → ``train-{loss}-rank{R}.json`` with the exit code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

FIXED_ROWS = 8  # two processes × 4 rows
COLUMNS = ["query", "doc_0", "doc_1", "doc_2", "doc_3"]


def dealt_rows(out: Path, dataset: str, model, rank: int) -> None:
    """What accelerate deals this rank from the Trainer's DataLoader, epoch by epoch."""
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    from rankladder.training.data import Source, load_lists
    from rankladder.training.grouping import EpochBatchSampler, GroupedLists, make_train_dataset
    from rankladder.training.losses import build_loss

    train = make_train_dataset(load_lists([Source(path=dataset)]), GroupedLists(4, seed=7))
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out / "trainer"),
        per_device_train_batch_size=5,  # 12 rows: global batches of 10, then 2 (one row per rank)
        batch_sampler=EpochBatchSampler,
        use_cpu=True,
        report_to="none",
        seed=7,
    )
    args.dataloader_drop_last = False  # as rankladder's trainer does with its own sampler
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train, loss=build_loss("listnet", model))
    loader = trainer.get_train_dataloader()
    seen = {}
    for epoch in (0, 1):
        loader.set_epoch(epoch)  # as the Trainer's loop does, including the sampler under accelerate's shard
        loader.batch_sampler.batch_sampler.set_epoch(epoch)
        rows = [list(batch) for batch in loader.batch_sampler]
        labels = [batch["label"].tolist() for batch in loader]
        seen[epoch] = {"rows": rows, "labels": labels}
    (out / f"sampler-rank{rank}.json").write_text(json.dumps(seen))


def loss_and_grads(model, rows: dict, name: str, gather: bool) -> dict:
    """One loss on ``rows`` (columns of grouped lists): its value and every parameter's gradient."""
    from rankladder.training.losses import build_loss

    model.zero_grad(set_to_none=True)
    loss = build_loss(name, model, gather_across_devices=gather)
    features = [model.preprocess(rows[column]) for column in COLUMNS]
    value = loss(features, torch.tensor(rows["labels"]))
    value.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return {"loss": value.item(), "grads": grads}


def fixed_rows(dataset: str) -> dict:
    from rankladder.training.data import Source, load_lists
    from rankladder.training.grouping import GroupedLists, make_train_dataset

    train = make_train_dataset(load_lists([Source(path=dataset)]), GroupedLists(4, seed=7))
    return train[:FIXED_ROWS]


def main(out: Path, dataset: str, model_dir: str) -> None:
    from sentence_transformers import SentenceTransformer

    from rankladder.cli import main as rankladder

    dist.init_process_group("gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    model = SentenceTransformer(model_dir, device="cpu")
    dealt_rows(out, dataset, model, rank)

    rows = fixed_rows(dataset)
    share = FIXED_ROWS // size
    mine = {column: values[rank * share : (rank + 1) * share] for column, values in rows.items()}
    for name in ("ws2", "wasserstein", "listnet", "infonce"):
        torch.save(loss_and_grads(model, mine, name, gather=True), out / f"{name}-rank{rank}.pt")
    torch.save(loss_and_grads(model, mine, "listnet", gather=False), out / f"listnet-local-rank{rank}.pt")

    for name in ("wasserstein", "listnet", "infonce"):
        argv = ["train", "--data", dataset, "--model", model_dir, "--loss", name, "--gather_across_devices"]
        argv += ["--per_device_train_batch_size", "2", "--max_steps", "1", "--eval_split", "none", "--use_cpu"]
        argv += ["--report_to", "none", "--out", str(out / f"model-{name}")]
        code = rankladder(argv)
        (out / f"train-{name}-rank{rank}.json").write_text(json.dumps({"exit": code}))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
