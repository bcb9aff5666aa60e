"""train, eval, publish dataset|model|results (issue 20): one typed config per stage (or publish kind), so every
option is a flag, an API keyword and a YAML key under one name and one default, and a value given any of those
ways reaches the stage's one entry function (asserted on what that function records or writes)."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from pathlib import Path

import pytest

import rankladder
from rankladder.cli import build_parser, main
from rankladder.core.cli_model import config_from_args, given_options
from rankladder.eval.cli import PER_CALL as EVAL_PER_CALL
from rankladder.eval.config import EvalConfig
from rankladder.model_cards.cli import PER_CALL as PUBLISH_PER_CALL
from rankladder.model_cards.config import PUBLISH_CONFIGS, TaggedPublishOptions
from rankladder.training.config import TrainConfig, split_options
from tests.helpers.hubserver import inputs

GLOBAL_FLAGS = {"-h", "--help", "-v", "--verbose", "-q", "--quiet"}
# stage → (command, its config, flag separator, the per-call arguments: flag name → entry argument, needed argv)
STAGES = {
    "train": (["train"], TrainConfig, "_", {}, []),
    "eval": (
        ["eval"],
        EvalConfig,
        "-",
        EVAL_PER_CALL,
        ["--model", "m"],
    ),
    **{
        f"publish {kind}": (
            ["publish", kind, "FOLDER"],
            PUBLISH_CONFIGS[kind],
            "-",
            PUBLISH_PER_CALL,
            ["--repo" if kind != "results" else "--model-repo", "org/name"],
        )
        for kind in PUBLISH_CONFIGS
    },
}
API = {"train": rankladder.train, "eval": rankladder.evaluate, "publish": rankladder.publish}
API_PER_CALL = {
    "train": {"out"},
    "eval": {"models", "tasks", "out", "names", "revisions", "overwrite", "loaded_models"},
    "publish": {"kind", "folder", "repo_id", "out", "overwrite"},
}
SPECIAL = {"license": "mit", "version": "2.0.0", "sources": "sources.yaml", "tasks": ["t1", "t2"]}


def non_default(name: str, info):
    """A valid value of the field that is not its default."""
    if name in SPECIAL:
        return SPECIAL[name]
    members = [a for a in typing.get_args(info.annotation) if a is not type(None)]
    optional = typing.get_origin(info.annotation) in (typing.Union, types.UnionType) and len(members) == 1
    base = members[0] if optional else info.annotation
    base = typing.get_args(base)[0] if typing.get_origin(base) is typing.Annotated else base
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    if base is bool:
        return not default
    if typing.get_origin(base) is typing.Literal:
        return next(c for c in typing.get_args(base) if c != default)
    if base is int:
        return (default or 1) + 2
    if base is float:
        return (default or 1.0) / 2
    if typing.get_origin(base) is list:
        return [f"a-{name}", f"b-{name}"]
    if base is Path:
        return Path(f"p-{name}")
    return f"x-{name}"


def values_of(model) -> dict:
    return {name: non_default(name, info) for name, info in model.model_fields.items()}


def argv_of(model, values: dict, separator: str, bool_values: bool) -> list[str]:
    argv = []
    for name, value in values.items():
        flag = "--" + name.replace("_", separator)
        if isinstance(value, bool):
            off = "--" + f"no_{name}".replace("_", separator)
            argv += ([flag, "true"] if bool_values else [flag]) if value else [off]
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        else:
            argv += [flag, str(value)]
    return argv


def leaf_help(command: list[str]) -> str:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit):
        build_parser().parse_args([*[c for c in command if c != "FOLDER"], "--help"])
    return buffer.getvalue()


@pytest.mark.parametrize("stage", STAGES)
def test_every_field_is_a_flag_that_reaches_the_config(stage):
    command, model, separator, _, needed = STAGES[stage]
    values = values_of(model)
    args, extra = build_parser().parse_known_args(
        [*command, *needed, *argv_of(model, values, separator, bool_values=stage == "train")]
    )
    assert extra == [] and set(given_options(model, args)) == set(model.model_fields)
    assert config_from_args(model, args, separator=separator) == model(**values)


@pytest.mark.parametrize("stage", STAGES)
def test_every_flag_in_help_is_a_field_or_a_per_call_argument(stage):
    command, model, separator, per_call, _ = STAGES[stage]
    text = leaf_help(command).split("trainer options (transformers")[0]  # train: the Trainer's own flags follow
    listed = set(re.findall(r"^\s{2}(-{1,2}[\w-]+)", text, flags=re.MULTILINE)) - GLOBAL_FLAGS
    names = {flag.lstrip("-").replace(separator, "_") for flag in listed}
    assert names - set(model.model_fields) - set(per_call) - {"compare"} == set()
    shown = {name for name in model.model_fields if "--" + name.replace("_", separator) in listed}
    assert shown == set(model.model_fields)


@pytest.mark.parametrize("api", API)
def test_the_api_takes_every_field_by_name_with_the_models_default(api):
    """The API functions declare only per-call arguments: every option is ``**options``, checked by the model
    (so its only default is the model's)."""
    parameters = inspect.signature(API[api]).parameters
    assert set(parameters) - {"options"} == API_PER_CALL[api]
    assert parameters["options"].kind is inspect.Parameter.VAR_KEYWORD


def test_api_errors_name_the_keyword_and_its_flag(tmp_path):
    from rankladder.core.errors import UserError

    with pytest.raises(UserError, match=r"^batch_size \(--batch-size\): must be at least 1 \(got 0\)$"):
        rankladder.evaluate(["m"], ["t"], tmp_path / "r", batch_size=0)
    with pytest.raises(UserError, match=r"^group_size \(--group_size\): must be at least 1"):
        rankladder.train(tmp_path / "m", group_size=0)
    with pytest.raises(UserError, match=r"^license \(--license\): not a Hugging Face Hub license.*did you mean mit"):
        rankladder.publish("dataset", tmp_path, "org/name", version="1.0.0", license="MIT")
    with pytest.raises(UserError, match=r"^version \(--version\): field required"):
        rankladder.publish("model", tmp_path, "org/name")
    with pytest.raises(UserError, match=r"^bogus: unknown option"):
        rankladder.publish("results", tmp_path, "org/name", bogus=1)
    assert not any(tmp_path.iterdir())


def test_yaml_sections_validate_the_same_names(tmp_path):
    """The release's `eval:`/`publish:` sections are those configs (plus release-only fields); `training:` and a
    train `--config` file take TrainConfig's names; a value read from YAML is the value the flag gives."""
    import yaml

    from rankladder.release import ReleaseEval, ReleasePublish, load_release

    assert set(ReleaseEval.model_fields) - set(EvalConfig.model_fields) == {"include_base"}
    assert set(ReleasePublish.model_fields) - set(TaggedPublishOptions.model_fields) == {"dataset_repo", "model_repo"}
    evaluation = {k: (str(v) if isinstance(v, Path) else v) for k, v in values_of(EvalConfig).items()}
    publish = values_of(TaggedPublishOptions)
    training = {k: v for k, v in values_of(TrainConfig).items() if k != "config"}
    release = tmp_path / "release.yaml"
    release.write_text(yaml.safe_dump({"eval": evaluation, "publish": publish, "training": training}))
    loaded = load_release(release)
    assert EvalConfig(**{k: v for k, v in loaded["eval"].items() if k != "include_base"}) == EvalConfig(**evaluation)
    assert {k: loaded["publish"][k] for k in publish} == publish
    train_yaml = tmp_path / "train.yaml"
    train_yaml.write_text(yaml.safe_dump(training))
    config, trainer = split_options({"config": str(train_yaml)})
    assert (config.model_dump(exclude={"config"}), trainer) == (
        TrainConfig(**training).model_dump(exclude={"config"}),
        {},
    )


# ------------------------------------------------------------------ a value given each way reaches the entry
def write_beir(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    docs = {"d1": "cats purr and sleep", "d2": "dogs bark at the postman", "d3": "birds fly south in winter"}
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in docs.items()))
    queries = {"q1": "which animal purrs", "q2": "what barks"}
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in queries.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td2\t1\n")
    return folder


