"""Fixtures for the tests that need vLLM: run them in ``.venv-vllm`` via ``bash .ci/vllm_check.sh``.

In an environment without vLLM (the main ``.venv``) this folder collects nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _has_vllm() -> bool:
    """These tests run in .venv-vllm (.ci/vllm_check.sh); elsewhere they collect nothing."""
    spec = importlib.util.find_spec("vllm")
    return spec is not None and spec.origin is not None


if not _has_vllm():
    collect_ignore_glob = ["test_*.py"]

SERVED_NAME = "smollm2-135m-instruct"
SERVER_START_TIMEOUT = float(os.environ.get("RANKLADDER_VLLM_SERVE_TIMEOUT", "600"))


def cpu_env() -> dict:
    """vLLM CPU settings for a small shared machine: 1 GiB KV cache unless set already."""
    env = dict(os.environ)
    env.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    from rankladder.dataset_builder.backends.smollm2 import dequantized_copy

    return dequantized_copy()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(model: str) -> list[str]:
    """``vllm serve MODEL``; with vllm-cpu, the same server through its module.

    vllm-cpu 0.32.0's ``vllm`` console script asks ``importlib.metadata.version("vllm")`` while
    the distribution is named ``vllm-cpu``, so it dies with PackageNotFoundError before parsing
    arguments. ``python -m vllm.entrypoints.openai.api_server`` runs the same server code.
    """
    try:
        importlib.metadata.version("vllm")
    except importlib.metadata.PackageNotFoundError:
        return [
            sys.executable,
            "-W",
            "ignore::DeprecationWarning",
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            model,
        ]
    return [str(Path(sys.executable).with_name("vllm")), "serve", model]


@pytest.fixture(scope="session")
def vllm_server(smollm2_dir, tmp_path_factory):
    """``vllm serve`` on 127.0.0.1 over the dequantized SmolLM2; yields (base_url, served model name)."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm-serve") / "server.log"
    command = serve_command(str(smollm2_dir)) + [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--served-model-name",
        SERVED_NAME,
        "--max-model-len",
        "1024",
        "--enforce-eager",
        "--disable-log-stats",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=cpu_env(), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"vllm serve exited with {process.returncode}:\n{_tail(log_path)}")
            if time.monotonic() - start > SERVER_START_TIMEOUT:
                pytest.fail(f"vllm serve not ready after {SERVER_START_TIMEOUT:.0f} s:\n{_tail(log_path)}")
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            time.sleep(1)
        print(f"vllm serve ready in {time.monotonic() - start:.0f} s", file=sys.stderr)
        yield base + "/v1", SERVED_NAME
    finally:
        _stop(process)


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the server's own process group (it has worker children), then SIGKILL if needed."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
