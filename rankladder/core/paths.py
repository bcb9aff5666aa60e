"""Local path or Hub id? One rule for every input that may be either (``--data``, ``--tasks``, ``--model``, ...).

A typo in a local path (``datasets/nope``) must be reported as a missing path, not as "couldn't reach
'datasets/nope' on the Hub (OfflineModeIsEnabled)". A spec is read as *local* when it exists on disk, or
starts with ``.``, ``/`` or ``~``, or ends with a separator, or is not of the Hub's ``org/name[@revision]``
shape while holding a separator, or when its first component exists here (``datasets/`` in the working
folder makes ``datasets/nope`` a path). Everything else may be a Hub id.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rankladder.core.errors import UserError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")  # org/name


def hub_repo_part(spec: str) -> str:
    """``org/name@revision`` → ``org/name`` (the part the Hub-id shape is checked on)."""
    return spec.split("@", 1)[0]


def looks_local(spec: str | os.PathLike) -> bool:
    """Whether ``spec`` can only mean a path on this machine (see the module docstring)."""
    text = os.fspath(spec)
    if not text:
        return False
    if Path(text).expanduser().exists():
        return True
    if text.startswith((".", "/", "~")) or text.endswith(("/", os.sep)) or (os.altsep and os.altsep in text):
        return True
    repo = hub_repo_part(text)
    if "/" not in repo and os.sep not in repo:
        return False  # a bare name: an mteb task, a canonical Hub dataset, a model short name
    if not HUB_ID.match(repo):
        return True
    return Path(repo.split("/", 1)[0]).exists()


def missing_path_message(spec: str | os.PathLike, what: str) -> str:
    """One line for a local-looking ``spec`` that does not exist, saying why it was read as a path."""
    text = os.fspath(spec)
    first = hub_repo_part(text).split("/", 1)[0]
    why = ""
    if "/" in text and not text.startswith((".", "/", "~")) and first and Path(first).exists():
        why = f" ('{first}' exists here, so this is read as a local path, not a Hub id)"
    return f"{text}: {what} not found{why}"


def check_exists(spec: str | os.PathLike | None, what: str, option: str = "") -> None:
    """Raise a one-line UserError when ``spec`` looks local (``looks_local``) but does not exist."""
    if spec is None:
        return
    text = os.fspath(spec)
    if looks_local(text) and not Path(text).expanduser().exists():
        prefix = f"{option}: " if option else ""
        raise UserError(prefix + missing_path_message(text, what))
