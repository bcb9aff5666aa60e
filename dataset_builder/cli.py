"""``rankladder generate`` and ``rankladder build`` (``rankladder judge``: ``judge_cli``)."""

from __future__ import annotations

from rankladder.core.clihelp import HelpFormatter, examples
from rankladder.core.config import default
from rankladder.dataset_builder.config import (
    BACKENDS,
    PROMPT_MODES,
    QUERY_FORMATS,
    BuildConfig,
    GenerationConfig,
    QueriesConfig,
)

Q, G, B = QueriesConfig, GenerationConfig, BuildConfig

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


def add_server_options(group, concurrency_help: str) -> None:
    """The openai and vllm backends' options (shared by ``generate`` and ``judge``)."""
    group.add_argument(
        "--base-url",
        action="append",
        default=None,
        metavar="URL",
        # one value per flag (repeat it), so a positional after it (judge's RUN_DIR) is never taken for a URL
        help="openai: server URL (env OPENAI_BASE_URL); repeat the flag for several (one per vLLM replica or "
        "node): each request goes to the least-loaded healthy server",
    )
    group.add_argument("--api-key-env", default="OPENAI_API_KEY", help="openai: env variable holding the API key")
    group.add_argument("--concurrency", type=int, default=8, help=concurrency_help)
    for flag, help_text in (
        ("--tensor-parallel-size", "vllm: GPUs per engine (tensor parallel)"),
        ("--pipeline-parallel-size", "vllm: pipeline stages per engine"),
        ("--data-parallel-size", "vllm: engine replicas (data parallel; see vLLM's docs for its offline support)"),
    ):
        group.add_argument(flag, type=int, default=1, help=help_text)


