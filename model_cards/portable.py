"""Manifests as they leave the machine: every path of this machine replaced by a portable name.

A train manifest records the folders the run read (``/home/me/datasets/ladder``, the base model in
site-packages); uploaded as is, it would publish the user's directory layout and name things nobody
else can open. ``portable(value, names)`` swaps each such path for the Hub id it maps to (``names``) or
its last component (``local:<name>``), recursively; everything else is kept.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rankladder.core.fsutil import write_json_atomic


def _is_machine_path(text: str) -> bool:
    return text.startswith(("/", "~")) or (len(text) > 2 and text[1] == ":" and text[2] in "\\/")


# a machine path inside a sentence ("negatives mined into /home/me/mined"): after a space or an opening quote
EMBEDDED_PATH = re.compile(r"(?<=[\s(`'\"])(/[^\s)`'\",]+)")


def portable(value: Any, names: dict[str, str] | None = None) -> Any:
    names = names or {}
    if isinstance(value, dict):
        return {key: portable(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, names) for item in value]
    if isinstance(value, str):
        if value in names:
            return names[value]
        if _is_machine_path(value):
            return f"local:{Path(value.rstrip('/')).name}"
        for path, name in names.items():
            value = value.replace(path, name)
        return EMBEDDED_PATH.sub(lambda m: f"local:{Path(m.group(1).rstrip('/')).name}", value)
    return value


def write_portable_json(source: Path, target: Path, names: dict[str, str] | None = None) -> None:
    """Copy the JSON file ``source`` to ``target`` with machine paths replaced (``portable``)."""
    write_json_atomic(target, portable(json.loads(Path(source).read_text(encoding="utf-8")), names))
