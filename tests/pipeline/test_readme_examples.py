"""The README's examples, run exactly as written (issue 12, defect 8: they had drifted from the code).

Every fenced block of README.md is either run here or skipped with a stated reason (``SKIPPED``); a new
or changed block fails ``test_every_block_is_run_or_skipped`` until it is classified, so the README
cannot drift silently. Blocks run in a scratch folder holding the inputs the earlier README steps
would have produced; the publish blocks talk to the loopback Hub (tests/helpers/hubserver).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.console_checks import summary_block
from tests.helpers.hubserver import inputs
from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent  # the venv's `rankladder`


@dataclass
class Block:
    lang: str
    text: str
    line: int
    heading: str

    @property
    def key(self) -> str:
        """The block's first command (or code) line, without its trailing comment: how the lists below name it."""
        first = next(line for line in self.text.splitlines() if line.strip() and not line.startswith("#"))
        return re.split(r"\s+# ", first)[0].strip()


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    out = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        before = text[: match.start()]
        heading = [line for line in before.splitlines() if line.startswith("#")][-1]
        out.append(Block(match.group(1), match.group(2), before.count("\n") + 1, heading))
    return out


# Blocks this file runs, by key (first command line) -> the test that runs it.
RUN = {
    "rankladder build runs/demo --out datasets/demo --version 0.1.0 --dev-fraction 0.25": "test_build_and_publish",
    "── rankladder build: done in 3.3 s ──": "test_build_and_publish",  # the build block's output
    "from datasets import load_dataset": "test_build_and_publish",  # the build section's and the publish section's
    "rankladder publish model models/demo --repo my-org/minilm-sycl --version 0.1.0 --license apache-2.0 \\": "test_build_and_publish",
    "$ rankladder generate --queries bad.jsonl --out runs/x": "test_error_transcript",
}
# Blocks not run here, and why.
SKIPPED = {
    "make quickstart": "the whole pipeline: minutes of LLM generation and training on CPU "
    "(tests/pipeline/test_release.py runs a tiny one)",
    "queries ──► rankladder generate ──► RUN_DIR (jsonl shards + manifests, resumable, shardable)": "a diagram",
    "rankladder generate --out runs/demo --limit 3": "LLM generation (minutes on CPU; the vLLM/OpenAI lines need a GPU "
    "or a server); tests/dataset_builder/test_generate.py covers the backends",
    "rankladder train --data datasets/demo --loss wasserstein --out models/demo \\": "trains a model (minutes on CPU); the publish test uses a checkpoint saved the way `train` saves it",
    "rankladder eval --model models/demo --name my-org/minilm-sycl --model sentence-transformers/all-MiniLM-L6-v2 \\": "needs all-MiniLM-L6-v2 in the HF cache and minutes of encoding; tests/eval/ cover eval",
    "rankladder quickstart --out out/quickstart --eval-data ../shared/datasets/cranfield": "the whole pipeline (about 5 minutes); tests/pipeline/test_release.py runs a tiny one",
    "── rankladder train: done in 1 min 12 s ──": "sample output, not code (tests/training/test_run.py checks "
    "the summary rows)",
    "── rankladder quickstart: done in 11 min 12 s ──": "sample output, not code (tests/pipeline/test_release.py checks "
    "the summary rows)",
    "encode cran300 corpus: 100%|██████████| 300/300 [00:30<00:00,  9.91doc/s]": "sample output of `eval`, not code",
    "import rankladder": "the Python API snippet: tests/pipeline/test_api_readme.py runs it",
    "rankladder study configs/study_cpu.yaml --out out/study-cpu": "the loss study: hours on CPU, GPUs for the paper",
    "rankladder generate --backend openai --model Qwen/Qwen2.5-7B-Instruct --concurrency 64 \\": "needs vLLM "
    "replicas on three nodes; tests/dataset_builder/test_openai_servers.py runs the same options against loopback servers",
    "rankladder generate --backend vllm --model Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 1 \\": "an sbatch "
    "array for a SLURM cluster with GPUs (none here); tests/dataset_builder/test_generate.py checks that two shards together equal the unsharded run",
    "rankladder judge runs/demo": "LLM judging (minutes on CPU); tests/dataset_builder/test_judge.py runs SmolLM2 as the "
    "judge through the CLI and tests/vllm_cpu the OpenAI-compatible path",
    "rankladder mine ../shared/datasets/cranfield --split test --method bm25 -k 2 --out out/mined-bm25": "mining: tests/dataset_builder/test_mine.py runs the bm25 and dense methods on Cranfield; the other lines name "
    "placeholders (an MS MARCO train folder, MODEL)",
}


