"""The entry functions of ``generate`` and ``judge``: a typed config in, the written manifest(s) out.

The CLI (``dataset_builder/cli.py``, ``judge_cli.py``), the Python API (``rankladder.generate``,
``rankladder.judge``) and the release pipeline all call these, with the config built from flags, keyword
arguments or a YAML section. The two other data stages' entry functions take their config the same way:
``dataset_builder.build.build_dataset(run_dirs, out, version, config)`` and
``dataset_builder.mining.mine(folder, out, config)``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from rankladder.core.cli_model import option_label
from rankladder.core.paths import check_exists
from rankladder.dataset_builder.config import GenerateConfig, JudgeConfig


def run_generate(
    config: GenerateConfig,
    out: str | Path,
    shard: str | tuple[int, int] | None = None,
    retry_rejected: bool = False,
    progress: bool = True,
) -> dict:
    """Generate every missing (query, level, sample) of ``shard`` (``"I/N"``) into RUN_DIR ``out``; returns
    the shard manifest. ``retry_rejected``: also try again the keys earlier runs gave up on."""
    from rankladder.dataset_builder.backends import create_backend
    from rankladder.dataset_builder.generate import GenerationPlan, generate_run, parse_shard
    from rankladder.dataset_builder.queries import QuerySpec, load_queries

    shard = shard if isinstance(shard, tuple) else parse_shard(shard)
    if config.backend != "openai":  # before queries are read or a model loads; a served model's name is no path
        check_exists(config.model, "model path", option_label("model"))
    plan = GenerationPlan.from_config(config)
    queries, source = load_queries(QuerySpec.from_config(config))
    return generate_run(
        out,
        queries,
        plan,
        lambda: create_backend(plan.backend, **plan.backend_options),
        shard=shard,
        query_source=source,
        progress=progress,
        retry_rejected=retry_rejected,
    )


def run_judge(
    config: JudgeConfig,
    run_dirs: list[str | Path],
    shard: str | tuple[int, int] | None = None,
    progress: bool = True,
) -> list[tuple[str, dict]]:
    """Judge every record of ``shard`` in each RUN_DIR that has no judgement yet; returns ``(run_dir,
    judge manifest)`` per RUN_DIR. Every RUN_DIR is checked and its shard locked before the first model loads,
    so a missing or busy second RUN_DIR is reported before the first one is judged."""
    from rankladder.dataset_builder import schema
    from rankladder.dataset_builder.backends import create_backend
    from rankladder.dataset_builder.generate import parse_shard
    from rankladder.dataset_builder.judge import (
        JudgePlan,
        generator_backend,
        judge_run,
        load_judge_template,
        run_levels,
    )
    from rankladder.dataset_builder.runfiles import ShardLock

    shard = shard if isinstance(shard, tuple) else parse_shard(shard)
    template = load_judge_template(config.prompt_template)
    if config.backend != "openai":  # a served model's name is not a path
        check_exists(config.model, "model path", option_label("model"))
    results = []
    with contextlib.ExitStack() as locks:
        plans = []
        for run_dir in run_dirs:
            run_levels(Path(run_dir))  # a missing folder is "not a generation RUN_DIR" too
            backend, options = config.backend_for(generator_backend(Path(run_dir)) if config.backend is None else None)
            plans.append((run_dir, JudgePlan.from_config(config, backend, options, template)))
            locks.enter_context(ShardLock(Path(run_dir), *shard, schema.JUDGE_MANIFEST))
        for run_dir, plan in plans:
            factory = lambda plan=plan: create_backend(plan.backend, **plan.backend_options)  # noqa: E731
            results.append((str(run_dir), judge_run(run_dir, plan, factory, shard=shard, progress=progress)))
    return results
