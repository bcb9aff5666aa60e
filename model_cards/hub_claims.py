"""Claims a model card makes about the Hub, checked on the target Hub (the one ``HF_ENDPOINT`` names)
before anything is uploaded: the training dataset's repo, its tag and its content hash; the base model.

A link is written only to what exists there. ``--dataset-repo`` that does not hold the dataset the model
was trained on (repo missing, tag missing, another content hash) is a one-line error naming the command
that would publish it. Uses huggingface_hub's public ``HfApi`` (``list_repo_refs``, ``hf_hub_download``,
``repo_info``) only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.dataset_builder import schema
from rankladder.model_cards import hub


@dataclass
class DatasetLink:
    repo: str
    revision: str
    url: str


def _publish_hint(manifest: dict, repo: str, version: str | None) -> str:
    ds = manifest.get("dataset") or {}
    local = ds.get("path_or_repo") if ds.get("path_or_repo") and Path(str(ds["path_or_repo"])).is_dir() else None
    return f"`rankladder publish dataset {local or 'DATASET_DIR'} --repo {repo} --version {version or 'X.Y.Z'}`"


def _dataset_revision(manifest: dict) -> str | None:
    """The revision the model was trained on: pinned (``--data org/name@rev``) or its version's tag."""
    ds = manifest.get("dataset") or {}
    return ds.get("revision") or (f"v{ds['version']}" if ds.get("version") else None)


def check_dataset(api, manifest: dict, repo: str, required: bool) -> DatasetLink | None:
    """The verified link to the training dataset on the target Hub, or None (``required``: a UserError).

    Verified means: the repo exists, the revision (pinned, or ``v<version>``) is one of its tags, branches or
    commits, and the ``rankladder_manifest.json`` there has the content hash the train manifest recorded.
    """
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    ds = manifest.get("dataset") or {}
    revision, recorded = _dataset_revision(manifest), ds.get("content_hash")
    where = f"--dataset-repo {repo}" if required else f"training dataset {repo}"

    def refuse(reason: str) -> None:
        if required:
            raise UserError(
                f"{where} on {hub.endpoint()}: {reason}; publish the training dataset first: "
                + _publish_hint(manifest, repo, ds.get("version"))
            )

    try:
        refs = api.list_repo_refs(repo, repo_type="dataset")
    except RepositoryNotFoundError:
        return refuse("no such dataset repo")
    if revision is None:
        return refuse("the train manifest records no dataset version or revision to link")
    names = {r.name for r in [*refs.tags, *refs.branches]}
    if revision not in names and not (len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)):
        tags = ", ".join(sorted(r.name for r in refs.tags)) or "none"
        return refuse(f"has no revision {revision} (tags: {tags})")
    try:
        path = api.hf_hub_download(repo, schema.MANIFEST_FILE, repo_type="dataset", revision=revision)
        published = json.loads(Path(path).read_text(encoding="utf-8")).get("content_hash")
    except (EntryNotFoundError, RevisionNotFoundError, json.JSONDecodeError):
        published = None
    if recorded and published != recorded:
        return refuse(f"{revision} holds content hash {str(published)[:16]}, the model was trained on {recorded[:16]}")
    return DatasetLink(repo, revision, f"{hub.endpoint()}/datasets/{repo}/tree/{revision}")


def model_url(api, repo: str) -> str | None:
    """``repo``'s URL on the target Hub when the model exists there, else None (named, not linked)."""
    return hub.repo_url(api, repo, "model")