def test_eval_options_reach_the_entry_from_the_cli_and_the_api(tmp_path, minilm_path):
    folder = write_beir(tmp_path / "tiny")
    chosen = {
        "tasks": [str(folder)],
        "split": "test",
        "bm25": False,
        "level_order": False,
        "batch_size": 3,
        "max_seq_length": 32,
        "embedding_cache": str(tmp_path / "cache"),
        "save_predictions": True,
        "base": "me/tiny",
    }
    assert set(chosen) == set(EvalConfig.model_fields)
    argv = ["eval", "--model", minilm_path, "--name", "me/tiny", "--out", str(tmp_path / "cli")]
    assert main([*argv, *argv_of(EvalConfig, chosen, "-", bool_values=False)]) == 0
    rankladder.evaluate([minilm_path], chosen.pop("tasks"), tmp_path / "api", names=["me/tiny"], **chosen)
    for out in ("cli", "api"):
        recorded = json.loads((tmp_path / out / "eval_manifest.json").read_text())["config"]
        assert {k: recorded[k] for k in EvalConfig.model_fields} == {**chosen, "tasks": [str(folder)]}
        assert recorded["names"] == ["me/tiny"] and (tmp_path / out / "predictions").is_dir()
    assert (tmp_path / "cache").is_dir()