def register(subparsers) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="write graded documents for queries with an LLM into a RUN_DIR",
        description="Generate documents at every relevance level for each query. Resumable: re-running "
        "with the same --out skips finished (query, level, sample) keys.",
        epilog=GENERATE_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    src = gen.add_argument_group("queries")
    src.add_argument(
        "--queries",
        default=None,
        help="JSONL, TSV (id<TAB>text), BEIR folder, or HF dataset path/repo id (default: bundled queries)",
    )
    src.add_argument(
        "--queries-format", default=default(Q, "format"), choices=QUERY_FORMATS, help="format of --queries"
    )
    src.add_argument("--id-field", default=None, help="query id column (default: _id / id / query_id)")
    src.add_argument("--text-field", default=None, help="query text column (default: text / query)")
    src.add_argument("--qrels-split", default=None, help="BEIR folder: keep only queries judged in this qrels split")
    src.add_argument("--hf-config", default=None, help="HF dataset: config name")
    src.add_argument("--hf-split", default=default(Q, "hf_split"), help="HF dataset: split")
    src.add_argument("--limit", type=int, default=None, help="sample this many queries")
    src.add_argument("--seed", type=int, default=default(G, "seed"), help="seed for query sampling and generation")
    lv = gen.add_argument_group("levels and prompts")
    lv.add_argument("--levels-config", default=None, help="YAML/JSON file of levels (default: the 4-level ladder 3..0)")
    lv.add_argument("--levels", default=None, help="comma-separated subset of level values to generate")
    lv.add_argument(
        "--prompt-mode",
        default=default(G, "prompt_mode"),
        choices=PROMPT_MODES,
        help="one request per (query, level), or one request for all levels of a query",
    )
    lv.add_argument(
        "--prompt-template", default=None, help="prompt template YAML (default: the bundled one for the mode)"
    )
    lv.add_argument(
        "--samples-per-level",
        type=int,
        default=default(G, "samples_per_level"),
        help="documents per (query, level); build --select-by-similarity keeps the best-ordered one",
    )
    be = gen.add_argument_group("backend and sampling")
    be.add_argument("--backend", default=default(G, "backend"), choices=BACKENDS, help="where the LLM runs")
    be.add_argument(
        "--model", default=None, help="model id/path (default: SmolLM2-135M-Instruct GGUF for local backends)"
    )
    be.add_argument("--gguf-file", default=None, help="transformers: GGUF file name inside --model")
    be.add_argument("--device", default="auto", help="transformers: cpu, cuda, auto")
    add_server_options(be, concurrency_help="openai: requests in flight at each server")
    be.add_argument("--max-model-len", type=int, default=2048, help="vllm: context length")
    be.add_argument("--dtype", default=None, help="model dtype (transformers: float32; vllm: auto)")
    be.add_argument("--temperature", type=float, default=default(G, "temperature"), help="sampling temperature")
    be.add_argument("--top-p", type=float, default=default(G, "top_p"), help="nucleus sampling")
    be.add_argument(
        "--max-new-tokens", type=int, default=default(G, "max_new_tokens"), help="reply length limit per request"
    )
    be.add_argument(
        "--window",
        "--batch-size",
        dest="window",
        type=int,
        default=default(G, "window"),
        help="requests kept in flight; each finished one is written and replaced at once (default: "
        "transformers 16, vllm 256, openai --concurrency per server). --batch-size is the old name",
    )
    be.add_argument(
        "--no-structured-output",
        dest="structured_output",
        action="store_false",
        help="per-query mode: do not constrain replies to the levels' JSON schema (vllm, openai); "
        "the reply parser is used either way",
    )
    be.add_argument(
        "--max-attempts",
        type=int,
        default=default(G, "max_attempts"),
        help="attempts per document before it is rejected",
    )
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
        description="Build DATASET_DIR: configs corpus, queries, default (qrels: train/dev) and lists. The run is "
        "streamed through spill files (partitions of 200,000 records) in the output's temp folder, so memory "
        "stays bounded whatever the run's size; --select-by-similarity and --separability hold the whole run "
        "(or its lists) in memory.",
        epilog=BUILD_EXAMPLES,
        formatter_class=HelpFormatter,
    )
    build.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    build.add_argument("--out", required=True, help="DATASET_DIR to write (atomically)")
    build.add_argument("--version", required=True, help="dataset version X.Y.Z")
    build.add_argument(
        "--dev-fraction", type=float, default=default(B, "dev_fraction"), help="fraction of queries held out as dev"
    )
    build.add_argument("--seed", type=int, default=default(B, "seed"), help="seed of the dev split")
    build.add_argument("--name", default=None, help="dataset name (default: the folder name)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing DATASET_DIR")
    build.add_argument(
        "--select-by-similarity",
        nargs="?",
        const=True,
        default=None,
        metavar="MODEL",
        help="with several samples per (query, level) (generate --samples-per-level N): keep the "
        "combination best ordered for this embedding model (default all-MiniLM-L6-v2); reads the whole run "
        "into memory",
    )
    build.add_argument(
        "--separability",
        nargs="?",
        const=True,
        default=None,
        metavar="MODEL",
        help="add per-level separability under this embedding model (default all-MiniLM-L6-v2) "
        "to stats.json and the card; embeds the built lists in memory",
    )
    build.add_argument(
        "--labels",
        default=default(B, "labels"),
        choices=["intended", "judged", "agree"],
        help="qrels score / lists level: the generator's intended level, the judge's grade "
        "(`rankladder judge`; unjudged documents dropped), or the intended level of documents "
        "the judge agrees with (see --max-disagreement)",
    )
    build.add_argument(
        "--max-disagreement",
        type=int,
        default=default(B, "max_disagreement"),
        metavar="K",
        help="--labels agree: keep documents with |intended level - judged grade| <= K "
        "(0: exact agreement only, 1: within one grade)",
    )
    build.add_argument(
        "--allow-degenerate-labels",
        action="store_true",
        help="build even when the label policy leaves fewer than two levels or lists of one document "
        "(refused by default, with the counts)",
    )
    build.add_argument(
        "--merge",
        default=default(B, "merge"),
        choices=["refuse", "first", "keep-all"],
        help="RUN_DIRs from different generators (model, prompt, sampling): refuse them, keep the first "
        "run's record per (query, level, sample) key, or keep every run's documents as separate samples. "
        "Shards of one generator always merge",
    )
    build.set_defaults(func=run_build, output_arg="out")

    from rankladder.dataset_builder import judge_cli

    judge_cli.register(subparsers)


