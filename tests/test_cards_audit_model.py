"""Mined real data mixed with synthetic, audited end to end: ``rankladder mine`` on a slice of Cranfield, a
synthetic dataset built and published to the loopback Hub, a model trained on both (``train --sources``),
evaluated, published with ``publish model --dataset-repo --results``; the mined card and the model card (YAML
with model-index, and body) read back and every fact checked (``card_audit``, ``card_audit_model``).

``build`` takes RUN_DIRs only, so mined and synthetic data mix in training (``--sources``), not in a dataset:
the mined folder's own card is audited, and the model card must name both sources.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from card_audit import audit_mined_card
from card_audit_model import audit_model_card
from hubserver.fixtures import TOKEN, hub, hub_env  # noqa: F401
from run_fixtures import GRADED_DOCUMENTS, write_run_dir

from rankladder.cli import main


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


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, shared_datasets):
    """Synthetic dataset + mined Cranfield slice → a model trained on both (1 step) → its eval results."""
    from rankladder.dataset_builder.build import build_dataset

    root = tmp_path_factory.mktemp("mixed")
    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text().splitlines() if line.strip()]
    ladder = root / "ladder"
    build_dataset([write_run_dir(root / "run", rows)], ladder, version="0.1.0", dev_fraction=0.25)
    collection = cranfield_slice(root / "cranfield-slice", shared_datasets / "cranfield")
    mined = root / "mined"
    assert main(["mine", str(collection), "--split", "train", "-k", "2", "--out", str(mined), "--no-progress"]) == 0
    sources = json.dumps([{"path": str(ladder)}, {"path": str(mined)}])
    model = root / "model"
    train = ["train", "--sources", sources, "--out", str(model), "--loss", "wasserstein", "--max_steps", "1"]
    assert main([*train, "--per_device_train_batch_size", "4", "--report_to", "none"]) == 0
    results = root / "eval"
    tasks = ["--tasks", str(ladder), str(collection), "--split", "train", "--no-bm25", "--no-level-order"]
    assert main(["eval", "--model", str(model), "--name", "org/mixed", *tasks, "--out", str(results)]) == 0
    return {"ladder": ladder, "collection": collection, "mined": mined, "model": model, "results": results}


def test_mined_card_states_only_what_its_files_hold(mixed):
    """The mined card used to name its collection by the user's absolute path, and stated no counts or hashes."""
    assert audit_mined_card(mixed["mined"], mixed["collection"]) == []


def _publish(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=TOKEN)


def test_model_trained_on_synthetic_and_mined_sources_card_tells_the_truth(hub, hub_env, mixed):
    """Published model card audited against the train manifest, eval's summary, the dataset repo on the Hub and
    the model files. It used to rename the mined source as the dataset repo (``org/ladder`` twice), name only one
    of the two sources, and carry the Trainer's ``output_dir`` (a path of this machine) in the training arguments."""
    from huggingface_hub import ModelCard

    publish = ["publish", "dataset", str(mixed["ladder"]), "--repo", "org/ladder", "--version", "0.1.0"]
    assert main([*publish, "--license", "mit"]) == 0
    argv = ["publish", "model", str(mixed["model"]), "--repo", "org/mixed", "--version", "0.1.0", "--license", "mit"]
    assert main([*argv, "--dataset-repo", "org/ladder", "--results", str(mixed["results"])]) == 0
    api = _publish(hub)
    audit = (api, hub.endpoint, "org/mixed", "v0.1.0", mixed["model"], mixed["results"])
    assert audit_model_card(*audit) == []

    # a false fact planted in the card on the Hub (public API: upload, move the tag) fails the audit
    card = ModelCard.load(api.hf_hub_download("org/mixed", "README.md", revision="v0.1.0"))
    seed = json.loads((mixed["model"] / "rankladder_train_manifest.json").read_text())["seed"]
    planted = card.content.replace(f"- **Seed:** {seed}", f"- **Seed:** {seed + 1}", 1)
    assert planted != card.content
    commit = api.upload_file(path_or_fileobj=planted.encode(), path_in_repo="README.md", repo_id="org/mixed")
    api.delete_tag("org/mixed", tag="v0.1.0")
    api.create_tag("org/mixed", tag="v0.1.0", revision=commit.oid)
    assert audit_model_card(*audit) == ["seed"]

    # more planted facts, one at a time: YAML model-index, the dataset's tag and hash, a source, a link
    first = card.data.eval_results[0]
    for true, false in (
        (f"value: {round(first.metric_value, 5)}", f"value: {round(first.metric_value + 0.01, 5)}"),
        ("@ `v0.1.0` (version 0.1.0)", "@ `v0.2.0` (version 0.1.0)"),
        ("`local:mined`, split `train`", "`org/ladder`, split `train`"),
        ("split of `local:cranfield-slice`", "split of `local:scifact`"),
        (f"({hub.endpoint}/datasets/org/ladder/tree/v0.1.0)", "(https://huggingface.co/datasets/org/ladder)"),
        ("type: local/cranfield-slice", "type: mteb/cranfield"),
    ):
        assert true in card.content, true
        wrong = ModelCard(card.content.replace(true, false, 1))
        assert audit_model_card(*audit, card=wrong), false
