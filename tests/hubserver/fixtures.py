"""Pytest fixtures for publish tests: a loopback Hub and the environment pointing at it.

Import them into a test module with ``from hubserver.fixtures import hub, hub_env  # noqa: F401``.
huggingface_hub reads ``HF_ENDPOINT``/``HF_HUB_DISABLE_XET``/``HF_HUB_OFFLINE`` at import time, so
``hub_env`` patches both the environment and ``huggingface_hub.constants``; client round trips run
in a subprocess (``run_client``) with the environment set, which needs no patching at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from hubserver.server import HubServer

TOKEN = "hf_loopback_secret_token_123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with HubServer(tmp_path_factory.mktemp("hub")) as server:
        yield server


@pytest.fixture
def hub_env(hub, monkeypatch, tmp_path):
    from huggingface_hub import constants

    env = {
        "HF_ENDPOINT": hub.endpoint,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "HF_TOKEN": TOKEN,
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_DATASETS_OFFLINE": "0",
        "TRANSFORMERS_OFFLINE": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(constants, "ENDPOINT", hub.endpoint)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    monkeypatch.chdir(tmp_path)
    return env


def run_client(code: str, env: dict, timeout: int = 240):
    """Run ``code`` in a fresh interpreter with ``env``; it prints one JSON line, returned decoded."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
