"""Provenance travels with the model: the effective config and a card section in every checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rankladder.core.fsutil import hash_tree, sha256_file, write_text_atomic
from rankladder.dataset_builder import schema

CONFIG_FILE = "rankladder_train_config.yaml"
MANIFEST_FILE = "rankladder_train_manifest.json"
CARD_SECTION = "## rankladder training provenance"


def provenance_callback(effective_yaml: str, card_text: str):
    from transformers import TrainerCallback

    class ProvenanceCallback(TrainerCallback):
        """Copy the effective config and card provenance into every checkpoint."""

        def on_save(self, args, state, control, **kwargs):
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():  # one writer, as for the checkpoint itself
                write_text_atomic(folder / CONFIG_FILE, effective_yaml)
                append_card_section(folder / "README.md", card_text)
            return control

    return ProvenanceCallback()


def append_card_section(readme: Path, section: str) -> None:
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if CARD_SECTION in text:
        text = text[: text.index(CARD_SECTION)].rstrip() + "\n"
    write_text_atomic(readme, (text.rstrip() + "\n\n" if text else "") + section)


def input_hashes(sources: list) -> list[dict[str, Any]]:
    from rankladder.training.data import split_revision

    out = []
    for source in sources:
        path, revision = split_revision(source.path)
        entry: dict[str, Any] = {"path": source.path, "revision": revision}
        local = Path(path)
        manifest = local / schema.MANIFEST_FILE
        if manifest.is_file():  # a built dataset: its manifest carries the content hash
            entry["content_hash"] = json.loads(manifest.read_text(encoding="utf-8")).get("content_hash")
            entry["manifest_sha256"] = sha256_file(manifest)
        elif local.is_dir():
            entry["sha256"] = hash_tree(local)
        if source.qrels and Path(source.qrels).is_file():
            entry["qrels_sha256"] = sha256_file(source.qrels)
        out.append(entry)
    return out


def card_section(manifest: dict[str, Any]) -> str:
    keep = {k: manifest[k] for k in ("base_model", "dataset", "sources", "loss", "seed")}
    keep["training_args"] = {
        k: manifest["training_args"].get(k)
        for k in (
            "num_train_epochs",
            "max_steps",
            "per_device_train_batch_size",
            "gradient_accumulation_steps",
            "learning_rate",
            "warmup_ratio",
            "weight_decay",
            "lr_scheduler_type",
            "bf16",
            "fp16",
        )
    }
    keep["group"] = manifest["group"]
    return (
        f"{CARD_SECTION}\n\nTrained with `rankladder train`; full record in `{MANIFEST_FILE}`.\n\n"
        f"```json\n{json.dumps(keep, indent=2, default=str)}\n```\n"
    )
