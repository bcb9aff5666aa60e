"""The study's real training source: a ``rankladder mine`` output, or a BEIR folder split and mined here.

With ``real.beir`` and ``real.holdout.train_fraction``, the judged queries of the split (those with a
grade > 0) are shuffled with ``real.holdout.seed`` and cut: the first ``train_fraction`` become
``OUT/real/<folder>-train`` (qrels/train.tsv; its negatives are mined, its queries may seed generation),
the rest ``OUT/real/<folder>-test`` (qrels/test.tsv), which the study adds to the evaluated collections.
Both halves link ``corpus.jsonl`` and ``queries.jsonl`` to the original folder, so nothing is copied.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from rankladder.core.beir import pick_split, read_qrels
from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file, sha256_json, write_json_atomic, write_text_atomic

STEP_FILE = "study_step.json"


@dataclass
class RealSource:
    lists: str | None = None  # the folder `train --sources` reads (lists/train.parquet)
    train_folder: str | None = None  # the BEIR train half (generation may take its queries)
    eval_collections: list[str] = field(default_factory=list)  # the held-out half
    split_counts: dict = field(default_factory=dict)


def split_queries(qrels: dict[str, dict[str, int]], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Judged queries (a grade > 0) shuffled with ``seed``: the first ``round(fraction·n)`` train, the rest test."""
    judged = sorted(q for q, docs in qrels.items() if any(g > 0 for g in docs.values()))
    random.Random(seed).shuffle(judged)
    cut = max(1, min(len(judged) - 1, round(fraction * len(judged))))
    return sorted(judged[:cut]), sorted(judged[cut:])


def _write_half(folder: Path, source: Path, split: str, qrels: dict, qids: list[str]) -> None:
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        link = folder / name
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink((source / name).resolve(), link)
    lines = ["query-id\tcorpus-id\tscore"] + [f"{q}\t{d}\t{g}" for q in qids for d, g in qrels[q].items()]
    write_text_atomic(folder / "qrels" / f"{split}.tsv", "\n".join(lines) + "\n")


def prepare_real(config: dict, out: Path, say, progress: bool = True) -> RealSource:
    real = config["real"]
    if real["dataset"]:
        folder = Path(real["dataset"])
        if not (folder / "lists" / "train.parquet").is_file():
            raise UserError(f"real.dataset: {folder}: no lists/train.parquet (write one with `rankladder mine`)")
        return RealSource(lists=str(folder))
    if not real["beir"]:
        return RealSource()
    from rankladder.dataset_builder.config import MineConfig
    from rankladder.dataset_builder.mining import mine

    source = Path(real["beir"])
    if not source.is_dir():
        raise UserError(f"real.beir: {source}: folder not found")
    split = pick_split(source, real["split"])
    fraction, seed = real["holdout"]["train_fraction"], real["holdout"]["seed"]
    root = out / "real"
    result = RealSource()
    mine_folder, mine_split = source, split
    if fraction:
        qrels = read_qrels(source / "qrels" / f"{split}.tsv")
        train, test = split_queries(qrels, fraction, seed)
        train_dir, test_dir = root / f"{source.name}-train", root / f"{source.name}-test"
        _write_half(train_dir, source, "train", qrels, train)
        _write_half(test_dir, source, "test", qrels, test)
        write_json_atomic(
            root / "split.json",
            {
                "source": str(source),
                "split": split,
                "train_fraction": fraction,
                "seed": seed,
                "train": train,
                "test": test,
            },
        )
        result.train_folder, result.eval_collections = str(train_dir), [str(test_dir)]
        result.split_counts = {"train_queries": len(train), "test_queries": len(test)}
        mine_folder, mine_split = train_dir, "train"
    mined = root / "mined"
    inputs = {name: sha256_file(mine_folder / name) for name in ("corpus.jsonl", "queries.jsonl")}
    inputs["qrels"] = sha256_file(mine_folder / "qrels" / f"{mine_split}.tsv")
    key = sha256_json({"mine": real["mine"], "inputs": inputs})[:16]
    step = mined / STEP_FILE
    if step.is_file() and json.loads(step.read_text(encoding="utf-8")).get("key") == key:
        say(f"mine {mine_folder.name}: up to date, skipped")
    else:
        say(f"mine {mine_folder.name} ({real['mine']['method']}): running")
        mine(mine_folder, mined, MineConfig(**{**real["mine"], "split": mine_split}), overwrite=True, progress=progress)
        write_json_atomic(step, {"key": key})
    result.lists = str(mined)
    return result
