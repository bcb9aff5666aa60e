"""The README's Python API snippet runs as written (real SmolLM2, build, MiniLM training, mteb eval)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def readme_api_snippet() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_python_api_snippet_runs_as_written(tmp_path):
    snippet = readme_api_snippet()
    assert "rankladder.generate(" in snippet and "rankladder.evaluate(" in snippet
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for folder in ("runs/api-demo", "datasets/api-demo", "models/api-demo", "results/api-demo"):
        assert any((tmp_path / folder).iterdir()), folder
    assert (tmp_path / "models/api-demo/model.safetensors").is_file()
    assert "api-demo" in result.stdout or "{" in result.stdout  # the printed mean row