def test_every_block_is_run_or_skipped():
    keys = [block.key for block in readme_blocks()]
    unclassified = [key for key in keys if key not in RUN and key not in SKIPPED]
    assert not unclassified, f"README blocks neither run nor skipped (add them to RUN or SKIPPED): {unclassified}"
    assert not (set(RUN) | set(SKIPPED)) - set(keys), "RUN/SKIPPED name blocks the README no longer has"


def blocks_for(test_name: str, lang: str | None = None) -> list[Block]:
    return [b for b in readme_blocks() if RUN.get(b.key) == test_name and (lang is None or b.lang == lang)]


def run_bash(block: Block, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    env = {**os.environ, **env, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.text],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (
        f"README.md:{block.line} failed as written:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def run_python(block: Block, cwd: Path, env: dict) -> None:
    env = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", block.text], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"README.md:{block.line} failed as written:\n{result.stderr[-3000:]}"


def test_build_and_publish(hub, hub_env, tmp_path):
    """Build → load locally → publish (dry run, dataset, model, results) → load from the Hub, as written."""
    from huggingface_hub import HfApi, ModelCard

    work = tmp_path / "work"
    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    write_run_dir(work / "runs" / "demo", rows)  # what `rankladder generate --out runs/demo` leaves
    build, publish = blocks_for("test_build_and_publish", "bash")
    load_local, load_hub = blocks_for("test_build_and_publish", "python")
    offline = {"HF_HUB_OFFLINE": "1"}
    built = run_bash(build, work, offline)
    (shown,) = blocks_for("test_build_and_publish", "text")
    expected = summary_block(shown.text, "build")
    got = summary_block(built.stdout, "build")
    assert got.keys() == expected.keys()
    assert {k: v for k, v in got.items() if k != "wrote"} == {k: v for k, v in expected.items() if k != "wrote"}
    assert got["wrote"].split("): ")[1] == expected["wrote"].split("): ")[1]  # the size may differ by a few bytes
    run_python(load_local, work, offline)

    # what `rankladder train --out models/demo` and `rankladder eval ... --name my-org/minilm-sycl` leave
    built_hash = json.loads((work / "datasets" / "demo" / "rankladder_manifest.json").read_text())["content_hash"]
    checkpoint = inputs.make_trained_checkpoint_dir(
        work / "models" / "demo", dataset="datasets/demo", content_hash=built_hash
    )
    inputs.make_results_dir(
        work / "results" / "demo",
        model_name="my-org/minilm-sycl",
        model_path=str(checkpoint.resolve()),
        others=("sentence-transformers/all-MiniLM-L6-v2", "mteb/baseline-bm25s"),
    )
    out = run_bash(publish, work, hub_env)
    assert hub_env["HF_TOKEN"] not in out.stdout + out.stderr

    api = HfApi(endpoint=hub.endpoint, token=hub_env["HF_TOKEN"])
    assert "v0.1.0" in hub.store.load("dataset", "my-org/sycl-demo")["tags"]
    assert "v0.1.0" in hub.store.load("model", "my-org/minilm-sycl")["tags"]
    assert (work / "release" / "minilm-sycl" / "model.safetensors").is_file()  # the dry run's folder
    card = ModelCard.load(api.hf_hub_download("my-org/minilm-sycl", "README.md"))
    assert card.data.base_model == "sentence-transformers/all-MiniLM-L6-v2" and card.data.eval_results
    assert "site-packages" not in card.content and card.text.lstrip().startswith("# my-org/minilm-sycl")
    assert (work / "release" / "leaderboard" / "my-org__minilm-sycl" / "model_meta_snippet.py").is_file()

    run_python(load_hub, work, hub_env)  # the users' snippet, against the Hub just written


def test_error_transcript(tmp_path):
    """The Errors section's transcript: same command, same one line."""
    (block,) = blocks_for("test_error_transcript")
    lines = block.text.strip().splitlines()
    command, expected = lines[0].removeprefix("$ "), lines[1:]
    (tmp_path / "bad.jsonl").write_text('{"_id": "q1", "text": "how do plants use light?"}\n{bad: 1}\n')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines() == expected
    assert not (tmp_path / "runs").exists()
