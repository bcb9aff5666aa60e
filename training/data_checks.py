"""Refuse training data on which the list-wise loss or the dev metric is undefined, before any step.

A list of one document, or lists whose documents all carry one label, give a list-wise loss nothing to
order; dev lists without a single graded (> 0) document make nDCG undefined (``nan → nan``). Such data
used to train silently; here it is refused in one line with the counts, and what a label policy dropped
is counted for the manifest and the closing summary.
"""

from __future__ import annotations

from rankladder.core.errors import UserError


def list_figures(labels_per_list: list[list[float]]) -> dict:
    """Counts of the training lists: how many, how many of one document, how many with one label only."""
    lists = [list(labels) for labels in labels_per_list]
    return {
        "lists": len(lists),
        "documents": sum(map(len, lists)),
        "one_document_lists": sum(len(labels) < 2 for labels in lists),
        "single_label_lists": sum(len(set(labels)) < 2 for labels in lists),
        "labels": sorted({label for labels in lists for label in labels}, reverse=True),
    }


def check_training_lists(figures: dict) -> None:
    """No list that a list-wise loss can learn an order from: refuse with the counts."""
    if figures["lists"] and figures["single_label_lists"] == figures["lists"]:
        labels = ", ".join(f"{label:g}" for label in figures["labels"])
        raise UserError(
            f"training data: no list has two different labels ({figures['lists']} lists, {figures['documents']} "
            f"documents, {figures['one_document_lists']} lists of one document, labels seen: {labels}); a list-wise "
            "loss has nothing to learn: check the dataset's label policy (build --labels, --label_policy)"
        )


def check_dev_lists(levels_per_list: list[list[float]], split: str) -> None:
    """Dev lists without any graded (> 0) document: nDCG is undefined, so the dev row would read ``nan``."""
    levels = [level for levels in levels_per_list for level in levels]
    if not any(level > 0 for level in levels):
        raise UserError(
            f"{split} lists: no graded document ({len(levels)} documents in {len(levels_per_list)} lists, all "
            f"level 0 or none); nDCG is undefined on them: rebuild with another label policy or pass "
            "--eval_split none"
        )


def policy_counts(label_policy: str, read: list[int], kept: list[int]) -> dict:
    """What a label policy dropped from a source: ``read``/``kept`` documents per list."""
    return {
        "label_policy": label_policy,
        "documents_read": sum(read),
        "documents_kept": sum(kept),
        "documents_dropped": sum(read) - sum(kept),
        "lists_read": len(read),
        "lists_emptied": sum(1 for r, k in zip(read, kept) if r and not k),
        "lists_left_with_one_document": sum(1 for k in kept if k == 1),
    }


def collection_splits(sources) -> list[dict]:
    """The real collection splits the sources read: a BEIR folder's qrels split, or the split that ``mine``
    took positives and negatives from (its manifest's ``source``). ``eval`` flags a task on one of them."""
    import json
    from pathlib import Path

    from rankladder.dataset_builder import schema
    from rankladder.training.data import is_beir_folder, split_revision

    found = []
    for source in sources:
        folder = Path(split_revision(source.path)[0])
        if not folder.is_dir():
            continue
        if is_beir_folder(folder):
            found.append({"collection": str(folder.resolve()), "split": source.split, "via": f"qrels of {source.path}"})
            continue
        manifest = folder / schema.MANIFEST_FILE
        try:
            mined = json.loads(manifest.read_text(encoding="utf-8")).get("source") if manifest.is_file() else None
        except json.JSONDecodeError:
            mined = None
        if isinstance(mined, dict) and mined.get("folder") and mined.get("split"):
            found.append(
                {
                    "collection": str(Path(mined["folder"]).resolve()),
                    "split": mined["split"],
                    "via": f"negatives mined into {source.path}",
                }
            )
    return found
