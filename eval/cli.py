"""``rankladder eval``: the CLI layer (argument parsing only; the work is in ``eval.run``)."""

from __future__ import annotations

import argparse

from rankladder.eval.config import EvalConfig

DESCRIPTION = """\
Evaluate one or more SentenceTransformer models on retrieval tasks with mteb and write the
results in mteb's ResultCache layout (OUTPUT_DIR/results/<model>/<revision>/<Task>.json), ready
for the MTEB leaderboard, plus summary.{json,md,png} and eval_manifest.json.

TASKS may be:
  - mteb task or benchmark names (SciFact, NFCorpus, BEIR, NanoBEIR, ...): they need the Hub or
    a local HF cache;
  - local BEIR folders (corpus.jsonl, queries.jsonl, qrels/<split>.tsv; graded scores kept);
  - datasets built by `rankladder build` (local folder, or Hub repo org/name[@revision]):
    evaluated on their dev split, with level-order diagnostics on the graded dev lists.
A BM25 row (bm25s) is added on local tasks.

Rows are sorted by mean nDCG@10 (BM25 reference last); the Δ column is each model minus the base
model: the first --model given (with --compare, the first model of the first folder), or --base.
With --compare DIR..., no model is run: the summary is rebuilt from existing result folders; when
their task sets differ, a warning says so and only the tasks every model has are compared.
"""

EPILOG = """\
examples:
  rankladder eval --model out/ckpt --name me/ladder-minilm --tasks ../shared/datasets/cranfield \\
      --out runs/eval-ckpt
  rankladder eval --model sentence-transformers/all-MiniLM-L6-v2 --model out/ckpt \\
      --tasks NanoBEIR data/my_dataset --out runs/eval
  rankladder eval --compare runs/eval-base runs/eval-ckpt --out runs/compare
"""


# given per call, not options of how to evaluate (EvalConfig): the flag → the entry function's argument
PER_CALL = {"model": "models", "name": "names", "revision": "revisions", "out": "out", "overwrite": "overwrite"}


def register(subparsers) -> None:
    from rankladder.core.cli_model import add_model_arguments

    p = subparsers.add_parser(
        "eval",
        help="evaluate models on mteb/BEIR/local/built retrieval tasks",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="PATH_OR_ID",
        help="model folder or Hub id (org/name[@revision]); repeat for several models",
    )
    p.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="ORG/NAME",
        help="name to record for the Nth --model (default: local/<folder> or the Hub id); "
        "set it to the fine-tuned model's Hub name for leaderboard submission",
    )
    p.add_argument(
        "--revision",
        action="append",
        default=[],
        metavar="REV",
        help="revision to record for the Nth --model (default: content hash of a local "
        "folder, or the cached Hub commit)",
    )
    add_model_arguments(p, EvalConfig)
    p.add_argument("--out", metavar="DIR", help="where results and summaries go (required to run)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out folder")
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="DIR",
        default=None,
        help="rebuild the summary from these result folders (no model is run); with "
        "--out, write summary.{json,md,png} there, else print the table",
    )
    p.set_defaults(func=main)


def main(args) -> int:
    from rankladder.core.cli_model import config_from_args
    from rankladder.core.errors import UserError

    config = config_from_args(EvalConfig, args)
    if args.compare:
        from rankladder.eval import summary as summ
        from rankladder.eval.run import compare

        result = compare(args.compare, args.out, base=config.base, overwrite=args.overwrite)
        if not args.out:
            print(summ.to_markdown(result), end="")
        _print_closing(result, args.out, command="eval --compare")
        return 0
    if not args.model:
        raise UserError("--model: required (or use --compare DIR...)")
    if not config.tasks:
        raise UserError("--tasks: required")
    if not args.out:
        raise UserError("--out: required")
    from rankladder.eval.run import run

    result = run(config, args.model, args.out, names=args.name, revisions=args.revision, overwrite=args.overwrite)
    _print_closing(result, args.out)
    return 0


def _print_closing(summary: dict, output_dir: str | None, command: str = "eval") -> None:
    """The closing block: what was written, the nDCG@10 table with Δ vs base, and what to run next."""
    from rankladder.core.console import print_summary, written
    from rankladder.eval import summary as summ
    from rankladder.eval.leaks import summary_line as leak_line

    models = [k for k in summary["scores"] if not summ.is_reference(k)]
    comparing = command != "eval"  # --compare writes only the summaries, from existing result folders
    rows = []
    if output_dir:
        what = "summary.md · summary.json · summary.png (+ .json)"
        rows.append(("wrote", written(output_dir, what if comparing else f"results/ (mteb layout) · {what}")))
    n_rows, n_tasks = len(summary["scores"]), len(summary["tasks"])
    rows += [
        (
            "compared",
            f"{n_rows} model{'s' * (n_rows != 1)} × {n_tasks} task{'s' * (n_tasks != 1)}, base {summary['base']}",
        ),
        (
            "left out",
            ", ".join(summary.get("dropped_tasks", [])) + " (not every model has them)"
            if summary.get("dropped_tasks")
            else "",
        ),
        ("scores", summ.results_table(summary)),
        ("leak", leak_line(summary.get("leaks") or [])),
    ]
    next_steps = []
    if output_dir and models and not comparing:
        best = models[0]
        repo = best if not best.startswith("local/") else "ORG/NAME"
        next_steps.append(f"rankladder publish results {output_dir} --model-repo {repo} --model {best} --dry-run")
    if output_dir:
        next_steps.append(f"open {output_dir}/summary.md (all metrics) or summary.png")
    print_summary(command.split()[0], rows, next_steps=next_steps)
