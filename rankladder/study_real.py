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
from rankladder.core.fsutil import write_json_atomic, write_text_atomic
from rankladder.steps import Step


@dataclass
class RealSource:
    lists: str | None = None  # the folder `train --sources` reads (lists/train.parquet)
    train_folder: str | None = None  # the BEIR train half (generation may take its queries)
    eval_collections: list[str] = field(default_factory=list)  # the held-out half


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


def plan_real(config: dict, out: Path, progress: bool = True) -> tuple[RealSource, list[Step]]:
    """Where the real source will be, and the steps that write it (none for a given ``rankladder mine`` output)."""
    real = config["real"]
    if real["dataset"]:
        folder = Path(real["dataset"])
        if not (folder / "lists" / "train.parquet").is_file():
            raise UserError(f"real.dataset: {folder}: no lists/train.parquet (write one with `rankladder mine`)")
        return RealSource(lists=str(folder)), []
    if not real["beir"]:
        return RealSource(), []
    source = Path(real["beir"])
    if not source.is_dir():
        raise UserError(f"real.beir: {source}: folder not found")
    split = pick_split(source, real["split"])
    fraction, seed = real["holdout"]["train_fraction"], real["holdout"]["seed"]
    root = out / "real"
    result, steps = RealSource(lists=str(root / "mined")), []
    qrels_file = source / "qrels" / f"{split}.tsv"
    mine_folder, mine_split, mine_needs = source, split, []
    if fraction:
        train_dir, test_dir = root / f"{source.name}-train", root / f"{source.name}-test"
        result.train_folder, result.eval_collections = str(train_dir), [str(test_dir)]

        def write_split() -> None:
            qrels = read_qrels(qrels_file)
            train, test = split_queries(qrels, fraction, seed)
            _write_half(train_dir, source, "train", qrels, train)
            _write_half(test_dir, source, "test", qrels, test)
            halves = {"train": train, "test": test}
            write_json_atomic(
                root / "split.json",
                {"source": str(source), "split": split, "train_fraction": fraction, "seed": seed, **halves},
            )

        config = {"source": str(source), "split": split, "train_fraction": fraction, "seed": seed}
        # the halves' corpus and queries are links to the source: their qrels are what the split wrote
        outputs = [root / "split.json", train_dir / "qrels", test_dir / "qrels"]
        steps.append(Step("real-split", write_split, config, outputs, inputs=[qrels_file]))
        mine_folder, mine_split, mine_needs = train_dir, "train", ["real-split"]

    def mine() -> None:
        from rankladder import api

        api.mine(
            mine_folder, root / "mined", overwrite=True, progress=progress, **{**real["mine"], "split": mine_split}
        )

    inputs = [source / "corpus.jsonl", source / "queries.jsonl"] + ([] if fraction else [qrels_file])
    config = {"mine": real["mine"], "folder": mine_folder.name, "split": mine_split}
    steps.append(Step("mine", mine, config, [root / "mined"], needs=mine_needs, inputs=inputs))
    return result, steps


def split_counts(out: Path) -> dict:
    """Queries in each half of the real collection's split (empty without a split)."""
    path = out / "real" / "split.json"
    if not path.is_file():
        return {}
    split = json.loads(path.read_text(encoding="utf-8"))
    return {"train_queries": len(split["train"]), "test_queries": len(split["test"])}
