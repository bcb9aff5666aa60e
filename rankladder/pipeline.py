"""Run a release end to end: generate → judge → build → train → eval → publish (dry run by default).

The stages are steps of the one step runner (``rankladder/steps.py``), called through the Python API
(``rankladder/api.py``): a re-run skips a step whose fingerprint (its config section, chained with the
steps it reads) still matches; a changed config re-runs that step and every step after it; an
interrupted step is not done and runs again (generation and judging resume their RUN_DIR key by key).
``OUT/release.json`` chains dataset version ↔ checkpoint ↔ results.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rankladder import api
from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json, write_json_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.steps import Runner, Step, StepFailed

STAGES = ("generate", "judge", "build", "train", "eval", "publish")
BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Pipeline:
    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        self.config, self.out, self.progress = config, Path(out), progress
        self.run_dir, self.dataset_dir = self.out / "run", self.out / "dataset"
        self.model_dir, self.eval_dir = self.out / "model", self.out / "eval"
        self.release_dir = self.out / "release"

    def steps(self) -> list[Step]:
        c = self.config
        stages = [
            generate_step(self.run_dir, c["generation"], self.progress),
            judge_step(self.run_dir, c["judge"], self.progress),
            Step(
                "build",
                self._build,
                {"build": c["build"], "version": c["version"], "name": c["name"]},
                [self.dataset_dir],
            ),
            Step("train", self._train, {"training": c["training"]}, [self.model_dir]),
            Step("eval", self._eval, {"eval": c["eval"], "model_repo": c["publish"]["model_repo"]}, [self.eval_dir]),
            Step("publish", self._publish, {"publish": c["publish"], "version": c["version"]}, [self.release_dir]),
        ]
        for before, step in zip(stages, stages[1:]):  # each stage reads the one before it
            step.needs = [before.name]
        return stages

    def run(self) -> dict:
        records = Runner(self.out, "run", self.progress).run(self.steps())
        return self._release_manifest(records)

    # -- the stages after generation, through the Python API ------------------------------------------
    def _build(self) -> dict:
        b = self.config["build"]
        api.build(self.run_dir, self.dataset_dir, self.config["version"], overwrite=True, name=self.config["name"], **b)
        manifest = json.loads((self.dataset_dir / "rankladder_manifest.json").read_text(encoding="utf-8"))
        result = {"version": manifest["version"], "content_hash": manifest["content_hash"]}
        stats = json.loads((self.dataset_dir / "stats.json").read_text(encoding="utf-8"))
        if stats.get("labels"):
            labels = stats["labels"]
            result["agreement"] = {
                "labels": b["labels"],
                "kappa_quadratic": labels["kappa_quadratic"],
                "exact_agreement": labels["exact_agreement"],
                "kept_by_policy": labels["documents_kept_by_policy"],
            }
        return result

    def _train(self) -> dict:
        from rankladder.api import train

        options = {k: v for k, v in self.config["training"].items() if v is not None}
        # the stage's own earlier output (or an interrupted run's checkpoints) is replaced once the new
        # model is complete: a changed config must not resume from the old steps
        options.update(data=str(self.dataset_dir), overwrite=True)
        train(self.model_dir, **options)
        manifest = json.loads((self.model_dir / "rankladder_train_manifest.json").read_text(encoding="utf-8"))
        return {"final_metrics": manifest.get("final_metrics", {})}

    def _eval(self) -> dict:
        from rankladder.api import evaluate
        from rankladder.training.trainer import default_base_model

        e = dict(self.config["eval"])
        include_base, extra_tasks = e.pop("include_base"), e.pop("tasks")
        base = self.config["training"].get("model") or default_base_model()
        models, names = [str(self.model_dir)], [self.config["publish"]["model_repo"]]
        if include_base:
            models.insert(0, base)
            names.insert(0, BASE_MODEL_NAME if not self.config["training"].get("model") else "")
        tasks = [str(self.dataset_dir), *extra_tasks]
        summary = evaluate(models, tasks, self.eval_dir, names=names, overwrite=True, **e)
        return {"mean": summary.get("mean", {})}

    def _publish(self) -> dict:
        from rankladder.api import publish

        p, version = dict(self.config["publish"]), self.config["version"]
        dataset_repo, model_repo = p.pop("dataset_repo"), p.pop("model_repo")
        dry = p["dry_run"]
        # OUT/release/* are this pipeline's own folders: a re-run replaces them (atomically, once complete)
        self.release_dir.mkdir(parents=True, exist_ok=True)
        folders = {
            kind: {"out": self.release_dir / kind, "overwrite": True} for kind in ("dataset", "model", "results")
        }
        publish(
            "dataset",
            self.dataset_dir,
            dataset_repo,
            version=version,
            trained_models=[model_repo],
            **p,
            **folders["dataset"],
        )
        publish(
            "model",
            self.model_dir,
            model_repo,
            version=version,
            dataset_repo=dataset_repo,
            results=self.eval_dir,
            **p,
            **folders["model"],
        )
        leaderboard = self.release_dir / "leaderboard"
        publish(
            "results",
            self.eval_dir,
            model_repo,
            dry_run=dry,
            model=model_repo,
            bundle_dir=leaderboard,
            **folders["results"],
        )
        return {"dry_run": dry, "dataset_repo": dataset_repo, "model_repo": model_repo, "tag": f"v{version}"}

    def _release_manifest(self, records: dict) -> dict:
        dataset = json.loads((self.dataset_dir / "rankladder_manifest.json").read_text(encoding="utf-8"))
        model = json.loads((self.model_dir / "rankladder_train_manifest.json").read_text(encoding="utf-8"))
        summary = json.loads((self.eval_dir / "summary.json").read_text(encoding="utf-8"))
        p = self.config["publish"]
        release = {
            "kind": "rankladder-release",
            "name": self.config["name"],
            "version": self.config["version"],
            "created": utc_now(),
            "config_hash": sha256_json(self.config)[:16],
            "dataset": {
                "path": str(self.dataset_dir),
                "version": dataset["version"],
                "content_hash": dataset["content_hash"],
                "repo": p["dataset_repo"],
                "tag": f"v{self.config['version']}",
            },
            "model": {
                "path": str(self.model_dir),
                "repo": p["model_repo"],
                "tag": f"v{self.config['version']}",
                "base_model": model["base_model"],
                "base_model_source": model.get("base_model_source"),
                "loss": model["loss"],
                "trained_on": {
                    "content_hash": model["dataset"].get("content_hash"),
                    "version": model["dataset"].get("version"),
                },
            },
            "results": {
                "path": str(self.eval_dir),
                "mean": summary.get("mean", {}),
                "models": [m["name"] for m in summary.get("models", [])],
            },
            "release_folder": str(self.release_dir),
            "dry_run": p["dry_run"],
            "stages": records,
            "tool_versions": tool_versions(),
        }
        if release["model"]["trained_on"]["content_hash"] != dataset["content_hash"]:
            raise UserError(f"{self.model_dir}: checkpoint was trained on another dataset than {self.dataset_dir}")
        write_json_atomic(self.out / "release.json", release)
        return release


def gave_up_everything(run_dir: Path) -> bool:
    """Whether the run's shards hold no document and gave some up (generation cannot be built on)."""
    from rankladder.dataset_builder.runfiles import manifests

    counts = [json.loads(p.read_text(encoding="utf-8")).get("counts", {}) for p in manifests(run_dir)]
    return (
        bool(counts)
        and not any(c.get("records_all_runs") for c in counts)
        and any(c.get("rejected_keys") for c in counts)
    )


