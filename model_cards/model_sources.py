"""The model card's account of what a model was trained on when ``train --sources`` mixed several inputs
(a published synthetic dataset, negatives mined from a real collection, a BEIR folder): one line per
source, each named portably (the verified Hub repo, or ``local:<folder name>``), never by a machine path.

Every fact comes from the train manifest: ``sources`` (path, split, label policy), ``inputs`` (the content
hash each source had when the model was trained) and ``collection_splits`` (the real collection split a
mined source took its positives and negatives from).
"""

from __future__ import annotations

from pathlib import Path


def local_name(path: str) -> str:
    """A local input as it may leave the machine (the same name ``portable`` gives it in the manifest)."""
    return f"local:{Path(str(path).split('@')[0].rstrip('/')).name}"


def source_names(manifest: dict, dataset_name: str | None) -> dict[str, str]:
    """Each source path -> its portable name: the training dataset's (``dataset_name``), else ``local:<name>``
    for a folder; a Hub id stays itself. Two sources never share a name they did not share as paths."""
    from rankladder.model_cards.base_model import is_local_path

    dataset_path = str((manifest.get("dataset") or {}).get("path_or_repo") or "")
    names = {}
    for source in manifest.get("sources") or []:
        path = str(source.get("path") or "")
        bare = path.split("@")[0]
        if not is_local_path(bare):  # a Hub id (pinned or not) is already portable
            names[path] = path
        elif dataset_name and bare == dataset_path:
            names[path] = dataset_name
        else:
            names[path] = local_name(path)
    return names


def _mined_from(manifest: dict, path: str) -> dict | None:
    for entry in manifest.get("collection_splits") or []:
        if str(entry.get("via", "")).endswith(f"mined into {path}"):
            return entry
    return None


def sources_lines(manifest: dict, dataset_name: str | None) -> list[str]:
    """The card's "Training sources" lines; none when the model was trained on one dataset alone."""
    sources = manifest.get("sources") or []
    if len(sources) < 2:
        return []
    names = source_names(manifest, dataset_name)
    inputs = manifest.get("inputs") or []
    lines = [f"- **Training sources:** {len(sources)}, merged per query id (`rankladder train --sources`):"]
    for index, source in enumerate(sources, 1):
        path = str(source.get("path") or "")
        recorded = inputs[index - 1] if index - 1 < len(inputs) else {}
        digest = recorded.get("content_hash") or recorded.get("sha256")
        text = f"  {index}. `{names[path]}`, split `{source.get('split')}`"
        mined = _mined_from(manifest, path)
        if mined:
            text += f": negatives mined from the `{mined['split']}` split of `{local_name(mined['collection'])}`"
        if source.get("label_policy"):
            text += f", labels `{source['label_policy']}`"
        if digest:
            text += f", content hash `{digest[:16]}`"
        lines.append(text)
    return lines
