"""Running the loss study: generate + build, train every setting × seed, evaluate, report (resumable).

See ``rankladder/study.py`` for the steps and the verdict rule. The steps run on the one step runner
(``rankladder/steps.py``) and call the stages through the Python API (``rankladder/api.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

from rankladder import api
from rankladder.core.errors import UserError
from rankladder.core.fsutil import write_json_atomic, write_text_atomic
from rankladder.core.locks import holds_output
from rankladder.pipeline import generate_step, judge_step
from rankladder.steps import Runner, Step
from rankladder.study_config import BASE, REAL_QUERIES, sources_for
from rankladder.study_real import plan_real, split_counts
from rankladder.study_report import build_report, jsonable, plot, to_markdown

SEPARABILITY = "separability.json"


class Study:
    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        self.config, self.out, self.progress = config, Path(out), progress
        self.run_dir, self.dataset_dir = self.out / "run", self.out / "dataset"
        self.given_dataset = bool(config.get("dataset"))
        if self.given_dataset:
            self.dataset_dir = Path(config["dataset"])
            if not (self.dataset_dir / "rankladder_manifest.json").is_file():
                raise UserError(f"dataset: {self.dataset_dir}: not a built DATASET_DIR (no rankladder_manifest.json)")
        self.models_dir, self.eval_dir = self.out / "models", self.out / "eval"
        self.real, self.real_steps = plan_real(config, self.out, progress)
        self._base = None

    @property
    def base_model(self) -> str:
        if self._base is None:
            from rankladder.training.trainer import default_base_model

            self._base = self.config["base_model"] or default_base_model()
        return self._base

    # -- the steps ---------------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        steps = list(self.real_steps)
        if self.given_dataset:  # an existing dataset: its content is an input of every step reading it
            data = {"inputs": [self.dataset_dir]}
        else:
            steps += self.dataset_steps()
            data = {"needs": ["build"]}
        if self.needs_separability():
            steps.append(
                Step("separability", self.separability, self.config["base_model"], [self.out / SEPARABILITY], **data)
            )
        trained = []
        for setting in self.config["settings"]:
            for seed in self.config["seeds"]:
                step = self.train_step(setting, seed, data)
                steps.append(step)
                trained.append(step)
        steps.append(self.eval_step(BASE, self.base_model, [], data))
        steps += [self.eval_step(t.outputs[0].name, str(t.outputs[0]), [t.name], data) for t in trained]
        return steps

    def dataset_steps(self) -> list[Step]:
        generation = dict(self.config["generation"])
        from_real = generation["queries"] == REAL_QUERIES
        if from_real:  # generate for the real train half's queries (no test leak)
            generation.update(queries=self.real.train_folder, queries_format="beir", qrels_split="train")
        generate = generate_step(self.run_dir, generation, self.progress)
        generate.needs = ["real-split"] if from_real else []
        b = self.config["build"]
        config = {"build": b, "base": self.config["base_model"], "name": self.config["name"]}
        build = Step("build", self.build, {**config, "version": self.config["version"]}, [self.dataset_dir])
        build.needs = ["judge"]
        return [generate, judge_step(self.run_dir, self.config["judge"], self.progress), build]

    def build(self) -> None:
        b = self.config["build"]
        separability = (self.config["base_model"] or True) if b.get("separability", True) else None
        select = b.get("select_by_similarity")
        if select is True:  # the model the study fine-tunes
            select = self.config["base_model"] or True
        api.build(
            self.run_dir,
            self.dataset_dir,
            self.config["version"],
            overwrite=True,
            name=self.config["name"],
            separability=separability,
            dev_fraction=b["dev_fraction"],
            seed=b["seed"],
            select_by_similarity=select,
        )

    def needs_separability(self) -> bool:
        """A dataset built without the separability of its levels (given, or ``build.separability: false``)."""
        if not self.given_dataset:
            return not self.config["build"].get("separability", True)
        stats = self.dataset_dir / "stats.json"
        return not (stats.is_file() and json.loads(stats.read_text(encoding="utf-8")).get("separability"))

    def separability(self) -> None:
        from rankladder.dataset_builder.separability import dataset_separability

        sep = dataset_separability(self.dataset_dir, self.config["base_model"])
        write_json_atomic(self.out / SEPARABILITY, {"separability": sep})

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

    def train_step(self, setting: dict, seed: int, data: dict) -> Step:
        folder = self.models_dir / f"{setting['name']}-seed{seed}"
        options = self.train_options(setting, seed, folder)
        needs, inputs = list(data.get("needs", [])), list(data.get("inputs", []))
        if setting["labels"] in ("real-binary", "synth+real"):  # reads the real lists too
            if self.real_steps:
                needs.append("mine")
            else:
                inputs.append(Path(self.real.lists))

        def train() -> None:
            # a changed setting replaces the model once the new one is complete; never resumes the old steps
            api.train(folder, **{k: v for k, v in options.items() if k != "out"}, overwrite=True)

        config = self.train_options(setting, seed, Path("MODEL"))  # the folder's name is the step's name
        return Step(f"train-{folder.name}", train, config, [folder], needs=needs, inputs=inputs)

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

    def eval_step(self, name: str, model_path: str, needs: list[str], data: dict) -> Step:
        e, tasks, folder = self.config["eval"], self.tasks(), self.eval_dir / name
        needs = needs + list(data.get("needs", [])) + (["real-split"] if self.real.eval_collections else [])

        def evaluate() -> None:
            options = {"names": [f"study/{name}"], "bm25": False, "batch_size": e["batch_size"]}
            api.evaluate([model_path], tasks, folder, overwrite=True, max_seq_length=e["max_seq_length"], **options)

        config = {"eval": e, "tasks": tasks, "model": model_path}
        return Step(f"eval-{name}", evaluate, config, [folder], needs=needs, inputs=data.get("inputs", []))

    def scores(self, name: str) -> dict:
        summary = json.loads((self.eval_dir / name / "summary.json").read_text(encoding="utf-8"))
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
        records = Runner(self.out, "study", self.progress, prefix="study").run(self.steps())
        stats = json.loads((self.dataset_dir / "stats.json").read_text(encoding="utf-8"))
        if not stats.get("separability"):
            stats["separability"] = json.loads((self.out / SEPARABILITY).read_text(encoding="utf-8"))["separability"]
        models: dict[str, dict] = {}
        for setting in self.config["settings"]:
            for seed in self.config["seeds"]:
                folder = self.models_dir / f"{setting['name']}-seed{seed}"
                manifest = json.loads((folder / "rankladder_train_manifest.json").read_text(encoding="utf-8"))
                models[folder.name] = {
                    "setting": setting["name"],
                    "seed": seed,
                    "path": str(folder),
                    "final_metrics": manifest.get("final_metrics", {}),
                    "train_log": manifest.get("train_log", []),
                    "eval": self.scores(folder.name),
                }
        report = self.report(models, self.scores(BASE), stats)
        report["timings_s"] = timings(records)
        if self.real.lists:
            mined = json.loads((Path(self.real.lists) / "rankladder_manifest.json").read_text(encoding="utf-8"))
            report["real"] = {
                "lists": self.real.lists,
                "eval_collections": self.real.eval_collections,
                "split": split_counts(self.out),
                "mined": {k: mined.get(k) for k in ("source", "model", "parameters", "counts", "content_hash")},
            }
        write_json_atomic(self.out / "study.json", jsonable(report))
        write_text_atomic(self.out / "study.md", to_markdown(report))
        plot(report, self.out / "study.png")
        if self.progress:
            print(f"[study] done: {self.out / 'study.md'}", flush=True)
        return report

    def report(self, models: dict, base_eval: dict, stats: dict) -> dict:
        from rankladder.training.base_model import base_model_identity

        # the report names the base model by its Hub id, never the site-packages path it was loaded from
        base_id = base_model_identity(self.base_model)["id"]
        manifest = json.loads((self.dataset_dir / "rankladder_manifest.json").read_text(encoding="utf-8"))
        dataset_hash = manifest["content_hash"]
        return build_report(self.config, models, base_eval, stats, str(self.dataset_dir), dataset_hash, base_id)


def timings(records: dict[str, dict]) -> dict[str, float]:
    """Seconds of the run that computed each step's output (a skipped step keeps its own), by kind."""
    kinds = {"generate_build": 0.0, "train": 0.0, "eval": 0.0}
    for name, record in records.items():
        kind = name.split("-", 1)[0]
        kind = kind if kind in ("train", "eval") else "generate_build"
        kinds[kind] = round(kinds[kind] + record.get("seconds", 0.0), 1)
    return {**kinds, "total": round(sum(kinds.values()), 1)}


@holds_output("out")  # one writer per study folder: a second `study --out OUT` is refused before any work
def run_study(config: dict, out: str | Path, progress: bool = True) -> dict:
    return Study(config, out, progress).run()