def options_from_args(args) -> tuple[QueriesConfig, GenerationConfig]:
    """The typed options behind the flags (ranges and choices checked here, before any work)."""
    from rankladder.core.config import validate_flags

    queries = validate_flags(
        QueriesConfig,
        {
            "source": args.queries,
            "format": args.queries_format,
            "id_field": args.id_field,
            "text_field": args.text_field,
            "qrels_split": args.qrels_split,
            "hf_config": args.hf_config,
            "hf_split": args.hf_split,
            "limit": args.limit,
            "seed": args.seed,
        },
        {"source": "--queries", "format": "--queries-format"},
    )
    generation = validate_flags(
        GenerationConfig,
        {
            "backend": args.backend,
            "backend_options": backend_options(args),
            "levels_config": args.levels_config,
            "levels": args.levels,
            "prompt_mode": args.prompt_mode,
            "prompt_template": args.prompt_template,
            "samples_per_level": args.samples_per_level,
            "temperature": args.temperature,
            "top_p": args.top_p,
            "max_new_tokens": args.max_new_tokens,
            "seed": args.seed,
            "window": args.window,
            "structured_output": args.structured_output,
            "max_attempts": args.max_attempts,
        },
    )
    return queries, generation


def generate_config_from_args(args):
    from rankladder.dataset_builder.config import generate_config

    return generate_config(options_from_args(args)[1])


def backend_options(args) -> dict:
    import os

    if args.backend == "transformers":
        options = {"model": args.model, "gguf_file": args.gguf_file, "device": args.device}
        if args.dtype:
            options["dtype"] = args.dtype
    elif args.backend == "vllm":
        options = {
            "model": args.model,
            **vllm_parallel_options(args),
            "max_model_len": args.max_model_len,
            "dtype": args.dtype or "auto",
        }
    else:
        from rankladder.core.errors import UserError

        if not args.model:
            raise UserError("--model: required with --backend openai (the served model name)")
        options = {
            "model": args.model,
            "base_url": base_url_option(args.base_url) or os.environ.get("OPENAI_BASE_URL"),
            "api_key": os.environ.get(args.api_key_env),
            "concurrency": args.concurrency,
        }
    return {k: v for k, v in options.items() if v is not None}


def base_url_option(urls: list[str] | None) -> str | list[str] | None:
    """``--base-url`` as the backend (and the run manifest) takes it: one URL as a string, several as a list."""
    if not urls:
        return None
    return urls[0] if len(urls) == 1 else list(urls)


def vllm_parallel_options(args) -> dict:
    """vLLM's parallel sizes, checked ≥ 1; a size of 1 is left out (vLLM's default), so the options of runs
    from before these flags existed stay the same and those runs still resume."""
    from rankladder.core.errors import UserError

    options = {}
    for name in ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size"):
        value = getattr(args, name)
        if value < 1:
            raise UserError(f"--{name.replace('_', '-')}: must be at least 1, got {value}")
        if value != 1 or name == "tensor_parallel_size":  # tensor_parallel_size was always recorded
            options[name] = value
    return options


def run_generate(args) -> int:
    from rankladder.core.paths import check_exists
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.backends import create_backend
    from rankladder.dataset_builder.config import generate_config
    from rankladder.dataset_builder.generate import generate_run, parse_shard
    from rankladder.dataset_builder.queries import QuerySpec, load_queries

    shard = parse_shard(args.shard)
    query_options, generation = options_from_args(args)
    if args.backend != "openai":  # before queries are read or a model loads; a served model's name is no path
        check_exists(args.model, "model path", "--model")
    config = generate_config(generation)
    queries, source = load_queries(QuerySpec(**query_options.model_dump()))
    manifest = generate_run(
        args.out,
        queries,
        config,
        lambda: create_backend(config.backend, **config.backend_options),
        shard=shard,
        query_source=source,
        progress=not args.no_progress,
        retry_rejected=args.retry_rejected,
    )
    return summaries.generate(args.out, manifest)  # 1 when every document was given up


def run_build(args) -> int:
    from rankladder.core.config import validate_flags
    from rankladder.dataset_builder import summaries
    from rankladder.dataset_builder.build import build_dataset

    options = validate_flags(
        BuildConfig,
        {
            "dev_fraction": args.dev_fraction,
            "seed": args.seed,
            "select_by_similarity": args.select_by_similarity,
            "labels": args.labels,
            "max_disagreement": args.max_disagreement,
            "allow_degenerate_labels": args.allow_degenerate_labels,
            "merge": args.merge,
        },
    )
    manifest = build_dataset(
        args.run_dirs,
        args.out,
        args.version,
        options.dev_fraction,
        options.seed,
        overwrite=args.overwrite,
        name=args.name,
        separability_model=args.separability,
        select_model=options.select_by_similarity,
        labels=options.labels,
        max_disagreement=options.max_disagreement,
        allow_degenerate_labels=options.allow_degenerate_labels,
        merge_rule=options.merge,
    )
    summaries.build(args.out, manifest, args.run_dirs)
    return 0
