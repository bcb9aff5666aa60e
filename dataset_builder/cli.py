"""``rankladder generate`` and ``rankladder build`` (``judge``: ``judge_cli``, ``mine``: ``mine_cli``).

Every option's flag is generated from the stage's config (``dataset_builder/config.py``); the flags added
here by hand are the per-call arguments of the entry function (inputs, ``--out``, ``--shard``, ...).
"""

from __future__ import annotations

import argparse

from rankladder.core.cli_model import add_model_arguments, config_from_args
from rankladder.core.clihelp import examples, wrapped
from rankladder.dataset_builder.config import BuildConfig, GenerateConfig

GENERATE_EXAMPLES = examples(
    "rankladder generate --out runs/demo --limit 3            # bundled queries, SmolLM2 on CPU",
    "rankladder generate --queries ../shared/datasets/msmarco_queries/queries_eval_small.jsonl --limit 100 \\",
    "    --backend vllm --model Qwen/Qwen2.5-7B-Instruct --out runs/msmarco --shard 0/4",
    "rankladder generate --backend openai --model Qwen/Qwen2.5-7B-Instruct --base-url http://gpu:8000/v1 \\",
    "    --samples-per-level 2 --out runs/demo2",
    "rankladder generate --backend openai --model Qwen/Qwen2.5-7B-Instruct --concurrency 32 \\",
    "    --base-url http://node1:8000/v1 --base-url http://node2:8000/v1 --out runs/cluster   # one URL per vLLM replica",
)
BUILD_EXAMPLES = examples(
    "rankladder build runs/demo --out datasets/demo --version 0.1.0 --dev-fraction 0.25",
    "rankladder build runs/a runs/b --out datasets/ab --version 0.2.0 --select-by-similarity --separability",
    "rankladder build runs/qwen runs/llama --out datasets/mix --version 0.1.0 --merge keep-all",
    "rankladder build runs/demo --out datasets/demo --version 0.1.0 --labels agree --max-disagreement 1",
)


def register(subparsers) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="write graded documents for queries with an LLM into a RUN_DIR",
        description=wrapped(
            "Generate documents at every relevance level for each query. Resumable: re-running "
            "with the same --out skips finished (query, level, sample) keys."
        ),
        epilog=GENERATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_model_arguments(gen, GenerateConfig)
    run = gen.add_argument_group("run")
    run.add_argument("--out", required=True, help="RUN_DIR (created, or resumed)")
    run.add_argument("--shard", default=None, help="I/N: generate only shard I of N (queries split by id hash)")
    run.add_argument(
        "--retry-rejected",
        action="store_true",
        help="also try again the documents earlier runs gave up on (--max-attempts new attempts, new seeds; "
        "their rejects stay in rejects/ as history)",
    )
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    gen.set_defaults(func=run_generate, output_arg="out")

    build = subparsers.add_parser(
        "build",
        help="merge RUN_DIRs into a versioned HF dataset folder (MTEB/BEIR layout + lists)",
        description=wrapped(
            "Build DATASET_DIR: configs corpus, queries, default (qrels: train/dev) and lists. The run is "
            "streamed through spill files (partitions of 200,000 records) in the output's temp folder, so memory "
            "stays bounded whatever the run's size; --select-by-similarity and --separability hold the whole run "
            "(or its lists) in memory."
        ),
        epilog=BUILD_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    build.add_argument("--out", required=True, help="DATASET_DIR to write (atomically)")
    build.add_argument("--version", required=True, help="dataset version X.Y.Z")
    build.add_argument("--name", default=None, help="dataset name (default: the folder name)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing DATASET_DIR")
    add_model_arguments(build, BuildConfig)
    build.set_defaults(func=run_build, output_arg="out")

    from rankladder.dataset_builder import judge_cli

    judge_cli.register(subparsers)


def run_generate(args) -> int:
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.stages import run_generate as generate

    config = config_from_args(GenerateConfig, args)
    manifest = generate(
        config, args.out, shard=args.shard, retry_rejected=args.retry_rejected, progress=not args.no_progress
    )
    return summaries.generate(args.out, manifest)  # 1 when every document was given up


def run_build(args) -> int:
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.build import build_dataset

    config = config_from_args(BuildConfig, args)
    manifest = build_dataset(args.run_dirs, args.out, args.version, config, name=args.name, overwrite=args.overwrite)
    summaries.build(args.out, manifest, args.run_dirs)
    return 0
