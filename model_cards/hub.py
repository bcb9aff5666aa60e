"""Publish one staged folder to one Hub repo as one commit, then tag it. Safe to re-run.

The token comes from ``HF_TOKEN`` or the huggingface_hub login and is only ever handed to
``HfApi``; the endpoint comes from ``HF_ENDPOINT`` (read at call time, so mirrors and private hubs
work). A release is:

1. refuse an existing tag (unless ``force``), before uploading anything;
2. one commit that makes the branch equal to the staged folder (adds + deletes of stale files).
   Files already on the Hub with the same content are skipped by huggingface_hub, so re-running
   after an interruption never duplicates a commit: if the first commit landed, the second is a no-op;
3. the tag on that commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.model_cards.inputs import upload_files


@dataclass
class Release:
    commit_url: str
    commit_oid: str
    tag: str | None
    pr_url: str | None = None
    changed: bool = True


def endpoint() -> str:
    from huggingface_hub import constants

    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def get_api():
    """An ``HfApi`` for the configured endpoint and token; a one-line error without a token."""
    from huggingface_hub import HfApi, constants, get_token

    if constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        raise UserError("HF_HUB_OFFLINE is set: cannot publish (unset it, or use --dry-run)")
    token = get_token()
    if not token:
        raise UserError("no Hugging Face token: set HF_TOKEN or run `hf auth login` (or use --dry-run)")
    return HfApi(endpoint=endpoint(), token=token)


def _network_error(repo_id: str, exc: Exception) -> UserError:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UserError(
        f"{repo_id}: upload failed ({type(exc).__name__}: {text}); nothing was tagged, "
        "re-run the same command to finish"
    )


def publish_folder(
    api,
    folder: Path,
    repo_id: str,
    repo_type: str,
    message: str,
    description: str = "",
    tag: str | None = None,
    force: bool = False,
    private: bool = False,
    delete_stale: bool = True,
    create_pr: bool = False,
) -> Release:
    """Make ``repo_id``'s main branch equal to ``folder`` in one commit, then tag it."""
    from httpx2 import HTTPError
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        try:
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        except RepositoryNotFoundError:
            if create_pr:
                raise UserError(f"{repo_id}: repository not found (cannot open a pull request)") from None
            api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
            refs = api.list_repo_refs(repo_id, repo_type=repo_type)
        existing = {ref.name: ref.target_commit for ref in refs.tags}
        if tag and tag in existing and not force:
            raise UserError(
                f"{repo_id}: tag {tag} already exists (commit {existing[tag][:12]}); "
                "pass --force to move it, or publish a new version"
            )
        head = next((b.target_commit for b in refs.branches if b.name == "main"), None)
        local = [rel.as_posix() for rel in upload_files(folder)]
        operations = [CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(Path(folder) / rel)) for rel in local]
        if delete_stale and head:
            keep = set(local) | {".gitattributes"}
            remote = api.list_repo_files(repo_id, repo_type=repo_type, revision=head)
            operations += [CommitOperationDelete(path_in_repo=p) for p in remote if p not in keep]
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=message,
            commit_description=description,
            repo_type=repo_type,
            parent_commit=None if create_pr else head,
            create_pr=create_pr,
        )
        changed = info.oid != head
        if tag:
            if tag in existing:  # --force: move the tag
                api.delete_tag(repo_id, tag=tag, repo_type=repo_type)
            api.create_tag(repo_id, tag=tag, revision=info.oid, repo_type=repo_type, tag_message=message)
    except UserError:
        raise
    except (HTTPError, OSError, ValueError, RuntimeError) as exc:  # HTTPError: also a connection dropped mid-commit
        raise _network_error(repo_id, exc) from exc
    return Release(commit_url=info.commit_url, commit_oid=info.oid, tag=tag, pr_url=info.pr_url, changed=changed)


def download_text(api, repo_id: str, filename: str, repo_type: str = "model", revision: str = "main") -> str | None:
    """One text file from the repo, or None when the file (not the repo) is missing."""
    from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError, RepositoryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, filename, repo_type=repo_type, revision=revision)
    except EntryNotFoundError:
        return None
    except RepositoryNotFoundError:
        raise UserError(f"{repo_id}: repository not found on {api.endpoint}") from None
    except HfHubHTTPError as exc:
        raise _network_error(repo_id, exc) from exc
    return Path(path).read_text(encoding="utf-8")


def repo_url(api, repo_id: str, repo_type: str, revision: str | None = None) -> str | None:
    """The URL of ``repo_id`` (at ``revision``) on the target Hub when it exists there, else None."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        api.repo_info(repo_id, repo_type=repo_type, revision=revision)
    except (RepositoryNotFoundError, RevisionNotFoundError):
        return None
    except HfHubHTTPError as exc:
        raise _network_error(repo_id, exc) from exc
    prefix = "datasets/" if repo_type == "dataset" else ""
    return f"{endpoint()}/{prefix}{repo_id}" + (f"/tree/{revision}" if revision else "")
