"""Run a release end to end: generate → judge → build → train → eval → publish (dry run by default).

Each stage leaves ``OUT/stages/<stage>.json`` (config hash chained with the upstream stage, output
hashes). A re-run skips a stage whose record matches; a changed config re-runs that stage and every
stage after it. An interrupted stage has no record and simply runs again (generation resumes its
RUN_DIR key by key). ``OUT/release.json`` chains dataset version ↔ checkpoint ↔ results.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import hash_tree, sha256_json, write_json_atomic
from rankladder.core.manifest import tool_versions, utc_now

STAGES = ("generate", "judge", "build", "train", "eval", "publish")
BASE_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


class Pipeline:
    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        self.config, self.out, self.progress = config, Path(out), progress
        self.run_dir, self.dataset_dir = self.out / "run", self.out / "dataset"
        self.model_dir, self.eval_dir = self.out / "model", self.out / "eval"
        self.release_dir, self.stage_dir = self.out / "release", self.out / "stages"

    # -- bookkeeping -----------------------------------------------------------------------------
    def stage_config(self, stage: str) -> dict:
        c = self.config
        return {
            "generate": {"generation": c["generation"]},
            "judge": {"judge": c["judge"]},
            "build": {"build": c["build"], "version": c["version"], "name": c["name"]},
            "train": {"training": c["training"]},
            "eval": {"eval": c["eval"], "model_repo": c["publish"]["model_repo"]},
            "publish": {"publish": c["publish"], "version": c["version"]},
        }[stage]

    def outputs(self, stage: str) -> list[Path]:
        from rankladder.dataset_builder.schema import JUDGEMENTS

        judged = [self.run_dir / JUDGEMENTS] if self.config["judge"]["enabled"] else []
        return {
            "generate": [self.run_dir],
            "judge": judged,
            "build": [self.dataset_dir],
            "train": [self.model_dir],
            "eval": [self.eval_dir],
            "publish": [self.release_dir],
        }[stage]

    def record_path(self, stage: str) -> Path:
        return self.stage_dir / f"{stage}.json"

    def read_record(self, stage: str) -> dict | None:
        path = self.record_path(stage)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def say(self, text: str) -> None:
        if self.progress:
            print(f"[rankladder] {text}", flush=True)

    # -- the run -----------------------------------------------------------------------------------
    def run(self) -> dict:
        self.stage_dir.mkdir(parents=True, exist_ok=True)
        upstream, records = "", {}
        for stage in STAGES:
            config_hash = sha256_json({"stage": stage, "config": self.stage_config(stage), "upstream": upstream})[:16]
            record = self.read_record(stage)
            if record and record["config_hash"] == config_hash and all(p.exists() for p in self.outputs(stage)):
                self.say(f"{stage}: up to date (config {config_hash}), skipped")
            else:
                if record:  # stale: this stage and everything after it run again
                    for later in STAGES[STAGES.index(stage) :]:
                        self.record_path(later).unlink(missing_ok=True)
                    if stage == "generate" and self.run_dir.exists():
                        shutil.rmtree(self.run_dir)
                    if stage == "judge":  # judgements of another judge config are not resumable
                        self._remove_judgements()
                self.say(f"{stage}: running")
                started = time.time()
                details = getattr(self, f"_{stage}")() or {}
                record = {
                    "stage": stage,
                    "config_hash": config_hash,
                    "upstream": upstream,
                    "finished": utc_now(),
                    "seconds": round(time.time() - started, 1),
                    "outputs": {str(p): hash_tree(p)[:16] for p in self.outputs(stage)},
                    **details,
                }
                write_json_atomic(self.record_path(stage), record)
                self.say(f"{stage}: done in {record['seconds']} s")
            records[stage] = record
            upstream = sha256_json([config_hash, record["outputs"]])[:16]
        return self._release_manifest(records)

    def _generate(self) -> dict:
        from rankladder.dataset_builder.config import GenerateConfig
        from rankladder.dataset_builder.stages import run_generate

        config = GenerateConfig(**self.config["generation"])
        manifest = run_generate(config, self.run_dir, progress=self.progress)
        return {"counts": manifest["counts"]}

    def _remove_judgements(self) -> None:
        from rankladder.dataset_builder.schema import JUDGE_MANIFEST, JUDGEMENTS

        shutil.rmtree(self.run_dir / JUDGEMENTS, ignore_errors=True)
        for path in self.run_dir.glob(JUDGE_MANIFEST):
            path.unlink()

    def _judge(self) -> dict:
        from rankladder.dataset_builder.config import JudgeConfig
        from rankladder.dataset_builder.stages import run_judge

        j = dict(self.config["judge"])
        if not j.pop("enabled"):
            self._remove_judgements()
            return {"enabled": False}
        ((_, manifest),) = run_judge(JudgeConfig(**j), [self.run_dir], progress=self.progress)
        return {"enabled": True, "counts": manifest["counts"]}

    def _build(self) -> dict:
        from rankladder.dataset_builder.build import build_dataset
        from rankladder.dataset_builder.config import BuildConfig

        b = self.config["build"]
        manifest = build_dataset(
            [self.run_dir],
            self.dataset_dir,
            self.config["version"],
            BuildConfig(**b),
            name=self.config["name"],
            overwrite=True,
        )
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
        from rankladder.training.trainer import run_training

        options = {k: v for k, v in self.config["training"].items() if v is not None}
        # the stage's own earlier output (or an interrupted run's checkpoints) is replaced once the new
        # model is complete: a changed config must not resume from the old steps
        options.update(data=str(self.dataset_dir), out=str(self.model_dir), overwrite=True)
        run_training(options)
        manifest = json.loads((self.model_dir / "rankladder_train_manifest.json").read_text(encoding="utf-8"))
        return {"final_metrics": manifest.get("final_metrics", {})}

    def _eval(self) -> dict:
        from rankladder.eval.run import EvalConfig, run_eval
        from rankladder.training.trainer import default_base_model

        e = self.config["eval"]
        base = self.config["training"].get("model") or default_base_model()
        models, names = [str(self.model_dir)], [self.config["publish"]["model_repo"]]
        if e["include_base"]:
            models.insert(0, base)
            names.insert(0, BASE_MODEL_NAME if not self.config["training"].get("model") else "")
        summary = run_eval(
            EvalConfig(
                models=models,
                names=names,
                tasks=[str(self.dataset_dir), *e["tasks"]],
                output_dir=str(self.eval_dir),
                split=e["split"],
                bm25=e["bm25"],
                batch_size=e["batch_size"],
                overwrite=True,
            )
        )
        return {"mean": summary.get("mean", {})}

    def _publish(self) -> dict:
        from rankladder.model_cards.publish import (
            publish_dataset,
            publish_model,
            publish_results,
        )

        p, version = self.config["publish"], self.config["version"]
        dry = p["dry_run"]
        # OUT/release/* are this pipeline's own folders: a re-run replaces them (atomically, once complete)
        common = {
            "dry_run": dry,
            "force": p["force"],
            "private": p["private"],
            "license": p["license"],
            "overwrite": True,
        }
        self.release_dir.mkdir(parents=True, exist_ok=True)
        publish_dataset(
            self.dataset_dir,
            p["dataset_repo"],
            version,
            output=self.release_dir / "dataset",
            trained_models=[p["model_repo"]],
            **common,
        )
        publish_model(
            self.model_dir,
            p["model_repo"],
            version,
            dataset_repo=p["dataset_repo"],
            results_dir=self.eval_dir,
            output=self.release_dir / "model",
            **common,
        )
        publish_results(
            self.eval_dir,
            p["model_repo"],
            dry_run=dry,
            model=p["model_repo"],
            bundle_dir=self.release_dir / "leaderboard",
            output=self.release_dir / "results",
            overwrite=True,
        )
        return {"dry_run": dry, "dataset_repo": p["dataset_repo"], "model_repo": p["model_repo"], "tag": f"v{version}"}

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
