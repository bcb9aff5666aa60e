"""Load a model for mteb under its *own* name and revision.

mteb names a SentenceTransformer after ``model_card_data.model_name`` or, failing that, its
*base* model — wrong for a fine-tuned checkpoint, whose results must land in
``results/<its name>/<its revision>/`` to be submitted to the leaderboard. So we set both here:

- local folder: name ``--name``, the Hub id of a packaged model's folder (``rankladder.core.packaged_models``),
  or ``local/<folder name>``; revision ``--revision`` or a content hash of the folder (``sha256-<16 hex>``),
  reproducible across machines;
- Hub id ``org/name[@rev]``: that name; the revision given, or the commit of the cached snapshot; a Hub id
  whose weights come from an installed package (all-MiniLM-L6-v2) loads them offline, keeps its Hub id and is
  revisioned ``<package>-<version>`` (the package, not a Hub commit, is what was run).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rankladder.core.errors import UserError
from rankladder.core.fsutil import hash_tree
from rankladder.core.packaged_models import hub_id_of_folder, installed
from rankladder.core.paths import hub_repo_part, looks_local, missing_path_message

logger = logging.getLogger(__name__)


@dataclass
class ModelSpec:
    path: str  # local folder or Hub id, as given
    name: str  # "org/name" as mteb wants it
    revision: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision, "path": self.path}


def resolve_model(arg: str, name: str | None = None, revision: str | None = None) -> ModelSpec:
    """Name and revision of a ``--model`` argument, without loading weights."""
    path = Path(arg).expanduser()
    if path.exists():
        if not path.is_dir() or not any((path / f).is_file() for f in ("modules.json", "config.json")):
            raise UserError(f"{path}: not a SentenceTransformer model folder (no modules.json/config.json)")
        path = path.resolve()
        revision = revision or "sha256-" + hash_tree(path)[:16]
        return ModelSpec(str(path), _valid_name(name or hub_id_of_folder(path) or f"local/{path.name}"), revision)
    if looks_local(arg) or hub_repo_part(arg).count("/") != 1:
        raise UserError(f"--model: {missing_path_message(arg, 'model path')}")
    repo, _, rev = arg.partition("@")
    if not rev and (package := installed(repo)) is not None and not _in_hf_cache(repo):
        folder, distribution, version = package
        return ModelSpec(str(folder), _valid_name(name or repo), revision or f"{distribution}-{version}")
    revision = revision or rev or _cached_commit(repo, rev or None)
    return ModelSpec(arg, _valid_name(name or repo), revision)


def _in_hf_cache(repo: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo, "config.json"), str)


def _valid_name(name: str) -> str:
    if name.count("/") != 1 or not all(name.split("/")):
        raise UserError(f"--name: model name must read 'organization/model_name', got {name!r}")
    return name


def _cached_commit(repo: str, revision: str | None) -> str:
    from huggingface_hub import snapshot_download

    try:
        folder = snapshot_download(repo, revision=revision, local_files_only=True)
    except Exception as exc:
        raise UserError(f"--model: model '{repo}' not found locally or in the HF cache ({type(exc).__name__})") from exc
    return Path(folder).name


def load_encoder(spec: ModelSpec, st_model=None, corpus_sizes: dict | None = None, max_seq_length: int | None = None):
    """An mteb encoder (``SentenceTransformerEncoderWrapper`` with a live corpus-encoding bar, see
    ``eval.progress``) whose meta carries ``spec``'s name/revision.

    ``st_model`` lets a caller pass an already loaded SentenceTransformer (tests, notebooks);
    ``corpus_sizes`` ((task, subset, split) → documents) gives each task's bar its total;
    ``max_seq_length`` truncates the model's inputs (``None``: the model's own limit).
    """
    from sentence_transformers import SentenceTransformer

    from rankladder.eval.progress import ProgressEncoderWrapper

    if st_model is None:
        repo, _, rev = spec.path.partition("@") if not Path(spec.path).exists() else (spec.path, "", "")
        try:
            st_model = SentenceTransformer(repo, revision=rev or None)
        except Exception as exc:
            raise UserError(
                f"--model: cannot load {spec.path}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}"
            ) from exc
    if max_seq_length is not None:
        st_model.max_seq_length = max_seq_length
    encoder = ProgressEncoderWrapper(st_model, corpus_sizes)
    base = encoder.mteb_model_meta
    guessed = base.name if base.name not in (None, "no_model_name/available", spec.name) else None
    encoder.mteb_model_meta = base.model_copy(
        update={
            "name": spec.name,
            "revision": spec.revision,
            "adapted_from": base.adapted_from or guessed,
        }
    )
    return encoder
