"""Property: whatever a stranger types, every command exits 0 or 2, never shows a traceback, prints one
line on exit 2, and writes nothing outside the output it was given.

Hypothesis draws, per subcommand, a random subset of its options with random values (typical, boundary
and junk) and its input files, each either good or damaged (BOM, CRLF, header row, truncated, latin-1,
UTF-16, wrong columns, empty, binary, missing, a folder) and an output that is new, an empty folder, a
folder holding a user's file, or a file. ``rankladder.cli.main`` runs in-process (milliseconds a case).
Cases never reach heavy work: generation goes to a loopback server with canned passages or to a closed
port, and the first model load (SentenceTransformer, the transformers/vLLM generator) stops the case
with ``ReachedModel`` (all inputs were accepted: the case still checks that nothing was written
outside the output). Options the tables below do not name are found on the parser and fuzzed too, so
new flags are covered without editing this file. Seeded (``derandomize``): CI runs the same cases.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.cli_fuzz import (
    DAMAGES,
    TARGETS,
    UNREACHABLE,
    changes,
    make_workspace,
    outside,
    place_input,
    snapshot,
)

NUM = st.one_of(
    st.sampled_from(["1", "2", "3"]),  # valid for most options: one bad value per case is enough
    st.sampled_from(["0", "-1", "-5", "0.5", "1.5", "-0.1", "nan", "inf", "1e9", "x", ""]),
)
TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=10)
PATHISH = st.sampled_from(["", ".", "..", "/", "nowhere/at/all", "a b", "-x", "org/name", "../escape"])
JUNK = st.one_of(NUM, TEXT, PATHISH)
VERSION = st.sampled_from(["1.0.0", "0.1.0", "1.x", "", "v1.0.0", "1.0", "01.2.3"])
REPO = st.sampled_from(["org/name", "no slash", "a/b/c", "org/na me", "-org/x", "org/", "ORG/Name.v2"])
LICENSE = st.sampled_from(["apache-2.0", "cc-by-4.0", "mit", "not a licence", "", "other"])
EXAMPLES = {
    "generate": 40,
    "build": 20,
    "train": 40,
    "eval": 30,
    "publish dataset": 25,
    "publish model": 20,
    "publish results": 20,
    "run": 15,
    "study": 20,
    "quickstart": 10,
    "mine": 20,
}
CASES: Counter = Counter()  # how many cases ran, per command and outcome (printed at the end)
CASE_NUMBERS = itertools.count()


class ReachedModel(BaseException):
    """Raised where a case would start loading a model: its inputs were all accepted."""


# per command: the inputs (flag or positional index -> names in the workspace), the flags naming outputs,
# and value pools for its own options (unnamed options get JUNK, or their choices plus junk)
COMMANDS: dict[str, dict] = {
    "generate": {
        "inputs": {
            "--queries": ["queries.jsonl", "queries.tsv", "beir"],
            "--levels-config": ["levels.yaml"],
            "--prompt-template": ["template.yaml"],
        },
        "outputs": ["--out"],
        "always": ["--backend", "openai", "--model", "fake", "--base-url", "LLM", "--no-progress"],
        "values": {
            "--limit": NUM,
            "--levels": st.sampled_from(["3,0", "7", "", "a,b", "3,3", "-1"]),
            "--base-url": st.sampled_from(["LLM", UNREACHABLE, "notaurl", "http://"]),
            "--backend": st.sampled_from(["openai", "openai", "transformers", "vllm", "gpt"]),
            "--shard": st.sampled_from(["0/1", "1/2", "2/2", "x", "1/0", "-1/2"]),
            "--qrels-split": st.sampled_from(["test", "dev", ""]),
            "--samples-per-level": NUM,
            "--max-attempts": NUM,
            "--concurrency": NUM,
            "--window": NUM,
            "--max-new-tokens": NUM,
        },
    },
    "build": {
        "inputs": {0: ["run", "run", "ds", "beir"], 1: ["run"]},
        "outputs": ["--out"],
        "always": ["--version", "1.0.0"],
        "values": {
            "--version": VERSION,
            "--dev-fraction": NUM,
            "--name": st.one_of(PATHISH, TEXT),
            "--select-by-similarity": st.sampled_from(["nowhere", "ckpt"]),
            "--separability": st.sampled_from(["nowhere"]),
        },
    },
    "train": {
        "inputs": {
            "--data": ["ds", "ds", "beir", "run"],
            "--config": ["train.yaml"],
            "--sources": ["sources.yaml"],
            "--model": ["ckpt"],
            "--resume_from_checkpoint": ["ckpt"],
        },
        "outputs": ["--out"],
        "always": ["--use_cpu", "true", "--report_to", "none"],
        "values": {"--resume_from_checkpoint": st.sampled_from(["latest", "nowhere"])},
    },
    "eval": {
        "inputs": {"--model": ["ckpt"], "--tasks": ["beir", "ds"], "--compare": ["results"]},
        "outputs": ["--out", "--embedding-cache"],
        "always": [],
        "values": {
            "--tasks": st.sampled_from(["NoSuchTask", "nowhere"]),
            "--split": st.sampled_from(["test", "dev", "x"]),
            "--model": st.sampled_from(["nowhere", "org/not-cached"]),
            "--batch-size": NUM,
        },
    },
    "publish dataset": {
        "inputs": {0: ["ds", "ds", "run", "ckpt"]},
        "outputs": ["--out"],
        "defaults": ["release"],
        "always": ["--repo", "org/name", "--version", "0.1.0", "--license", "apache-2.0", "--dry-run"],
        "values": {"--repo": REPO, "--version": VERSION, "--license": LICENSE},
    },
    "publish model": {
        "inputs": {0: ["ckpt", "ckpt", "ds"], "--results": ["results"]},
        "outputs": ["--out"],
        "defaults": ["release"],
        "always": ["--repo", "org/name", "--version", "1.0.0", "--dry-run"],
        "values": {"--repo": REPO, "--version": VERSION, "--license": LICENSE, "--dataset-repo": REPO},
    },
    "publish results": {
        "inputs": {0: ["results", "results", "ds"]},
        "outputs": ["--out", "--bundle-dir"],
        "defaults": ["release"],
        "always": ["--model-repo", "org/name", "--dry-run"],
        "values": {"--model-repo": REPO, "--model": st.sampled_from(["org/minilm", "other"])},
    },
    "run": {"inputs": {0: ["release.yaml"]}, "outputs": ["--out"], "always": ["--quiet"], "values": {}},
    "study": {
        "inputs": {0: ["study.yaml"]},
        "outputs": ["--out"],
        "always": ["--no-progress"],
        "values": {
            "--seeds": st.sampled_from(["0", "0,1", "x", "", "-1", "1,,2"]),
            "--settings": st.sampled_from(["ws2", "nope", "", "infonce,ws2"]),
        },
    },
    "quickstart": {
        "inputs": {"--eval-data": ["beir", "ds"]},
        "outputs": ["--out"],
        "always": ["--quiet"],
        "defaults": ["out/quickstart"],
        "values": {"--limit": NUM},
    },
    "mine": {"inputs": {}, "outputs": ["--out"], "always": [], "values": {}},
}
NEVER_FUZZED = {"-h", "--help", "--verbose", "-v", "--version"}
# Trainer flags that would start heavy or networked work (they get junk values only, never valid ones)
TRAIN_JUNK_ONLY = ("hub", "push_to_hub", "deepspeed", "fsdp", "torch_compile", "logging_dir", "tpu", "ddp")


def subparser(words: list[str]) -> argparse.ArgumentParser:
    from rankladder.cli import build_parser

    parser = build_parser()
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    if words == ["train"]:  # the Trainer's flags are parsed by transformers' HfArgumentParser when train runs
        from types import SimpleNamespace

        from transformers import HfArgumentParser

        from rankladder.training.config import training_args_class

        ours = {s for a in parser._actions for s in a.option_strings}
        theirs = HfArgumentParser(training_args_class())._actions
        extra = [a for a in theirs if a.option_strings and not set(a.option_strings) & ours and a.dest != "output_dir"]
        return SimpleNamespace(_actions=[*parser._actions, *extra])
    return parser


def option_pool(action: argparse.Action, values: dict, junk_only: bool):
    flag = action.option_strings[0]
    if flag in values:
        return st.one_of(values[flag], values[flag], values[flag], JUNK)
    if action.nargs == 0:
        return st.just(None)
    if action.choices and not junk_only:
        choices = st.sampled_from([str(c) for c in action.choices])
        return st.one_of(choices, choices, choices, JUNK)
    if action.type in (int, float) and not junk_only:
        return NUM
    return JUNK


@st.composite
def plans(draw, command: str):
    spec, words = COMMANDS[command], command.split()
    parser = subparser(words)
    output_dests = {a.dest for a in parser._actions if set(a.option_strings) & set(spec["outputs"])}
    optional = [
        a
        for a in parser._actions
        if a.option_strings and not set(a.option_strings) & NEVER_FUZZED and a.dest not in output_dests
    ]
    chosen = draw(st.lists(st.sampled_from(optional), unique_by=lambda a: a.dest, max_size=4)) if optional else []
    options = []
    for action in chosen:
        junk_only = command == "train" and any(word in action.dest for word in TRAIN_JUNK_ONLY)
        value = draw(option_pool(action, spec["values"], junk_only))
        options.append([action.option_strings[0]] + ([] if value is None else [value]))
    inputs = []
    slots = dict(spec["inputs"])
    positionals = [a for a in parser._actions if not a.option_strings and a.nargs != argparse.PARSER]
    for index, _ in enumerate(positionals):  # a command the tables do not know: any input may go there
        slots.setdefault(index, sorted(TARGETS))
    for slot, names in slots.items():
        if isinstance(slot, str) and not draw(st.booleans()):
            continue
        name = draw(st.sampled_from(names))
        damage = draw(st.one_of(st.none(), st.sampled_from(DAMAGES)))
        inputs.append((slot, name, damage, draw(st.integers(0, len(TARGETS[name]) - 1)), draw(st.integers(0, 99))))
    output = draw(st.sampled_from(["new", "new", "empty-dir", "user-files", "file", "omitted"]))
    return {"command": command, "options": options, "inputs": inputs, "output": output}


def materialize(plan: dict, workspace: Path, case: Path, llm_url: str) -> tuple[list[str], list[str], Path | None]:
    """argv, the allowed output paths (relative to the case folder) and the user's file (if any)."""
    spec = COMMANDS[plan["command"]]
    argv = plan["command"].split()
    positionals, flags = {}, []
    for number, (slot, name, damage, target, seed) in enumerate(plan["inputs"]):
        path = str(place_input(workspace, case, name, damage, target, seed, number))
        if isinstance(slot, int):
            positionals[slot] = path
        else:
            flags += [slot, path]
    argv += [positionals[k] for k in sorted(positionals)] + flags + list(spec["always"])
    for option in plan["options"]:
        argv += option
    argv = [value.replace("LLM", llm_url) for value in argv]  # never a real server: the loopback one
    allowed, user_file = [], None
    if plan["output"] == "omitted":
        allowed += spec.get("defaults", [])
    else:
        parser = subparser(plan["command"].split())
        known = {s for a in parser._actions for s in a.option_strings}
        for n, flag in enumerate(f for f in spec["outputs"] if f in known):
            out = case / "out" / f"o{n}"
            argv += [flag, str(out)]
            allowed += [f"out/o{n}", f"out/o{n}.checkpoints"]  # train's documented checkpoint sibling
            if plan["output"] == "file":
                out.write_text("a user's file\n")
                user_file = out
            elif plan["output"] in ("empty-dir", "user-files"):
                out.mkdir()
                if plan["output"] == "user-files":
                    user_file = out / "notes.txt"
                    user_file.write_text("a user's notes\n")
    return argv, allowed, user_file