@pytest.fixture(scope="module")
def release_inputs(tmp_path_factory, minilm_path):
    root = tmp_path_factory.mktemp("publish")
    dataset = inputs.make_dataset_dir(root / "tiny-sycl", version="1.0.0")
    content_hash = json.loads((dataset / "rankladder_manifest.json").read_text())["content_hash"]
    return {
        "dataset": dataset,
        "model": inputs.make_checkpoint_dir(root / "model", minilm_path, content_hash),
        "results": inputs.make_results_dir(root / "results", model_name="org/minilm", others=("org/other",)),
    }


@pytest.mark.parametrize("how", ["cli", "api"])
def test_publish_options_reach_the_entry(release_inputs, tmp_path, capsys, how):
    results = release_inputs["results"]
    chosen = {
        "dataset": {"version": "1.0.0", "license": "mit", "private": True, "force": True, "dry_run": True}
        | {"trained_models": ["org/fine-a", "org/fine-b"]},
        "model": {"version": "1.0.0", "license": "mit", "private": True, "force": True, "dry_run": True}
        | {"dataset_repo": "org/tiny-sycl", "results": results, "base_model": "org/base"},
        "results": {"dry_run": True, "model": "org/minilm", "create_pr": True, "bundle_dir": tmp_path / "bundle"},
    }
    for kind, values in chosen.items():
        assert set(values) == set(PUBLISH_CONFIGS[kind].model_fields), kind
        out, repo = tmp_path / kind, "org/tiny-sycl" if kind == "dataset" else "org/minilm"  # results: of org/minilm
        if how == "cli":
            repo_flag = "--model-repo" if kind == "results" else "--repo"
            flags = argv_of(PUBLISH_CONFIGS[kind], values, "-", bool_values=False)
            argv = ["publish", kind, str(release_inputs[kind]), repo_flag, repo, "--out", str(out), *flags]
            assert main(argv) == 0
        else:
            assert rankladder.publish(kind, release_inputs[kind], repo, out=out, **values) == 0
    printed = capsys.readouterr().out
    assert printed.count("(the tag is moved if it exists: --force); the repo is created private") == 2
    assert "(as a pull request)" in printed and f"leaderboard bundle: {tmp_path / 'bundle'}" in printed
    dataset_card = (tmp_path / "dataset" / "README.md").read_text()
    assert "license: mit" in dataset_card and "`org/fine-a` (released with this version)" in dataset_card
    model_card = (tmp_path / "model" / "README.md").read_text()
    assert "license: mit" in model_card and "org/tiny-sycl" in model_card and "base_model: org/base" in model_card
    assert "model-index" in model_card  # the --results table
    assert "model-index" in (tmp_path / "results" / "README.md").read_text()


def test_train_options_reach_the_entry_from_the_cli_and_the_api(tmp_path, tiny_dataset_dir, minilm_path):
    """One step each way; the model folder's effective config and manifest record every option given."""
    import yaml

    trainer_yaml = tmp_path / "trainer.yaml"  # `config`: a YAML file under the flags (here the Trainer's options)
    trainer_yaml.write_text("max_steps: 1\nper_device_train_batch_size: 2\nsave_strategy: 'no'\nreport_to: none\n")
    chosen = {
        "data": str(tiny_dataset_dir),
        "model": minilm_path,
        "loss": "listnet",
        "config": str(trainer_yaml),
        "label_policy": "intended",
        "max_disagreement": 2,
        "group_size": 3,
        "group_strategy": "most_relevant",
        "cycle": False,
        "scale": 10.0,
        "similarity": "dot",
        "label_transform": "exp_gain",
        "label_temperature": 2.0,
        "loss_scale": 2.0,
        "gather_across_devices": True,
        "eval_split": "none",
        "max_eval_lists": 2,
        "max_seq_length": 32,
        "overwrite": True,
        "keep_checkpoints": True,
    }
    # `sources` replaces `data` as the training input and `train_split` has no other value on this dataset:
    # both are covered by the flag/YAML tests above (what the entry receives is split_options' result)
    assert set(TrainConfig.model_fields) - set(chosen) == {"out", "sources", "train_split"}
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    assert main(["train", "--out", str(cli_out), *argv_of(TrainConfig, chosen, "_", bool_values=True)]) == 0
    rankladder.train(api_out, **chosen)
    for out in (cli_out, api_out):
        effective = yaml.safe_load((out / "rankladder_train_config.yaml").read_text())
        assert {k: effective[k] for k in chosen if k != "config"} == {k: v for k, v in chosen.items() if k != "config"}
        assert effective["max_steps"] == 1 and effective["out"] == str(out)
        manifest = json.loads((out / "rankladder_train_manifest.json").read_text())
        assert manifest["loss"]["name"] == "listnet" and manifest["group"]["size"] == 3
        assert manifest["loss"]["config"]["similarity"] == "dot" and manifest["loss"]["config"]["scale"] == 10.0
        assert Path(f"{out}.checkpoints").is_dir()  # keep_checkpoints
