"""``rankladder judge``: grade the documents of RUN_DIRs with an LLM relevance judge (options: ``JudgeConfig``)."""

from __future__ import annotations

import argparse

from rankladder.core.cli_model import add_model_arguments, config_from_args
from rankladder.core.clihelp import examples, wrapped
from rankladder.dataset_builder.config import JudgeConfig


def register(subparsers) -> None:
    judge = subparsers.add_parser(
        "judge",
        help="grade every kept (query, document) of RUN_DIRs with an LLM relevance judge",
        description=wrapped(
            "Ask a judge model for one grade on the run's level scale per document (probability of "
            "each grade from token logprobs where the backend returns them). Judgements are written "
            "into each RUN_DIR; `rankladder build --labels judged|agree` uses them. Resumable: a "
            "re-run judges only what is missing. Backend flags as for `generate`; default: the "
            "backend and model the run was generated with."
        ),
        epilog=examples(
            "rankladder judge runs/demo                    # the generator's backend and model",
            "rankladder judge runs/demo --backend openai --model Qwen/Qwen2.5-7B-Instruct --base-url http://gpu:8000/v1",
            "rankladder judge runs/a runs/b --shard 0/2 --batch-size 32",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    judge.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    add_model_arguments(judge, JudgeConfig)
    run = judge.add_argument_group("run")
    run.add_argument("--shard", default=None, help="I/N: judge only shard I of N (queries split by id hash)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    judge.set_defaults(func=run_judge, output_arg="run_dirs")  # judgements (and the log) go into each RUN_DIR


def run_judge(args) -> int:
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.stages import run_judge as judge

    config = config_from_args(JudgeConfig, args)
    return summaries.judge(judge(config, args.run_dirs, shard=args.shard, progress=not args.no_progress))
