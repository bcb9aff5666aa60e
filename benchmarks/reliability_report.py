"""Reliability report (issues 6, 12): kill -9 trials, parser fuzzing, the bad-input catalogue (per class of
mistake), read-only/full disks, and the property-based CLI test's case counts.

    HF_HUB_OFFLINE=1 .venv/bin/python -m benchmarks.reliability_report            # defaults below
    ... --generate-trials 20 --build-trials 20 --train-trials 20 --fuzz 10000 --seed 0

Prints one JSON object. Every trial is a real ``rankladder`` subprocess killed with SIGKILL at a random
time (uniform over the first 90% of the uninterrupted run, so that nearly every trial dies mid-run),
then re-run with the same command (train: with ``--resume_from_checkpoint latest`` when a finished
checkpoint exists). ``generate`` runs against a loopback OpenAI-compatible server (stdlib, canned
distinct documents, a few ms per request) so that many trials fit; the SmolLM2 path is covered by tests/dataset_builder/test_generate.py. Budget on 2 shared
cores: generate ~4 s/trial, build ~6 s/trial, train ~40 s/trial (model load dominates).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import tests.helpers.cli_cases as cases
from tests.helpers.canned_openai import CannedOpenAI
from tests.reliability import test_bad_inputs as bad_inputs
from tests.reliability import test_disk as disk
from tests.reliability import test_kill as kill

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# -- generate against a loopback OpenAI-compatible server (tests/helpers/canned_openai.py) ---------------------


def generate_trials(root: Path, trials: int, rng: random.Random) -> dict:
    from rankladder.dataset_builder.runfiles import RECORDS

    server = CannedOpenAI()
    queries = root / "queries.jsonl"
    expected = cases.write_generation_queries(queries)

    def argv(out: Path) -> list[str]:
        return cases.canned_generate_argv(queries, server.url, out, 1, 2, "--max-new-tokens", "64")

    keys = cases.run_keys

    started = time.time()
    reference = kill.run_cli(argv(root / "gen-reference"))
    seconds = time.time() - started
    assert reference.returncode == 0, reference.stderr[-2000:]
    ref_keys = set(sum(keys(root / "gen-reference"), []))
    out = {
        "trials": 0,
        "failures": 0,
        "lost": 0,
        "duplicated": 0,
        "killed_mid_run": 0,
        "reference_seconds": round(seconds, 2),
        "reference_keys_match_expected": ref_keys == expected,
        "details": [],
    }
    try:
        for trial in range(trials):
            run_dir = root / f"gen-{trial}"
            delay = rng.uniform(0.2, 0.9 * seconds)
            killed = kill.run_and_kill(argv(run_dir), delay)
            survived = keys(run_dir)[0] if (run_dir / RECORDS).is_dir() else []
            rerun = kill.run_cli(argv(run_dir))
            accepted, rejected = keys(run_dir)
            got = Counter(accepted + rejected)
            lost = len(expected - set(got))
            duplicated = sum(n - 1 for n in got.values() if n > 1)
            problems = []
            if rerun.returncode != 0:
                problems.append(f"re-run exit {rerun.returncode}: {rerun.stderr.strip().splitlines()[-1:]}")
            if set(got) != expected:
                problems.append("key set differs from an uninterrupted run")
            if not set(survived) <= set(accepted):
                problems.append("records written before the kill were lost")
            out["trials"] += 1
            out["killed_mid_run"] += killed
            out["lost"] += lost
            out["duplicated"] += duplicated
            out["failures"] += bool(problems or lost or duplicated)
            if problems:
                out["details"].append({"trial": trial, "delay": round(delay, 2), "problems": problems})
    finally:
        server.close()
    return out


def build_trials(root: Path, trials: int, rng: random.Random, copies: int = 60) -> dict:
    run_dir = kill.write_big_run_dir(root / "build-run", copies=copies)
    reference, seconds = kill.build_reference(run_dir, root / "build-reference")
    out = {
        "trials": 0,
        "failures": 0,
        "lost": 0,
        "duplicated": 0,
        "killed_mid_run": 0,
        "incomplete_dataset_dirs_seen": 0,
        "trials_leaving_temp_dirs": 0,
        "temp_dirs_left_after_rerun": 0,
        "records": reference["records"],
        "reference_seconds": round(seconds, 2),
        "details": [],
    }
    for trial in range(trials):
        result = kill.build_kill_trial(
            run_dir, root / f"build-{trial}" / "ds", reference, rng.uniform(0.2, 0.9 * seconds)
        )
        out["trials"] += 1
        out["killed_mid_run"] += result["killed"]
        out["lost"] += result["lost"]
        out["duplicated"] += result["duplicated"]
        out["incomplete_dataset_dirs_seen"] += any("incomplete" in p for p in result["problems"])
        out["trials_leaving_temp_dirs"] += bool(result["leftover_temp_dirs"])
        out["temp_dirs_left_after_rerun"] += len(result["temp_dirs_after_rerun"])
        out["failures"] += bool(result["problems"] or result["lost"] or result["duplicated"])
        if result["problems"]:
            out["details"].append({"trial": trial, **result})
    return out


def train_trials(root: Path, trials: int, rng: random.Random) -> dict:
    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    write_run_dir(root / "train-run", rows)
    dataset = root / "train-ds"
    build_dataset([root / "train-run"], dataset, version="0.1.0", dev_fraction=0.25, seed=0)
    reference, seconds = kill.train_reference(dataset, root / "train-reference")
    out = {
        "trials": 0,
        "failures": 0,
        "lost": 0,
        "duplicated": 0,
        "killed_mid_run": 0,
        "resumed": 0,
        "steps": kill.TRAIN_STEPS,
        "reference_seconds": round(seconds, 2),
        "details": [],
    }
    for trial in range(trials):
        result = kill.train_kill_trial(
            dataset, root / f"train-{trial}", root / "train-reference", reference, rng.uniform(0.3, 0.9 * seconds)
        )
        out["trials"] += 1
        out["killed_mid_run"] += result["killed"]
        out["resumed"] += bool(result.get("resumed_from"))
        out["failures"] += bool(result["problems"])
        if result["problems"]:
            out["details"].append({"trial": trial, **result})
    return out


# -- fuzzing the parser -----------------------------------------------------------------------------

FRAGMENTS = [
    "",
    " ",
    "\n",
    "\r\n",
    "\t",
    "Sure! Here is a passage:\n",
    "**Passage:**\n",
    "Here's the document:",
    "<|im_start|>assistant\n",
    "<|im_end|>",
    "</s>",
    "[INST]",
    "[/INST]",
    "<|assistant|>",
    "assistant:",
    "I'm sorry, I cannot help with that.",
    "As an AI language model,",
    "I hope this helps!",
    "Note: ",
    "```json\n",
    "```",
    "{",
    "}",
    "[",
    "]",
    '"3":',
    '"level_2": "',
    '"',
    "'",
    "`",
    ":",
    ",",
    "null",
    "true",
    '{"3": "A full answer.", "2": "Partly.", "1": "Related.", "0": "Unrelated."}',
    '{"3": 5}',
    "{{{{",
    "}}}}",
    '{"a": ' * 50,
    "]" * 60,
    "\\u0000",
    "\x00",
    "\x1b[31m",
    "\ufeff",
    "\u202e",
    "é",
    "漢字",
    "🙂",
    "\ud800",
    "#### ",
    "**bold**",
    "Document 1:",
    "Title:\n",
    "..." * 20,
    "The mitochondria is the powerhouse of the cell and makes energy for it.",
    "word " * 500,
    "a" * 5000,
    "\n" * 200,
]


def fuzz_inputs(count: int, rng: random.Random):
    odd = [None, 0, 3.5, b"bytes", ["list"], {"3": "dict"}, True]
    for i in range(count):
        if i % 97 == 0:
            yield odd[(i // 97) % len(odd)]
            continue
        pieces = [rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 12))]
        if rng.random() < 0.3:  # random code points, including surrogates and controls
            pieces.append("".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(1, 60)) if True))
        if rng.random() < 0.2:
            pieces.append(
                json.dumps(
                    {
                        str(rng.choice([3, 2, 1, 0, "x", "level 3"])): rng.choice(FRAGMENTS)
                        for _ in range(rng.randint(0, 5))
                    }
                )
            )
        rng.shuffle(pieces)
        yield "".join(pieces)


def fuzz(count: int, rng: random.Random) -> dict:
    from rankladder.dataset_builder.parsing import clean_generation, duplicate_reason, parse_levels_json, validate

    exceptions, samples = 0, []
    accepted = ["The mitochondria is the powerhouse of the cell and makes energy for the cell."]
    prompts = ("Write a passage that fully answers the query: why is the sky blue",)
    started = time.time()
    for raw in fuzz_inputs(count, rng):
        try:
            cleaned = clean_generation(raw)
            assert isinstance(cleaned, str)
            reason = validate(cleaned, prompts)
            assert reason is None or isinstance(reason, str)
            duplicate_reason(cleaned, accepted)
            levels = parse_levels_json(raw, [3, 2, 1, 0])
            assert isinstance(levels, dict) and all(isinstance(v, str) for v in levels.values())
            for text in levels.values():
                validate(text, prompts)
            if reason is None and len(accepted) < 50:
                accepted.append(cleaned)
        except Exception as exc:  # noqa: BLE001 - counting is the point
            exceptions += 1
            if len(samples) < 5:
                samples.append({"input": repr(raw)[:200], "error": f"{type(exc).__name__}: {exc}"[:200]})
    return {"outputs": count, "exceptions": exceptions, "seconds": round(time.time() - started, 1), "examples": samples}


# -- bad inputs and disks ---------------------------------------------------------------------------


def bad_input_catalogue(root: Path) -> dict:
    workspace = bad_inputs.make_workspace(root / "bad-w")
    results = bad_inputs.run_catalogue(workspace, root / "bad-cases")
    kinds = {case.id: case.kind for case in bad_inputs.CATALOGUE}
    classes: dict = {}
    for r in results:
        entry = classes.setdefault(kinds[r["id"]], {"cases": 0, "passed": 0})
        entry["cases"] += 1
        entry["passed"] += not r["problems"]
    return {
        "cases": len(results),
        "passed": sum(not r["problems"] for r in results),
        "classes": classes,
        "failures": [{"id": r["id"], "problems": r["problems"], "line": r["line"]} for r in results if r["problems"]],
    }


def property_cli() -> dict:
    """tests/reliability/test_property.py (hypothesis, seeded): its case counts per command and outcome."""
    import re
    import subprocess

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(ROOT / "tests" / "reliability" / "test_property.py"),
            "-q",
            "-s",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    found = re.search(r"property cases run: (\d+) (\{.*\})", result.stdout)
    summary = result.stdout.strip().splitlines()[-1:] if result.stdout.strip() else []
    return {
        "cases": int(found.group(1)) if found else None,
        "by_outcome": json.loads(found.group(2).replace("'", '"')) if found else None,
        "pytest": summary[0] if summary else None,
        "returncode": result.returncode,
    }


def disks(root: Path) -> dict:
    workspace = bad_inputs.make_workspace(root / "disk-w")
    out = {"cases": 0, "passed": 0, "media": set(), "failures": []}

    def record(name: str, how: str, problems: list[str]) -> None:
        out["cases"] += 1
        out["passed"] += not problems
        out["media"].add(how)
        if problems:
            out["failures"].append({"case": name, "medium": how, "problems": problems})

    for command in ("generate", "build", "train", "eval", "publish dataset"):
        with disk.readonly_dir(root / "ro") as (ro, how):
            argv, output = disk.readonly_cases(workspace, ro)[command]
            record(f"read-only/{command}", how, disk.check(argv, output, str(ro)))
    with disk.full_dir(root / "full") as (full, preexec, how):
        record(
            "disk-full/build",
            how,
            disk.check(
                ["build", str(workspace / "run"), "--out", str(full / "ds"), "--version", "1.0.0"],
                full / "ds",
                str(full / "ds"),
                preexec,
            ),
        )
    with disk.full_dir(root / "full", size_kb=24, fill_from=workspace / "ds") as (full, preexec, how):
        record(
            "disk-full/build-overwrite-keeps-old",
            how,
            disk.check(
                ["build", str(workspace / "run"), "--out", str(full / "ds"), "--version", "2.0.0", "--overwrite"],
                full / "ds",
                str(full / "ds"),
                preexec,
            ),
        )
    with disk.full_dir(root / "full") as (full, preexec, how):
        record(
            "disk-full/publish-dataset",
            how,
            disk.check(
                cases.publish_dataset_dry_run_argv(workspace / "ds", full / "release"),
                full / "release",
                str(full / "release"),
                preexec,
            ),
        )
    with disk.full_dir(root / "full", size_kb=20 * 1024) as (full, preexec, how):  # MiniLM weights are ~90 MB
        record(
            "disk-full/train-checkpoint-save",
            how,
            disk.check(
                kill.train_argv(workspace / "ds", full / "model"),
                full / "model" / "rankladder_train_manifest.json",
                str(full / "model"),
                preexec,
            ),
        )
    out["media"] = sorted(out["media"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generate-trials", type=int, default=20)
    parser.add_argument("--build-trials", type=int, default=20)
    parser.add_argument("--train-trials", type=int, default=20)
    parser.add_argument("--fuzz", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["kill", "fuzz", "bad_inputs", "read_only", "property_cli"]
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="rankladder-reliability-"))
    report: dict = {"seed": args.seed}
    timings = {}
    try:
        if "kill" not in args.skip:
            report["kill_trials"] = {}
            for name, fn, n in (
                ("generate", generate_trials, args.generate_trials),
                ("build", build_trials, args.build_trials),
                ("train", train_trials, args.train_trials),
            ):
                if n:
                    started = time.time()
                    (scratch / name).mkdir()
                    report["kill_trials"][name] = fn(scratch / name, n, rng)
                    timings[f"kill_{name}"] = round(time.time() - started, 1)
        for key, fn in (
            ("fuzz", lambda: fuzz(args.fuzz, rng)),
            ("bad_inputs", lambda: bad_input_catalogue(scratch)),
            ("read_only", lambda: disks(scratch)),
            ("property_cli", property_cli),
        ):
            if key not in args.skip:
                started = time.time()
                report[key] = fn()
                timings[key] = round(time.time() - started, 1)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    report["seconds"] = timings
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
