"""The loss study's report: paired-difference verdicts, ``study.json`` content, ``study.md`` and ``study.png``."""

from __future__ import annotations

import json
import math
from pathlib import Path

from rankladder.core.fsutil import sha256_json
from rankladder.core.manifest import tool_versions, utc_now
from rankladder.study_config import REFERENCE


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


def build_report(
    config: dict, models: dict, base_eval: dict, stats: dict, dataset_path: str, dataset_hash: str, base_model: str
) -> dict:
    """study.json's content: per-setting mean ± std, paired per-seed differences with verdicts, grad norms."""
    settings = [s["name"] for s in config["settings"]]
    seeds = config["seeds"]
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
    clip = config["training"].get("max_grad_norm", 1.0)
    for s in settings:
        names = [f"{s}-seed{k}" for k in seeds]
        table[s] = {t: _mean_std([score(n, t) for n in names]) for t in columns}
        table[s]["dev_kendall_tau"] = _mean_std([models[n]["eval"]["dev_kendall_tau"] for n in names])
        diffs[s] = {"vs_base": {t: verdict_stats([score(n, t) - base_scores[t] for n in names]) for t in columns}}
        if REFERENCE in settings and s != REFERENCE:
            diffs[s]["vs_infonce"] = {
                t: verdict_stats([score(n, t) - score(f"{REFERENCE}-seed{k}", t) for n, k in zip(names, seeds)])
                for t in columns
            }
        grad[s] = _mean_std([models[n]["final_metrics"].get("grad_norm_mean") for n in names])
        grad[s]["first"] = _mean_std([models[n]["final_metrics"].get("grad_norm_first") for n in names])["mean"]
        norms = [
            e["grad_norm"] for n in names for e in models[n].get("train_log", []) if e.get("grad_norm") is not None
        ]
        grad[s]["clipped_fraction"] = (sum(g > clip for g in norms) / len(norms)) if norms else None
    ref = grad.get(REFERENCE, {}).get("mean")
    for s in settings:
        grad[s]["ratio_to_infonce"] = (grad[s]["mean"] / ref) if ref and grad[s]["mean"] else None
    return {
        "kind": "rankladder-study",
        "name": config["name"],
        "created": utc_now(),
        "config": config,
        "config_hash": sha256_json(config)[:16],
        "dataset": {
            "path": dataset_path,
            "content_hash": dataset_hash,
            "counts": stats.get("counts", {}),
            "separability": stats.get("separability"),
            "selection": stats.get("selection"),
            "labels": stats.get("labels"),  # intended × judged agreement, when the run was judged
        },
        "base_model": base_model,
        "seeds": seeds,
        "settings": settings,
        "tasks": columns,
        "metric": "ndcg_at_10",
        "rule": "beats X beyond seed noise when the mean paired per-seed difference > 2·std/sqrt(n); "
        "loses when < −2·std/sqrt(n); else within seed noise",
        "base": {**base_eval, "ndcg_at_10": base_scores},
        "table": table,
        "paired": diffs,
        "grad_norm": grad,
        "models": models,
        "tool_versions": tool_versions(),
    }


