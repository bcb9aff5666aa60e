"""The mixed-source shape of the card audits, shared by ``tests/test_cards_audit_model.py`` and
``tools/card_facts.py``: a synthetic dataset (hand-written graded documents, built), a slice of Cranfield
with BM25 negatives mined from it, a model trained on both (``train --sources``, 1 step) and its eval."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir


def cranfield_slice(folder: Path, cranfield: Path, n_queries: int = 3, others: int = 12) -> Path:
    """A BEIR folder of the first judged Cranfield queries, their positive documents and a few others."""
    from rankladder.core.beir import read_beir_folder

    corpus, queries, qrels = read_beir_folder(cranfield, "test")
    qids = sorted(qrels, key=int)[:n_queries]
    judged = {d for q in qids for d, g in qrels[q].items() if g > 0}
    keep = [d for d in corpus if d["id"] in judged] + [d for d in corpus if d["id"] not in judged][:others]
    (folder / "qrels").mkdir(parents=True)
    rows = (json.dumps({"_id": d["id"], "title": d["title"], "text": d["text"]}) + "\n" for d in keep)
    (folder / "corpus.jsonl").write_text("".join(rows))
    chosen = (json.dumps({"_id": q["id"], "text": q["text"]}) + "\n" for q in queries if q["id"] in qids)
    (folder / "queries.jsonl").write_text("".join(chosen))
    pairs = "".join(f"{q}\t{d}\t{g}\n" for q in qids for d, g in qrels[q].items() if d in judged)
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + pairs)
    return folder


def mixed_sources(root: Path, cranfield: Path, model_name: str = "org/mixed") -> dict[str, Path]:
    """Build, mine, train on both, evaluate (under ``model_name``): the folders, by role."""
    from rankladder.cli import main
    from rankladder.dataset_builder.build import build_dataset

    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text().splitlines() if line.strip()]
    ladder = root / "ladder"
    build_dataset([write_run_dir(root / "run", rows)], ladder, version="0.1.0", dev_fraction=0.25)
    collection = cranfield_slice(root / "cranfield-slice", cranfield)
    mined = root / "mined"
    assert main(["mine", str(collection), "--split", "train", "-k", "2", "--out", str(mined), "--no-progress"]) == 0
    sources = json.dumps([{"path": str(ladder)}, {"path": str(mined)}])
    model = root / "model"
    train = ["train", "--sources", sources, "--out", str(model), "--loss", "wasserstein", "--max_steps", "1"]
    assert main([*train, "--per_device_train_batch_size", "4", "--report_to", "none"]) == 0
    results = root / "eval"
    tasks = ["--tasks", str(ladder), str(collection), "--split", "train", "--no-bm25", "--no-level-order"]
    assert main(["eval", "--model", str(model), "--name", model_name, *tasks, "--out", str(results)]) == 0
    return {"ladder": ladder, "collection": collection, "mined": mined, "model": model, "results": results}
