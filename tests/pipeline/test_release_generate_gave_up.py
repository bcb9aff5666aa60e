"""Issue 22: `rankladder run` stops when generate gave up every document (one line with the reasons,
exit 1: a step that could not produce its output) instead of going on to build; the same config retries the given-up documents, a changed one
starts the run afresh."""

from __future__ import annotations

import json
from collections import Counter

import yaml

from rankladder.cli import main
from rankladder.dataset_builder.runfiles import REJECTS, iter_kind
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.cli_cases import write_generation_queries


def release_yaml(path, queries, url: str, max_attempts: int) -> str:
    config = {
        "queries": {"source": str(queries)},
        "generation": {
            "backend": "openai",
            "backend_options": {"model": "fake", "base_url": url},
            "prompt_mode": "per-query",
            "max_attempts": max_attempts,
        },
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rankladder run")]


def test_run_stops_when_generate_gave_up_every_document(tmp_path, capsys):
    queries, out = tmp_path / "queries.jsonl", tmp_path / "release"
    write_generation_queries(queries, 1)
    server = CannedOpenAI(delay=0)  # plain text: per-query mode can never parse it
    try:
        config = release_yaml(tmp_path / "release.yaml", queries, server.url, max_attempts=1)
        assert main(["run", config, "--out", str(out), "--quiet"]) == 1
        errors = error_lines(capsys.readouterr().err)
        assert len(errors) == 1, errors
        assert "generate gave up every document (4 of 4" in errors[0] and "missing_level 4" in errors[0]
        assert not (out / "dataset").exists() and not (out / "steps" / "build.json").exists()
        assert json.loads((out / "steps" / "generate.json").read_text())["status"] == "failed"

        # the same config again: the given-up documents are retried (new attempts), and it stops again
        assert main(["run", config, "--out", str(out), "--quiet"]) == 1
        assert "gave up every document" in error_lines(capsys.readouterr().err)[0]
        assert Counter(row["attempt"] for row in iter_kind(out / "run", REJECTS)) == {0: 4, 1: 4}

        # a changed generation config starts OUT/run afresh (not "RUN_DIR was generated with a different ...")
        config = release_yaml(tmp_path / "release.yaml", queries, server.url, max_attempts=2)
        assert main(["run", config, "--out", str(out), "--quiet"]) == 1
        errors = error_lines(capsys.readouterr().err)
        assert "gave up every document" in errors[0], errors
        assert Counter(row["attempt"] for row in iter_kind(out / "run", REJECTS)) == {0: 4, 1: 4}
    finally:
        server.close()
    assert not (out / "dataset").exists()
