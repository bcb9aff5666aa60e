"""Running the loss study: generate + build, train every setting × seed, evaluate, report (resumable).

See ``rankladder/study.py`` for the steps and the verdict rule.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json, write_json_atomic, write_text_atomic
from rankladder.core.manifest import utc_now
from rankladder.release import DEFAULTS as RELEASE_DEFAULTS
from rankladder.release import _merge
from rankladder.study_config import BASE, REAL_QUERIES, sources_for
from rankladder.study_real import RealSource, prepare_real
from rankladder.study_report import build_report, jsonable, plot, to_markdown

STEP_FILE = "study_step.json"


class Study:
    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        from rankladder.pipeline import Pipeline

        self.config, self.out, self.progress = config, Path(out), progress
        generation = dict(config["generation"])
        if generation["queries"] == REAL_QUERIES:  # generate for the real train half's queries (no test leak)
            generation.update(
                queries=str(self.out / "real" / f"{Path(config['real']['beir']).name}-train"),
                queries_format="beir",
                qrels_split="train",
            )
        release = _merge(
            RELEASE_DEFAULTS,
            {
                "name": config["name"],
                "version": config["version"],
                "generation": generation,
                "judge": config["judge"],
                "build": {k: config["build"][k] for k in ("dev_fraction", "seed")},
            },
            "study",
        )
        self.pipeline = Pipeline(release, self.out, progress=progress)  # OUT/run, OUT/dataset
        self.run_dir, self.dataset_dir = self.pipeline.run_dir, self.pipeline.dataset_dir
        if config.get("dataset"):
            self.dataset_dir = Path(config["dataset"])
            if not (self.dataset_dir / "rankladder_manifest.json").is_file():
                raise UserError(f"dataset: {self.dataset_dir}: not a built DATASET_DIR (no rankladder_manifest.json)")
        self.models_dir, self.eval_dir = self.out / "models", self.out / "eval"
        self._base = None
        self.real = RealSource()
        self.steps_run = 0  # generate/build/train/eval steps that did work in this run

    def say(self, text: str) -> None:
        if self.progress:
            print(f"[study] {text}", flush=True)

    @property
    def base_model(self) -> str:
        if self._base is None:
            from rankladder.training.trainer import default_base_model

            self._base = self.config["base_model"] or default_base_model()
        return self._base

    # -- steps -------------------------------------------------------------------------------------
    def _done(self, folder: Path, key: str, required: str) -> bool:
        step = folder / STEP_FILE
        return (
            (folder / required).exists()
            and step.is_file()
            and json.loads(step.read_text(encoding="utf-8")).get("key") == key
        )

    def _mark(self, folder: Path, key: str, **extra) -> None:
        write_json_atomic(folder / STEP_FILE, {"key": key, "finished": utc_now(), **extra})

    def generate_and_build(self) -> dict:
        started = time.time()
        if self.config.get("dataset"):
            self.say(f"dataset: {self.dataset_dir} (given; generation and build skipped)")
            return {"seconds": 0.0}
        self.say("generate: running (resumes finished documents)")
        counts = self.pipeline._generate().get("counts", {}).get("this_run", {})
        self.steps_run += bool(counts.get("accepted") or counts.get("rejected"))
        if self.config["judge"]["enabled"]:
            self.say("judge: running (resumes judged documents)")
        judged = self.pipeline._judge().get("counts", {}).get("this_run", {})
        self.steps_run += bool(sum(judged.values()) if isinstance(judged, dict) else judged)
        from rankladder.dataset_builder.build import build_dataset
        from rankladder.dataset_builder.config import BuildConfig

        b = self.config["build"]
        key = sha256_json(
            {
                "build": b,
                "runs": _run_digest(self.run_dir),
                "judge": _judge_digest(self.run_dir),
                "base": self.config["base_model"],
                "name": self.config["name"],
                "version": self.config["version"],
            }
        )[:16]
        if self._done(self.dataset_dir, key, "rankladder_manifest.json"):
            self.say("build: up to date, skipped")
        else:
            self.say("build: running")
            self.steps_run += 1
            sep_model = (self.config["base_model"] or True) if b.get("separability", True) else None
            select = b.get("select_by_similarity")
            if select is True:  # the model the study fine-tunes
                select = self.config["base_model"] or True
            build_dataset(
                [self.run_dir],
                self.dataset_dir,
                self.config["version"],
                BuildConfig(
                    dev_fraction=b["dev_fraction"], seed=b["seed"], separability=sep_model, select_by_similarity=select
                ),
                name=self.config["name"],
                overwrite=True,
            )
            self._mark(self.dataset_dir, key)
        return {"seconds": round(time.time() - started, 1)}

    def separability(self) -> dict:
        """Separability of a dataset built without it, computed once (``OUT/separability.json``)."""
        from rankladder.dataset_builder.separability import dataset_separability

        path = self.out / "separability.json"
        key = sha256_json([self.dataset_hash(), self.config["base_model"]])[:16]
        if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("key") == key:
            return json.loads(path.read_text(encoding="utf-8"))["separability"]
        self.say("separability of the dataset's levels: computing")
        sep = dataset_separability(self.dataset_dir, self.config["base_model"])
        write_json_atomic(path, {"key": key, "separability": sep})
        return sep

    def dataset_hash(self) -> str:
        return json.loads((self.dataset_dir / "rankladder_manifest.json").read_text(encoding="utf-8"))["content_hash"]

    def train_options(self, setting: dict, seed: int, output_dir: Path) -> dict:
        options = {k: v for k, v in self.config["training"].items() if v is not None}
        options.update(setting["options"])
        options.update(
            loss=setting["loss"],
            group_size=setting["group_size"],
            group_strategy=setting["group_strategy"],
            seed=seed,
            data=str(self.dataset_dir),
            out=str(output_dir),
        )
        if self.config["base_model"]:
            options["model"] = self.config["base_model"]
        sources = sources_for(setting, str(self.dataset_dir), self.real.lists)
        if sources:
            options["sources"] = sources
        return options

    def real_hash(self, setting: dict) -> str | None:
        if setting["labels"] not in ("real-binary", "synth+real") or not self.real.lists:
            return None
        manifest = Path(self.real.lists) / "rankladder_manifest.json"
        return json.loads(manifest.read_text(encoding="utf-8"))["content_hash"]

    def train(self, setting: dict, seed: int) -> Path:
        from rankladder.training.trainer import run_training

        folder = self.models_dir / f"{setting['name']}-seed{seed}"
        probe = self.train_options(setting, seed, Path("MODEL"))
        key = sha256_json({"options": probe, "dataset": self.dataset_hash(), "real": self.real_hash(setting)})[:16]
        if self._done(folder, key, "rankladder_train_manifest.json"):
            self.say(f"train {folder.name}: up to date, skipped")
            return folder
        if folder.exists():
            shutil.rmtree(folder)
        self.say(f"train {folder.name}: running")
        self.steps_run += 1
        started = time.time()
        run_training(self.train_options(setting, seed, folder))
        self._mark(folder, key, seconds=round(time.time() - started, 1))
        return folder

    def tasks(self) -> list[str]:
        e = self.config["eval"]
        tasks = [str(self.dataset_dir)] if e["dev"] else []
        tasks += self.real.eval_collections  # the held-out half of the real collection
        for path in e["collections"]:
            if not Path(path).is_dir() and not (isinstance(path, str) and path.count("/") == 1):
                raise UserError(f"eval.collections: {path}: collection folder not found")
            tasks.append(str(path))
        if not tasks:
            raise UserError("eval: no collection and dev: false — nothing to evaluate on")
        return tasks

    def evaluate(self, name: str, model_path: str) -> dict:
        from rankladder.eval.run import EvalConfig, run_eval
        from rankladder.training.trainer import load_base_model

        folder = self.eval_dir / name
        e = self.config["eval"]
        model_key = (
            json.loads((Path(model_path) / STEP_FILE).read_text(encoding="utf-8"))["key"]
            if (Path(model_path) / STEP_FILE).is_file()
            else model_path
        )
        key = sha256_json({"eval": e, "tasks": self.tasks(), "model": model_key, "dataset": self.dataset_hash()})[:16]
        if self._done(folder, key, "summary.json"):
            self.say(f"eval {name}: up to date, skipped")
        else:
            self.say(f"eval {name}: running")
            self.steps_run += 1
            st = load_base_model(model_path, e["max_seq_length"])
            run_eval(
                EvalConfig(
                    models=[model_path],
                    names=[f"study/{name}"],
                    tasks=self.tasks(),
                    output_dir=str(folder),
                    bm25=False,
                    batch_size=e["batch_size"],
                    overwrite=True,
                ),
                st_models={model_path: st},
            )
            self._mark(folder, key)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        model = f"study/{name}"
        dev_name = Path(self.dataset_dir).name
        scores = {
            ("dev" if task == dev_name else task): v.get("ndcg_at_10")
            for task, v in summary["scores"].get(model, {}).items()
        }
        level = summary.get("level_order", {}).get(model, {}).get(dev_name, {})
        return {
            "ndcg_at_10": scores,
            "dev_kendall_tau": level.get("mean_kendall_tau"),
            "dev_level_ndcg": level.get("mean_ndcg"),
        }

    # -- the whole study ---------------------------------------------------------------------------
    def run(self) -> dict:
        started = time.time()
        self.out.mkdir(parents=True, exist_ok=True)
        self.real = prepare_real(self.config, self.out, self.say, self.progress)
        timings = {"generate_build": self.generate_and_build()["seconds"]}
        stats = json.loads((self.dataset_dir / "stats.json").read_text(encoding="utf-8"))
        if not stats.get("separability"):
            stats["separability"] = self.separability()
        t0 = time.time()
        models: dict[str, dict] = {}
        for setting in self.config["settings"]:
            for seed in self.config["seeds"]:
                folder = self.train(setting, seed)
                manifest = json.loads((folder / "rankladder_train_manifest.json").read_text(encoding="utf-8"))
                models[folder.name] = {
                    "setting": setting["name"],
                    "seed": seed,
                    "path": str(folder),
                    "final_metrics": manifest.get("final_metrics", {}),
                    "train_log": manifest.get("train_log", []),
                }
        timings["train"] = round(time.time() - t0, 1)
        t0 = time.time()
        base_eval = self.evaluate(BASE, self.base_model)
        for name, info in models.items():
            info["eval"] = self.evaluate(name, info["path"])
        timings["eval"] = round(time.time() - t0, 1)
        report = self.report(models, base_eval, stats)
        timings["total_this_run"] = round(time.time() - started, 1)
        previous = self.out / "study.json"
        if not self.steps_run and previous.is_file():  # a re-render: keep the timings of the run that did the work
            timings = json.loads(previous.read_text(encoding="utf-8")).get("timings_s", timings)
        report["timings_s"] = timings
        if self.real.lists:
            mined = json.loads((Path(self.real.lists) / "rankladder_manifest.json").read_text(encoding="utf-8"))
            report["real"] = {
                "lists": self.real.lists,
                "eval_collections": self.real.eval_collections,
                "split": self.real.split_counts,
                "mined": {k: mined.get(k) for k in ("source", "model", "parameters", "counts", "content_hash")},
            }
        write_json_atomic(self.out / "study.json", jsonable(report))
        write_text_atomic(self.out / "study.md", to_markdown(report))
        plot(report, self.out / "study.png")
        self.say(f"done: {self.out / 'study.md'}")
        return report

    def report(self, models: dict, base_eval: dict, stats: dict) -> dict:
        from rankladder.training.base_model import base_model_identity

        # the report names the base model by its Hub id, never the site-packages path it was loaded from
        base_id = base_model_identity(self.base_model)["id"]
        return build_report(self.config, models, base_eval, stats, str(self.dataset_dir), self.dataset_hash(), base_id)


def _run_digest(run_dir: Path) -> list:
    """What identifies the generated records: each shard manifest's config hash and record count."""
    from rankladder.dataset_builder.runfiles import manifests

    out = []
    for path in manifests(run_dir):
        m = json.loads(path.read_text(encoding="utf-8"))
        out.append([path.name, m.get("config_hash"), m.get("status"), m.get("counts", {}).get("records_all_runs")])
    return out


def _judge_digest(run_dir: Path) -> list:
    """What identifies the judgements: each judge manifest's config hash and counts."""
    from rankladder.dataset_builder.schema import JUDGE_MANIFEST

    out = []
    for path in sorted(run_dir.glob(JUDGE_MANIFEST)):
        m = json.loads(path.read_text(encoding="utf-8"))
        out.append([path.name, m.get("config_hash"), m.get("status"), m.get("counts")])
    return out


def run_study(config: dict, out: str | Path, progress: bool = True) -> dict:
    return Study(config, out, progress).run()
