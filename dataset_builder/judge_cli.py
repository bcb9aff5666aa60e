"""``rankladder judge``: grade the documents of RUN_DIRs with an LLM relevance judge."""

from __future__ import annotations

import os

from rankladder.core.clihelp import HelpFormatter, examples
from rankladder.dataset_builder.cli import add_server_options, base_url_option, vllm_parallel_options


def register(subparsers) -> None:
    judge = subparsers.add_parser(
        "judge",
        help="grade every kept (query, document) of RUN_DIRs with an LLM relevance judge",
        description="Ask a judge model for one grade on the run's level scale per document (probability of "
        "each grade from token logprobs where the backend returns them). Judgements are written "
        "into each RUN_DIR; `rankladder build --labels judged|agree` uses them. Resumable: a "
        "re-run judges only what is missing. Backend flags as for `generate`; default: the "
        "backend and model the run was generated with.",
        epilog=examples(
            "rankladder judge runs/demo                    # the generator's backend and model",
            "rankladder judge runs/demo --backend openai --model Qwen/Qwen2.5-7B-Instruct --base-url http://gpu:8000/v1",
            "rankladder judge runs/a runs/b --shard 0/2 --batch-size 32",
        ),
        formatter_class=HelpFormatter,
    )
    judge.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    judge.add_argument("--prompt-template", default=None, help="judge prompt YAML (default: the bundled judge.yaml)")
    be = judge.add_argument_group("backend (default: the generator's)")
    be.add_argument("--backend", default=None, choices=["transformers", "vllm", "openai"])
    be.add_argument("--model", default=None, help="model id/path (default: the generator's model)")
    be.add_argument("--gguf-file", default=None, help="transformers: GGUF file name inside --model")
    be.add_argument("--device", default="auto", help="transformers: cpu, cuda, auto")
    add_server_options(be, concurrency_help="openai: parallel requests at each server")
    be.add_argument("--max-model-len", type=int, default=2048, help="vllm: context length")
    be.add_argument("--dtype", default=None, help="model dtype (transformers: float32; vllm: auto)")
    be.add_argument("--max-new-tokens", type=int, default=8, help="reply length limit (the reply is one digit)")
    be.add_argument(
        "--logprobs",
        type=int,
        default=20,
        help="top alternatives per token to read grade probabilities from (0: parse the reply only)",
    )
    be.add_argument("--batch-size", type=int, default=16, help="requests per backend call")
    run = judge.add_argument_group("run")
    run.add_argument("--shard", default=None, help="I/N: judge only shard I of N (queries split by id hash)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    judge.set_defaults(func=run_judge, output_arg="run_dirs")  # judgements (and the log) go into each RUN_DIR


def judge_backend(args, run_dir) -> tuple[str, dict]:
    """``--backend``/``--model`` when given, else the generator's backend and options."""
    from rankladder.core.errors import UserError
    from rankladder.dataset_builder.judge import generator_backend

    if args.backend is None:
        backend, options = generator_backend(run_dir)
        if args.model:
            options["model"] = args.model
    else:
        backend, options = args.backend, {"model": args.model}
        if backend == "transformers":
            options.update(gguf_file=args.gguf_file, device=args.device, dtype=args.dtype)
        elif backend == "vllm":
            options.update(
                **vllm_parallel_options(args),
                max_model_len=args.max_model_len,
                dtype=args.dtype or "auto",
            )
        else:
            if not args.model:
                raise UserError("--model: required with --backend openai (the served model name)")
            options.update(
                base_url=base_url_option(args.base_url) or os.environ.get("OPENAI_BASE_URL"),
                concurrency=args.concurrency,
            )
    if backend == "openai":
        options["api_key"] = os.environ.get(args.api_key_env)
        if args.base_url:
            options["base_url"] = base_url_option(args.base_url)
    return backend, {k: v for k, v in options.items() if v is not None}


def run_judge(args) -> int:
    import contextlib
    from pathlib import Path

    from rankladder.core.errors import UserError
    from rankladder.core.paths import check_exists
    from rankladder.dataset_builder import schema, summaries
    from rankladder.dataset_builder.backends import create_backend
    from rankladder.dataset_builder.backends.base import SamplingConfig
    from rankladder.dataset_builder.generate import parse_shard
    from rankladder.dataset_builder.judge import (
        JudgeConfig,
        judge_run,
        load_judge_template,
        run_levels,
    )
    from rankladder.dataset_builder.runfiles import ShardLock

    shard = parse_shard(args.shard)
    for flag, value, low in (
        ("--batch-size", args.batch_size, 1),
        ("--max-new-tokens", args.max_new_tokens, 1),
        ("--logprobs", args.logprobs, 0),
    ):
        if value < low:
            raise UserError(f"{flag}: must be at least {low}, got {value}")
    template = load_judge_template(args.prompt_template)
    if args.backend != "openai":  # a served model's name is not a path
        check_exists(args.model, "model path", "--model")
    results = []
    with contextlib.ExitStack() as locks:
        # every RUN_DIR checked and its shard locked before the first model loads: a missing or busy second
        # RUN_DIR is reported now, not after the first one has been judged
        plans = []
        for run_dir in args.run_dirs:
            run_levels(Path(run_dir))  # a missing folder is "not a generation RUN_DIR" too
            plans.append((run_dir, *judge_backend(args, run_dir)))
            locks.enter_context(ShardLock(Path(run_dir), *shard, schema.JUDGE_MANIFEST))
        for run_dir, backend, options in plans:
            config = JudgeConfig(
                template=template,
                sampling=SamplingConfig(0.0, 1.0, args.max_new_tokens, 0),
                logprobs=args.logprobs or None,
                batch_size=args.batch_size,
                backend=backend,
                backend_options=options,
            )
            manifest = judge_run(
                run_dir,
                config,
                lambda backend=backend, options=options: create_backend(backend, **options),
                shard=shard,
                progress=not args.no_progress,
            )
            results.append((run_dir, manifest))
    summaries.judge(results)
    return 0
