"""The loopback Hub's client side: the token the ``hub_env`` fixture (tests/conftest.py) sets, and
``run_client``, which runs Hub client code in a fresh interpreter with that environment.

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

TOKEN = "hf_loopback_secret_token_123"


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