@pytest.fixture(scope="module")
def env(tmp_path_factory, minilm_path):
    """The workspace, a loopback LLM, and the model loads turned into ``ReachedModel``."""
    from sentence_transformers import SentenceTransformer

    from rankladder.dataset_builder.backends.transformers_backend import TransformersBackend
    from tests.helpers.canned_openai import CannedOpenAI

    def reached(*args, **kwargs):
        raise ReachedModel()

    server = CannedOpenAI(delay=0)
    root = tmp_path_factory.mktemp("property")
    workspace = make_workspace(root / "w", minilm_path, server.url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentenceTransformer, "__init__", reached)
        patch.setattr(TransformersBackend, "__init__", reached)
        try:
            from rankladder.dataset_builder.backends.vllm_backend import VLLMBackend

            patch.setattr(VLLMBackend, "__init__", reached)
        except ImportError:
            pass
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.delenv("OPENAI_BASE_URL", raising=False)
        yield {"workspace": workspace, "root": root, "llm": server.url, "before": snapshot(workspace)}
    server.close()
    print(f"\nproperty cases run: {sum(CASES.values())} {dict(sorted(CASES.items()))}")


def run_case(plan: dict, env: dict, capsys) -> None:
    from rankladder.cli import main

    case = env["root"] / f"case-{next(CASE_NUMBERS):05d}"
    (case / "out").mkdir(parents=True)
    argv, allowed, user_file = materialize(plan, env["workspace"], case, env["llm"])
    user_bytes = user_file.read_bytes() if user_file else None
    before = snapshot(case)
    home = os.getcwd()
    os.chdir(case)  # relative default outputs (./release, out/quickstart) land in the case folder
    capsys.readouterr()
    started, outcome = time.monotonic(), "exit"
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except ReachedModel:
        code, outcome = 0, "reached-model"
    finally:
        os.chdir(home)
    seconds = time.monotonic() - started
    err = capsys.readouterr().err
    CASES[f"{plan['command']}/{outcome if outcome != 'exit' else code}"] += 1
    if os.environ.get("RANKLADDER_PROPERTY_TRACE"):
        print(
            f"[{code} {seconds:.2f}s] {' '.join(argv)}\n    {err.strip().splitlines()[-1:] if err.strip() else ''}",
            file=sys.__stderr__,
        )
    shown = f"rankladder {' '.join(argv)}\nexit {code} after {seconds:.1f}s; stderr:\n{err[-2000:]}"
    assert code in (0, 2), shown
    assert "Traceback" not in err, shown
    if code == 2 and outcome == "exit":
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("rankladder "), shown
    written = outside(changes(before, snapshot(case)), allowed)
    assert not written, f"{shown}\nwritten outside the named output: {written}"
    assert not changes(env["before"], snapshot(env["workspace"])), f"{shown}\nthe shared good inputs changed"
    if user_file is not None and not (code == 0 and "--overwrite" in argv):
        assert user_file.is_file() and user_file.read_bytes() == user_bytes, f"{shown}\na user's file was changed"
    assert seconds < 60, f"{shown}\ncase took {seconds:.0f}s: it reached heavy work"
    shutil.rmtree(case, ignore_errors=True)


def available(command: str) -> bool:
    from rankladder.cli import build_parser

    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return command.split()[0] in action.choices


def property_test(command: str):
    @pytest.mark.skipif(not available(command), reason=f"no `rankladder {command}` in this version")
    @settings(
        max_examples=EXAMPLES[command],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def test(env, capsys, data):
        run_case(data.draw(plans(command)), env, capsys)

    test.__name__ = f"test_{command.replace(' ', '_')}_exits_0_or_2_and_writes_only_its_output"
    return test


for _command in EXAMPLES:
    _test = property_test(_command)
    globals()[_test.__name__] = _test