def gave_up_message(run_dir: Path) -> str:
    """One line: how many documents were given up, the reasons, and what a re-run does."""
    from collections import Counter

    from rankladder.dataset_builder.runfiles import manifests

    counts = [json.loads(p.read_text(encoding="utf-8")).get("counts", {}) for p in manifests(run_dir)]
    given_up = sum(c.get("rejected_keys", 0) for c in counts)
    expected = sum(c.get("expected_records", 0) for c in counts)
    reasons: Counter = Counter()
    for c in counts:
        reasons.update(c.get("rejected_keys_by_reason") or {})
    why = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()) or "unknown"
    return (
        f"{run_dir}: generate gave up every document ({given_up} of {expected} after every attempt failed; "
        f"last reasons: {why}): nothing to build; fix the generation settings and re-run (a changed generation "
        "config starts the run afresh; the same config retries the given-up documents)"
    )


def generate_step(run_dir: Path, generation: dict, progress: bool) -> Step:
    """Generation into ``run_dir`` (resumed key by key after an interruption; restarted when its config
    changed). Every document given up is a failed step: nothing can be built on it."""

    def run() -> None:
        # the same config after a run that gave up every document: retry those documents (a changed config
        # has reset the RUN_DIR already)
        retry = run_dir.exists() and gave_up_everything(run_dir)
        try:
            api.generate(run_dir, progress=progress, retry_rejected=retry, **generation)
        except RuntimeError as exc:
            if gave_up_everything(run_dir):  # the API's "every document was given up"
                raise StepFailed(gave_up_message(run_dir)) from exc
            raise

    config = {"generation": generation}
    return Step("generate", run, config, [run_dir], reset=lambda: shutil.rmtree(run_dir, ignore_errors=True))


def judge_step(run_dir: Path, judge: dict, progress: bool) -> Step:
    """The judge on ``run_dir`` (``judge.enabled``); judgements of another judge config are removed first."""
    from rankladder.dataset_builder.schema import JUDGE_MANIFEST, JUDGEMENTS

    def unjudge() -> None:
        shutil.rmtree(run_dir / JUDGEMENTS, ignore_errors=True)
        for path in run_dir.glob(JUDGE_MANIFEST):
            path.unlink()

    def run() -> dict:
        options = dict(judge)
        if not options.pop("enabled"):
            unjudge()
            return {"enabled": False}
        api.judge(run_dir, progress=progress, **options)
        return {"enabled": True}

    return Step("judge", run, {"judge": judge}, [run_dir / JUDGEMENTS], needs=["generate"], reset=unjudge)
