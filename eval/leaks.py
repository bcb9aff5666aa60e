"""Flag an evaluation on a collection split that the model was trained or mined from.

Mining negatives from a collection's ``test`` split trains on its judged positives; evaluating on the
same split then measures memory, not retrieval. ``train`` records, per source, which collection split
it read (``collection_splits`` in its manifest); this compares those with the tasks of an eval run.
"""

from __future__ import annotations

import json
from pathlib import Path

from rankladder.dataset_builder import schema


def trained_on(model_path: str) -> list[dict]:
    """The collection splits a local rankladder model was trained on (empty for anything else)."""
    manifest = Path(model_path) / schema.TRAIN_MANIFEST_FILE
    if not manifest.is_file():
        return []
    try:
        return list(json.loads(manifest.read_text(encoding="utf-8")).get("collection_splits") or [])
    except (json.JSONDecodeError, AttributeError):
        return []


def leaks(specs, sources) -> list[dict]:
    """``{"model", "task", "collection", "split", "via"}`` for each model × task pair on a split it trained on."""
    found = []
    for spec in specs:
        for used in trained_on(spec.path):
            for source in sources:
                if source.kind not in ("beir", "built") or not Path(str(source.path_or_repo)).exists():
                    continue
                same_folder = Path(str(source.path_or_repo)).resolve() == Path(used["collection"]).resolve()
                if same_folder and used["split"] in str(source.split).split(","):
                    found.append(
                        {
                            "model": spec.name,
                            "task": source.name,
                            "collection": used["collection"],
                            "split": used["split"],
                            "via": used.get("via", ""),
                        }
                    )
    return found


def summary_line(found: list[dict]) -> str:
    return " · ".join(
        f"{leak['model']} was trained on {leak['task']}'s {leak['split']} split ({leak['via']}): its score there "
        "is not held out"
        for leak in found
    )
