"""``rankladder study CONFIG.yaml --out OUT``: the loss study (see ``rankladder/study.py``)."""

from __future__ import annotations

from rankladder.core.clihelp import HelpFormatter, examples


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "study",
        formatter_class=HelpFormatter,
        epilog=examples(
            "rankladder study configs/study_cpu.yaml --out out/study-cpu      # CPU",
            "rankladder study configs/study_paper.yaml --out out/study-paper  # GPUs: vLLM generator, BEIR + TREC DL",
            "rankladder study configs/study_cpu.yaml --out out/s --seeds 0,1 --settings infonce,wasserstein",
            "rankladder study configs/study_cpu.yaml --out out/s --print-config",
        ),
        help="loss study: graded list-wise losses vs InfoNCE vs the base model on one synthetic dataset",
        description="Generate + build one synthetic graded dataset, train every setting (loss, label mapping, "
        "group) for every seed, evaluate all checkpoints and the base model on real collections and "
        "the in-domain dev split, and write OUT/study.{json,md,png} with mean ± std over seeds, paired "
        "differences against infonce and the base model, gradient norms and the separability of the "
        "generated levels. Resumable: finished models and evaluations are skipped.",
    )
    p.add_argument(
        "config",
        nargs="?",
        default=None,
        help="study YAML (configs/study_cpu.yaml, configs/study_paper.yaml); omitted = embedded defaults",
    )
    p.add_argument("--out", required=True, help="study folder (dataset/, models/, eval/, study.*)")
    p.add_argument("--seeds", default=None, help="comma-separated seeds overriding the config (e.g. 0,1,2)")
    p.add_argument("--settings", default=None, help="comma-separated setting names to keep (default: all)")
    p.add_argument("--print-config", action="store_true", help="print the effective config and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress lines")
    p.set_defaults(func=_run, output_arg="out")


def _run(args) -> int:
    import yaml

    from rankladder.core.errors import UserError
    from rankladder.study import load_study, run_study

    config = load_study(args.config)
    if args.seeds:
        try:
            config["seeds"] = [int(s) for s in args.seeds.split(",") if s.strip()]
        except ValueError:
            raise UserError(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if args.settings:
        wanted = [s.strip() for s in args.settings.split(",") if s.strip()]
        known = {s["name"] for s in config["settings"]}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise UserError(f"--settings: unknown setting(s) {missing} (config has {sorted(known)})")
        config["settings"] = [s for s in config["settings"] if s["name"] in wanted]
    if args.print_config:
        print(yaml.safe_dump(config, sort_keys=False), end="")
        return 0
    report = run_study(config, args.out, progress=not args.no_progress)
    _summary(args.out, report)
    return 0


def _summary(out: str, report: dict) -> None:
    from pathlib import Path

    from rankladder.core.console import print_summary, written
    from rankladder.steps import summary_line

    key = "mean" if "mean" in report["tasks"] else report["tasks"][0]
    verdicts = []
    for s in report["settings"]:
        for against in ("vs_infonce", "vs_base"):
            d = report["paired"][s].get(against, {}).get(key)
            if d and d["mean"] is not None:
                verdicts.append(
                    f"{s} {against.replace('vs_', 'vs ')}: Δ nDCG@10 = {100 * d['mean']:+.2f} "
                    f"± {100 * (d['std'] or 0):.2f} → {d['verdict']}"
                )
    rows = [
        ("wrote", written(Path(out), f"{len(report['settings'])} settings")),
        ("report", f"{out}/study.md"),
        (f"[{key}]", "\n".join(verdicts)),
        ("steps", summary_line(out)),
    ]
    print_summary("study", rows, next_steps=[f"open {out}/study.md (table) and {out}/study.png (plot)"])