def _f(value, scale: float = 100.0, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{scale * value:.{digits}f}"


def _ms(cell: dict) -> str:
    return f"{_f(cell['mean'])} ± {_f(cell['std'])}" if cell.get("mean") is not None else "–"


def _real_lines(real: dict | None) -> list[str]:
    if not real:
        return []
    mined, split = real["mined"], real.get("split") or {}
    p, c = mined["parameters"], mined["counts"]
    held = (
        f" Its judged queries were split (seeded) into {split['train_queries']} train and "
        f"{split['test_queries']} test queries; the test half is evaluated as "
        f"`{', '.join(Path(e).name for e in real['eval_collections'])}`."
        if split
        else ""
    )
    return [
        f"Real training source (`real-*` / `synth+real` settings): `{mined['source']['folder']}` "
        f"({mined['source']['split']} split), {c['negatives']} negatives mined for {c['queries']} queries with "
        f"`{p['method']}`{' (' + str(mined['model']) + ')' if mined.get('model') else ''}, "
        f"{p['negatives_per_query']} per query ({p['sampling']} of positions "
        f"[{p['range_min']}, {p['range_max'] if p['range_max'] is not None else 'K'})).{held}",
        "",
    ]


def to_markdown(report: dict) -> str:
    from rankladder.dataset_builder.separability import to_markdown as sep_md

    cols, settings = report["tasks"], report["settings"]
    n = len(report["seeds"])
    lines = [
        f"# Loss study: {report['name']}",
        "",
        f"Base model `{report['base_model']}`; {len(settings)} settings × {n} seeds "
        f"({', '.join(map(str, report['seeds']))}) on one synthetic dataset "
        f"(`{report['dataset']['path']}`, {report['dataset']['counts'].get('queries', '?')} queries, "
        f"content hash `{report['dataset']['content_hash'][:16]}`).",
        "",
        *_real_lines(report.get("real")),
        "## nDCG@10 (×100, mean ± std over seeds)",
        "",
        "`dev` = the in-domain held-out split of the synthetic dataset (graded qrels); `mean` = mean over "
        "the real collections.",
        "",
        "| model | " + " | ".join(cols) + " | dev Kendall τ |",
        "|---|" + "---:|" * (len(cols) + 1),
    ]
    base = report["base"]
    lines.append(
        "| base | "
        + " | ".join(_f(base["ndcg_at_10"].get(c)) for c in cols)
        + f" | {_f(base.get('dev_kendall_tau'), 1, 3)} |"
    )
    for s in settings:
        row = report["table"][s]
        tau = row["dev_kendall_tau"]
        tau_s = f"{_f(tau['mean'], 1, 3)} ± {_f(tau['std'], 1, 3)}" if tau["mean"] is not None else "–"
        lines.append(f"| {s} | " + " | ".join(_ms(row[c]) for c in cols) + f" | {tau_s} |")
    lines += [
        "",
        "## Paired differences (×100, per seed, mean ± std) and verdicts",
        "",
        f"Rule: {report['rule']} (n = {n}; p = one-sample t-test).",
        "",
    ]
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
                cells.append(
                    f"{_f(d['mean'])} ± {_f(d['std'])} **{d['verdict']}**{p}" if d["mean"] is not None else "–"
                )
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
                text = (
                    f"{word} {label} beyond seed noise"
                    if word
                    else f"does not differ from {label} beyond seed noise ({d['verdict']})"
                )
                parts.append(f"{text} (Δ = {_f(d['mean'])} ± {_f(d['std'])})")
        if parts:
            lines.append(f"- **{s}** " + "; ".join(parts) + ".")
    lines += [
        "",
        "## Gradient norm (total norm before clipping, mean over logged steps and seeds)",
        "",
        "| setting | loss | grad norm | first step | ratio to infonce | steps clipped |",
        "|---|---|---:|---:|---:|---:|",
    ]
    by_name = {s["name"]: s for s in report["config"]["settings"]}
    for s in settings:
        g = report["grad_norm"][s]
        opts = by_name[s]["options"]
        loss = by_name[s]["loss"] + (f" (loss_scale {opts['loss_scale']})" if "loss_scale" in opts else "")
        clipped = f"{100 * g['clipped_fraction']:.0f}%" if g.get("clipped_fraction") is not None else "–"
        lines.append(
            f"| {s} | {loss} | {_f(g['mean'], 1, 4)} | {_f(g['first'], 1, 4)} | "
            f"{_f(g['ratio_to_infonce'], 1, 2)} | {clipped} |"
        )
    clip = report["config"]["training"].get("max_grad_norm", 1.0)
    lines += [
        "",
        f"Gradients are clipped at max_grad_norm = {clip} before the AdamW step. AdamW divides each "
        "update by a running estimate of the gradient's size, so multiplying a loss by a constant "
        "(`loss_scale`) leaves its updates almost unchanged (only clipping and Adam's epsilon see the "
        "scale): this column tells whether clipping was active, not how far a loss moved the model.",
        "",
    ]
    sep = report["dataset"].get("separability")
    if sep:
        lines += ["## Separability of the generated levels (base model)", "", sep_md(sep)]
    labels = report["dataset"].get("labels")
    if labels:
        from rankladder.dataset_builder.agreement import to_markdown as agreement_md

        policies = {s["name"]: s.get("label_policy") or "as built" for s in report["config"]["settings"]}
        lines += [
            "",
            "## Intended vs judged relevance (the synthetic dataset)",
            "",
            agreement_md(labels),
            "",
            "Label policy per setting: " + ", ".join(f"`{n}` {p}" for n, p in policies.items()) + ".",
        ]
    sel = report["dataset"].get("selection")
    if sel and sel.get("applied"):
        from rankladder.dataset_builder.selection import to_markdown as selection_md

        lines += ["", "**Selection.** " + selection_md(sel)]
    t = report.get("timings_s", {})
    if t:
        lines += ["", f"Timings (the run that computed these results, s): {json.dumps(t)}"]
    return "\n".join(lines) + "\n"


def plot_numbers(report: dict) -> dict:
    """What ``study.png`` draws (its sidecar ``study.png.json``): nDCG@10 ×100 per setting (mean and std over
    seeds), settings sorted by their mean score, and the paired Δ (×100, ±2·SE over seeds) on the key column."""
    cols, settings = report["tasks"], report["settings"]
    key = "mean" if "mean" in cols else cols[0]

    def x100(value):
        return None if value is None or (isinstance(value, float) and math.isnan(value)) else round(100 * value, 4)

    order = sorted(
        settings,
        key=lambda s: -(report["table"][s][key]["mean"] if report["table"][s][key]["mean"] is not None else -1),
    )
    series = [{"name": "base", "role": "base", "values": [x100(report["base"]["ndcg_at_10"].get(c)) for c in cols]}]
    series += [
        {
            "name": s,
            "role": "setting",
            "values": [x100(report["table"][s][c]["mean"]) for c in cols],
            "std": [x100(report["table"][s][c]["std"]) for c in cols],
            "n_seeds": report["table"][s][key]["n"],
        }
        for s in order
    ]
    deltas = []
    for s in order:
        for against in ("vs_base", "vs_infonce"):
            d = report["paired"][s].get(against, {}).get(key)
            if d and d["mean"] is not None:
                deltas.append(
                    {
                        "label": f"{s} − {'base' if against == 'vs_base' else REFERENCE}",
                        "against": against,
                        "delta": x100(d["mean"]),
                        "two_se": x100(2 * d["se"]) if d["se"] is not None else None,
                        "n_seeds": d["n"],
                        "verdict": d["verdict"],
                    }
                )
    return {
        "title": f"Loss study '{report['name']}': nDCG@10 ×100, {len(report['seeds'])} seed(s)",
        "metric": "ndcg_at_10",
        "scale": 100,
        "columns": cols,
        "key_column": key,
        "series": series,
        "deltas": deltas,
    }


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from rankladder.eval.plots import BASE_COLOR, draw_deltas, save_png_atomic

    numbers = plot_numbers(report)
    cols, series = numbers["columns"], numbers["series"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained")
    width = 0.8 / len(series)
    x = np.arange(len(cols))
    for i, row in enumerate(series):
        values = [np.nan if v is None else v for v in row["values"]]
        std = [0 if v is None else v for v in row.get("std", [])] or None
        left.bar(
            x - 0.4 + width * (i + 0.5),
            values,
            width,
            yerr=std,
            capsize=2 if std else 0,
            label=row["name"],
            color=BASE_COLOR if row["role"] == "base" else None,
        )
    left.set_xticks(x, cols, fontsize=8)
    left.set_xlabel("evaluation set")
    left.set_ylabel("nDCG@10 ×100 (mean ± std over seeds)")
    left.set_ylim(0, 100)
    left.set_title("score per setting, best first", fontsize=9)
    left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    deltas = numbers["deltas"]
    errors = [d["two_se"] or 0 for d in deltas]
    draw_deltas(
        right,
        [d["label"] for d in deltas],
        [np.nan if d["delta"] is None else d["delta"] for d in deltas],
        f"paired Δ nDCG@10 ×100 on '{numbers['key_column']}' (bars: ±2·SE over seeds)",
        "paired Δ, mean over seeds",
        errors=errors if any(errors) else None,
    )
    fig.suptitle(numbers["title"], fontsize=11)
    save_png_atomic(fig, path, numbers)
    plt.close(fig)


def jsonable(obj):
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    return obj
