"""One typed config per data stage: every option is the same name and default as a flag, an API keyword and a
YAML key, and a value given through any of the three reaches the stage's entry function (issue 20).

The checks are derived from the models (``dataset_builder/config.py``): a new field is covered without editing
this file. The end-to-end part runs each stage for real on tiny inputs (the canned OpenAI server for the LLM
stages, BM25 on a few Cranfield documents) and compares the manifests the three paths write.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing

import pytest

import rankladder
from rankladder.cli import build_parser, main
from rankladder.core.cli_model import cli_meta, config_from_args, flag_name, option_label
from rankladder.core.config import dump
from rankladder.core.errors import UserError
from rankladder.dataset_builder.config import BuildConfig, GenerateConfig, JudgeConfig, MineConfig
from rankladder.release import DEFAULTS as RELEASE
from rankladder.study_config import DEFAULTS as STUDY
from tests.dataset_builder.test_mine import small_beir
from tests.helpers.canned_openai import CannedOpenAI
from tests.helpers.cli_cases import write_generation_queries
from tests.helpers.run_fixtures import write_run_dir

# stage -> (its config, the arguments a command needs besides options, the per-call arguments that are not
# options (flag name -> the API function's parameter), the API function, the YAML section's defaults)
STAGES = {
    "generate": (
        GenerateConfig,
        ["--out", "o"],
        {"out": "out", "shard": "shard", "retry_rejected": "retry_rejected", "no_progress": "progress"},
        rankladder.generate,
        RELEASE["generation"],
    ),
    "build": (
        BuildConfig,
        ["r", "--out", "o", "--version", "1.0.0"],
        {"run_dirs": "run_dirs", "out": "out", "version": "version", "name": "name", "overwrite": "overwrite"},
        rankladder.build,
        RELEASE["build"],
    ),
    "judge": (
        JudgeConfig,
        ["r"],
        {"run_dirs": "run_dirs", "shard": "shard", "no_progress": "progress"},
        rankladder.judge,
        {k: v for k, v in RELEASE["judge"].items() if k != "enabled"},  # enabled: whether a release judges
    ),
    "mine": (
        MineConfig,
        ["f", "--out", "o"],
        {"folder": "folder", "out": "out", "overwrite": "overwrite", "no_progress": "progress"},
        rankladder.mine,
        {**STUDY["real"]["mine"], "split": None},  # the study's split is real.split
    ),
}
# options that make another option valid (a dense-only option needs the dense method)
CONTEXT = {("mine", name): ["--method", "dense"] for name in ("model", "absolute_margin")}
CONTEXT[("mine", "cross_encoder")] = ["--method", "dense", "--relative-margin", "0.1"]  # rescoring needs a margin
CONTEXT.update({("mine", "relative_margin"): ["--method", "dense"], ("mine", "sampling"): ["--range-max", "9"]})
SPECIAL = {"top_p": "0.5", "temperature": "0.3", "dev_fraction": "0.3", "timeout": "30"}
CASES = [(stage, name) for stage, (model, *_) in STAGES.items() for name in model.model_fields]


def non_default(model, name: str) -> tuple[list[str], object]:
    """A flag spelling that sets ``name`` to something other than its default, and the value it must give."""
    info = model.model_fields[name]
    default, flag, meta = info.get_default(call_default_factory=True), flag_name(name), cli_meta(info)
    union = typing.get_origin(info.annotation) in (typing.Union, types.UnionType)
    base = [a for a in typing.get_args(info.annotation) if a is not type(None)] if union else [info.annotation]
    kind = base[0] if len(base) == 1 else None
    if "const" in meta:
        return [flag], meta["const"]
    if kind is bool:
        return ([flag_name("no_" + name)] if default else [flag]), not default
    if typing.get_origin(kind) is typing.Literal:
        choice = next(c for c in typing.get_args(kind) if c != default)
        return [flag, choice], choice
    if typing.get_origin(kind) is list:
        if meta.get("repeat"):
            return [flag, "a", flag, "b"], ["a", "b"]
        return [flag, "2", "1"], [2, 1]
    if name in SPECIAL:
        return [flag, SPECIAL[name]], float(SPECIAL[name])
    if kind in (int, float) or typing.get_origin(kind) is typing.Annotated or isinstance(default, (int, float)):
        value = (default or 0) + 3
        return [flag, str(value)], value
    return [flag, "x-value"], "x-value"


@pytest.mark.parametrize("stage, name", CASES)
def test_every_option_is_a_flag_that_reaches_the_config(stage, name):
    model, required, *_ = STAGES[stage]
    argv, expected = non_default(model, name)
    args = build_parser().parse_args([stage, *required, *CONTEXT.get((stage, name), []), *argv])
    assert getattr(config_from_args(model, args), name) == expected


@pytest.mark.parametrize("stage", STAGES)
def test_every_flag_in_help_is_an_option_or_a_per_call_argument(stage, capsys):
    model, _, per_call, *_ = STAGES[stage]
    with pytest.raises(SystemExit) as done:
        main([stage, "--help"])
    assert done.value.code == 0
    listed = set()
    for line in capsys.readouterr().out.splitlines():
        if re.match(r"^  -", line):  # an option's own line (its help's continuations are indented further)
            listed |= set(re.findall(r"--[a-z][a-z0-9-]*", line.split("  ")[1]))
    names = {flag[2:].replace("-", "_") for flag in listed} - {"help", "verbose", "quiet"}
    assert names - set(model.model_fields) - set(per_call) == set()
    assert {flag_name(name) for name in model.model_fields} <= listed  # and every option is listed


@pytest.mark.parametrize("stage", STAGES)
def test_the_yaml_section_has_every_option_under_the_same_name_and_default(stage):
    model, *_, section = STAGES[stage]
    assert section == dump(model())


@pytest.mark.parametrize("stage", STAGES)
def test_the_api_takes_every_per_call_argument(stage):
    _, _, per_call, function, _ = STAGES[stage]
    parameters = inspect.signature(function).parameters
    assert set(per_call.values()) <= set(parameters)
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())  # the options


@pytest.mark.parametrize("stage, name", CASES)
def test_the_api_validates_every_option_through_the_model_naming_key_and_flag(stage, name, tmp_path):
    """A keyword the API did not know, or did not validate through the model, would not fail this way."""
    _, _, _, function, _ = STAGES[stage]
    positional = {"generate": [tmp_path / "o"], "build": [[tmp_path / "r"], tmp_path / "o", "1.0.0"]}.get(
        stage, [tmp_path / "r"] if stage == "judge" else [tmp_path / "f", tmp_path / "o"]
    )
    with pytest.raises(UserError, match="^" + re.escape(option_label(name)) + ": "):
        function(*positional, **{name: object()})
    with pytest.raises(UserError, match="^bogus_option: unknown option$"):
        function(*positional, bogus_option=1)
    assert not any(tmp_path.iterdir())


# -- a non-default value given through the CLI, the API and a YAML section reaches the entry function --------
def _yaml_section(tmp_path, text: str, study: bool = False) -> dict:
    from rankladder.release import load_release
    from rankladder.study_config import load_study

    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_study(path) if study else load_release(path)


def test_generate_options_reach_the_run_through_every_path(tmp_path):
    queries = tmp_path / "queries.jsonl"
    write_generation_queries(queries, 3)
    server = CannedOpenAI(delay=0)
    common = {"limit": 2, "seed": 4, "max_new_tokens": 17, "temperature": 0.3, "max_attempts": 2, "concurrency": 3}
    try:
        flags = ["--queries", str(queries), "--backend", "openai", "--model", "fake", "--base-url", server.url]
        flags += [f for k, v in common.items() for f in (flag_name(k), str(v))]
        assert main(["generate", *flags, "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
        api = dict(backend="openai", model="fake", base_url=server.url, **common)
        rankladder.generate(tmp_path / "api", queries=str(queries), progress=False, **api)
        yaml_lines = "".join(f"  {k}: {v}\n" for k, v in {**api, "queries": str(queries)}.items())
        section = _yaml_section(tmp_path, f"generation:\n{yaml_lines}")["generation"]
        rankladder.generate(tmp_path / "yaml", progress=False, **section)
    finally:
        server.close()
    manifests = [_one_manifest(tmp_path / path, "manifest.shard-*.json") for path in ("cli", "api", "yaml")]
    first = manifests[0]
    assert first["config"]["sampling"] == {"temperature": 0.3, "top_p": 0.95, "max_new_tokens": 17, "seed": 4}
    assert first["config"]["max_attempts"] == 2 and first["config"]["backend_options"]["concurrency"] == 3
    assert first["queries"]["limit"] == 2 and first["queries"]["in_shard"] == 2
    for other in manifests[1:]:
        assert other["config"] == first["config"] and other["queries"] == first["queries"]


def _one_manifest(folder, pattern: str) -> dict:
    (path,) = folder.glob(pattern)
    return json.loads(path.read_text(encoding="utf-8"))


def test_judge_and_build_options_reach_their_runs_through_every_path(tmp_path, graded_rows):
    rows = [row for row in graded_rows if row["query_id"] in sorted({r["query_id"] for r in graded_rows})[:4]]
    runs = {path: write_run_dir(tmp_path / f"run-{path}", rows) for path in ("cli", "api", "yaml")}
    server = CannedOpenAI(delay=0, reply="2")
    judge = {"backend": "openai", "model": "fake", "base_url": server.url, "logprobs": 0, "max_new_tokens": 3}
    try:
        flags = [f for k, v in judge.items() for f in (flag_name(k), str(v))]
        assert main(["judge", str(runs["cli"]), *flags, "--batch-size", "5", "--no-progress"]) == 0
        rankladder.judge(runs["api"], progress=False, batch_size=5, **judge)
        yaml_lines = "".join(f"  {k}: {v}\n" for k, v in {**judge, "batch_size": 5}.items())
        section = dict(_yaml_section(tmp_path, f"judge:\n{yaml_lines}")["judge"])
        assert section.pop("enabled") is True
        rankladder.judge(runs["yaml"], progress=False, **section)
    finally:
        server.close()
    judged = [_one_manifest(runs[path], "judge-manifest.shard-*.json")["config"] for path in runs]
    assert judged[0]["sampling"]["max_new_tokens"] == 3 and judged[0]["logprobs"] is None
    assert judged[0] == judged[1] == judged[2]

    build = {"dev_fraction": 0.5, "seed": 3, "labels": "agree", "max_disagreement": 2, "merge": "first"}
    flags = [f for k, v in build.items() for f in (flag_name(k), str(v))]
    cli_out, api_out, yaml_out = (tmp_path / f"ds-{path}" for path in runs)
    assert main(["build", str(runs["cli"]), "--out", str(cli_out), "--version", "0.1.0", *flags]) == 0
    rankladder.build(runs["api"], api_out, "0.1.0", **build)
    section = _yaml_section(tmp_path, "build:\n" + "".join(f"  {k}: {v}\n" for k, v in build.items()))["build"]
    rankladder.build(runs["yaml"], yaml_out, "0.1.0", **section)
    built = [json.loads((out / "rankladder_manifest.json").read_text()) for out in (cli_out, api_out, yaml_out)]
    assert {k: built[0]["build"][k] for k in ("dev_fraction", "seed", "labels", "max_disagreement")} == {
        k: build[k] for k in ("dev_fraction", "seed", "labels", "max_disagreement")
    }
    assert built[0]["merge"]["rule"] == "first"
    for other in built[1:]:
        assert other["build"] == built[0]["build"] and other["merge"]["rule"] == "first"


def test_api_build_with_judged_labels_builds_the_judges_grades(tmp_path, graded_rows):
    """``rankladder.build(labels="judged")`` used to validate the option and build intended labels."""
    rows = [row for row in graded_rows if row["query_id"] in sorted({r["query_id"] for r in graded_rows})[:3]]
    run = write_run_dir(tmp_path / "run", rows)
    server = CannedOpenAI(delay=0, reply="2")  # the judge grades every document 2
    try:
        rankladder.judge(run, backend="openai", model="fake", base_url=server.url, logprobs=0, progress=False)
    finally:
        server.close()
    out = rankladder.build(run, tmp_path / "ds", "0.1.0", labels="judged", allow_degenerate_labels=True)
    import pyarrow.parquet as pq

    scores = {s for path in (out / "qrels").glob("*.parquet") for s in pq.read_table(path)["score"].to_pylist()}
    assert scores == {2}  # the intended levels are 3..0
    assert json.loads((out / "rankladder_manifest.json").read_text())["build"]["labels"] == "judged"


def test_mine_options_reach_the_manifest_through_every_path(tmp_path, shared_datasets):
    folder = small_beir(tmp_path / "beir", shared_datasets / "cranfield")
    options = {"negatives_per_query": 3, "range_max": 7, "sampling": "random", "seed": 5}
    flags = [f for k, v in options.items() for f in (flag_name(k), str(v))]
    assert main(["mine", str(folder), "--split", "train", *flags, "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    rankladder.mine(folder, tmp_path / "api", split="train", progress=False, **options)
    text = "real:\n  mine:\n" + "".join(f"    {k}: {v}\n" for k, v in options.items())
    section = _yaml_section(tmp_path, text, study=True)["real"]["mine"]
    rankladder.mine(folder, tmp_path / "yaml", split="train", progress=False, **section)
    parameters = [
        _one_manifest(tmp_path / path, "rankladder_manifest.json")["parameters"] for path in ("cli", "api", "yaml")
    ]
    assert {k: parameters[0][k] for k in options} == options
    assert parameters[0] == parameters[1] == parameters[2]


def test_a_run_recorded_with_the_old_release_options_resumes_under_the_one_config(tmp_path, graded_rows):
    """The release YAML's ``backend_options: {}`` recorded ``{}``; the one config records ``device: auto``
    (as the CLI always did). Both are the same generator: the run resumes instead of refusing."""
    from rankladder.dataset_builder.generate import GenerationPlan, RunState
    from rankladder.dataset_builder.queries import Query

    run = write_run_dir(tmp_path / "run", graded_rows[:4], backend="transformers")
    plan = GenerationPlan.from_config(GenerateConfig())
    assert plan.backend_options == {"device": "auto"}
    RunState(run, plan, [Query(graded_rows[0]["query_id"], graded_rows[0]["query"])], (0, 1), {}).check_resumable()
    other = GenerationPlan.from_config(GenerateConfig(model=str(tmp_path)))
    with pytest.raises(UserError, match="different 'backend_options'"):
        RunState(run, other, [], (0, 1), {}).check_resumable()
