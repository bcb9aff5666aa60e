"""The one step runner (rankladder/steps.py) under `rankladder run`/`quickstart` and `rankladder study`:
resume skips done steps, a changed config re-runs that step and the steps after it only, an interrupted
step is not done and the next run resumes from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rankladder.steps import MANIFEST, Runner, Step
from tests.helpers.canned_openai import CannedOpenAI


def statuses(out: Path) -> dict[str, str]:
    return {s["name"]: s["status"] for s in json.loads((out / MANIFEST).read_text())["steps"]}


class Chain:
    """Three steps a → b → c (and d, which reads a only), each writing a file from its config and its input."""

    def __init__(self, out: Path, source: Path):
        self.out, self.source, self.calls = out, source, []
        self.config = {"a": 1, "b": 1, "c": 1, "d": 1}
        self.fail_in: str | None = None

    def writer(self, name: str, reads: Path):
        def run() -> dict:
            self.calls.append(name)
            target = self.out / f"{name}.txt"
            target.write_text(f"{reads.read_text()} {name}{self.config[name]}")
            if self.fail_in == name:  # the output is half there, the step is not done
                raise KeyboardInterrupt
            return {"length": len(target.read_text())}

        return run

    def steps(self) -> list[Step]:
        o = self.out
        return [
            Step("a", self.writer("a", self.source), self.config["a"], [o / "a.txt"], inputs=[self.source]),
            Step("b", self.writer("b", o / "a.txt"), self.config["b"], [o / "b.txt"], needs=["a"]),
            Step("c", self.writer("c", o / "b.txt"), self.config["c"], [o / "c.txt"], needs=["b"]),
            Step("d", self.writer("d", o / "a.txt"), self.config["d"], [o / "d.txt"], needs=["a"]),
        ]

    def run(self) -> list[str]:
        self.calls = []
        Runner(self.out, "test", progress=False).run(self.steps())
        return self.calls


def test_resume_skips_done_steps_and_a_change_reruns_that_step_and_the_later_ones_only(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("x")
    chain = Chain(tmp_path / "out", source)
    assert chain.run() == ["a", "b", "c", "d"]
    marker = chain.out / "steps" / "b.json"
    record = json.loads(marker.read_text())
    assert record["status"] == "done" and record["outputs"] == {"b.txt": record["outputs"]["b.txt"]}
    assert record["details"] == {"length": len("x a1 b1")}
    stamps = {p.name: p.stat().st_mtime_ns for p in chain.out.rglob("*.*")}

    assert chain.run() == []  # nothing changed: every step skipped, nothing rewritten but the run manifest
    assert statuses(chain.out) == dict.fromkeys("abcd", "skipped")
    assert {p.name: p.stat().st_mtime_ns for p in chain.out.rglob("*.*") if p.name != MANIFEST} == {
        k: v for k, v in stamps.items() if k != MANIFEST
    }

    chain.config["b"] = 2  # b's config: b and c (which reads b) again; a and d (which reads a only) not
    assert chain.run() == ["b", "c"]
    assert statuses(chain.out) == {"a": "skipped", "b": "ran", "c": "ran", "d": "skipped"}
    assert (chain.out / "c.txt").read_text() == "x a1 b2 c1"

    source.write_text("y")  # an external input's content is part of the fingerprint, as the config is
    assert chain.run() == ["a", "b", "c", "d"]


def test_an_interrupted_step_is_not_done_and_the_next_run_resumes_from_it(tmp_path):
    source = tmp_path / "source.txt"
    source.write_text("x")
    chain = Chain(tmp_path / "out", source)
    chain.fail_in = "b"
    with pytest.raises(KeyboardInterrupt):
        chain.run()
    assert chain.calls == ["a", "b"] and (chain.out / "b.txt").is_file()  # b's output half-written ...
    marker = json.loads((chain.out / "steps" / "b.json").read_text())
    assert marker["status"] == "interrupted" and "outputs" not in marker  # ... but b is not done
    run = json.loads((chain.out / MANIFEST).read_text())
    assert run["status"] == "interrupted"
    assert statuses(chain.out) == {"a": "ran", "b": "interrupted", "c": "pending", "d": "pending"}

    chain.fail_in = None
    assert chain.run() == ["b", "c", "d"]  # resumes from b; a is done
    assert statuses(chain.out) == {"a": "skipped", "b": "ran", "c": "ran", "d": "ran"}


def test_a_resumable_step_is_reset_only_when_its_fingerprint_changed(tmp_path):
    resets, out = [], tmp_path / "out"

    def steps(config, fail=False):
        def run():
            if fail:
                raise RuntimeError("server gone")
            (out / "run.txt").write_text(str(config))

        return [Step("generate", run, config, [out / "run.txt"], reset=lambda: resets.append(config))]

    with pytest.raises(RuntimeError):
        Runner(out, "test", progress=False).run(steps(1, fail=True))
    assert json.loads((out / "steps" / "generate.json").read_text())["error"] == "server gone"
    Runner(out, "test", progress=False).run(steps(1))
    assert resets == []  # the same config after a failure resumes: nothing is cleared
    Runner(out, "test", progress=False).run(steps(2))
    assert resets == [2]  # another config: the old output is not resumed


def test_run_and_study_are_on_the_one_runner():
    from rankladder import pipeline, steps, study_run

    assert pipeline.Runner is steps.Runner and study_run.Runner is steps.Runner
    # the orchestrations keep no step bookkeeping of their own
    for module in (pipeline, study_run):
        source = Path(module.__file__).read_text()
        assert "study_step" not in source and 'config_hash"] ==' not in source and "_done(" not in source


def release_yaml(path: Path, server: CannedOpenAI, **eval_options) -> Path:
    release = {
        "queries": {"limit": 2},
        "generation": {
            "backend": "openai",
            "backend_options": {"model": "fake", "base_url": server.url, "max_retries": 0},
        },
        "judge": {"enabled": False},
        "build": {"dev_fraction": 0.5},
        "training": {
            "max_steps": 1,
            "per_device_train_batch_size": 2,
            "num_train_epochs": 1,
            "logging_steps": 1,
            "disable_tqdm": True,
        },
        "eval": {"include_base": False, "bm25": False, "level_order": False, **eval_options},
    }
    path.write_text(yaml.safe_dump(release))
    return path


@pytest.mark.slow
def test_release_steps_resume_rerun_from_a_change_and_from_a_failed_step(tmp_path, capsys):
    from rankladder.cli import main

    out, config = tmp_path / "release", tmp_path / "release.yaml"
    server = CannedOpenAI(delay=0.0)
    try:
        release_yaml(config, server)
        assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
        assert set(statuses(out).values()) == {"ran"}
        assert "ran 6 (generate " in capsys.readouterr().out  # the summary's steps row
        model_stamp = (out / "model" / "model.safetensors").stat().st_mtime_ns

        assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
        assert set(statuses(out).values()) == {"skipped"}
        assert (out / "model" / "model.safetensors").stat().st_mtime_ns == model_stamp

        not_beir = tmp_path / "not-beir"
        not_beir.mkdir()
        release_yaml(config, server, tasks=[str(not_beir)])  # eval fails: a bad task folder
        assert main(["run", str(config), "--out", str(out), "--quiet"]) == 2
        assert statuses(out) == {
            "generate": "skipped",
            "judge": "skipped",
            "build": "skipped",
            "train": "skipped",
            "eval": "failed",
            "publish": "pending",
        }
        assert json.loads((out / "steps" / "eval.json").read_text())["status"] == "failed"

        release_yaml(config, server, batch_size=8)  # fixed, and another eval option: resumes from eval
        requests = server.requests
        assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
        assert server.requests == requests  # generation was not asked again
        assert statuses(out) == {
            "generate": "skipped",
            "judge": "skipped",
            "build": "skipped",
            "train": "skipped",
            "eval": "ran",
            "publish": "ran",
        }
        assert (out / "model" / "model.safetensors").stat().st_mtime_ns == model_stamp
        release = json.loads((out / "release.json").read_text())
        assert (
            release["stages"]["eval"]["fingerprint"]
            == json.loads((out / "steps" / "eval.json").read_text())["fingerprint"]
        )
    finally:
        server.close()


def test_release_stops_on_a_failed_step_with_one_line(tmp_path, capsys):
    from rankladder.cli import main

    out, config = tmp_path / "release", tmp_path / "release.yaml"
    server = CannedOpenAI(delay=0.0, reply="no")  # every reply too short: every document is given up
    try:
        release_yaml(config, server)
        assert main(["run", str(config), "--out", str(out), "--quiet"]) == 1
    finally:
        server.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if "error:" in line][0].startswith("rankladder run: error: ")
    assert "gave up every document" in err
    assert statuses(out)["generate"] == "failed" and statuses(out)["build"] == "pending"
    assert not (out / "dataset").exists()


@pytest.mark.slow
def test_study_changed_setting_reruns_only_its_train_and_eval(tmp_path, tiny_dataset_dir, minilm_path):
    from rankladder.study import load_study, run_study

    def config(ws2_scale: float) -> dict:
        return load_study(
            overrides={
                "dataset": str(tiny_dataset_dir),
                "base_model": minilm_path,
                "seeds": [0],
                "training": {  # the study's own training section, replaced as a whole
                    "per_device_train_batch_size": 4,
                    "max_steps": 1,
                    "max_seq_length": 32,
                    "save_strategy": "no",
                    "report_to": "none",
                    "disable_tqdm": True,
                    "eval_split": "none",
                },
                "settings": [
                    {"name": "infonce", "loss": "infonce", "labels": "binary", "group_size": 3},
                    {"name": "ws2", "loss": "ws2", "options": {"loss_scale": ws2_scale}},
                ],
                "eval": {"collections": [], "dev": True, "max_seq_length": 32, "batch_size": 32},
            }
        )

    out = tmp_path / "study"
    run_study(config(1.0), out, progress=False)
    assert set(statuses(out).values()) == {"ran"}
    infonce = (out / "models" / "infonce-seed0" / "model.safetensors").stat().st_mtime_ns
    run_study(config(20.0), out, progress=False)
    assert statuses(out) == {
        "separability": "skipped",  # the tiny dataset was built without it: computed once, by the study
        "train-infonce-seed0": "skipped",
        "train-ws2-seed0": "ran",
        "eval-base": "skipped",
        "eval-infonce-seed0": "skipped",
        "eval-ws2-seed0": "ran",
    }
    assert (out / "models" / "infonce-seed0" / "model.safetensors").stat().st_mtime_ns == infonce
