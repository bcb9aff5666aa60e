"""The CLI turns bad input into one line on stderr and exit code 2, leaving nothing behind."""

import subprocess
import sys

import pytest

from rankladder.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def levels_file(tmp_path):
    path = tmp_path / "levels.yaml"
    path.write_text(
        "levels:\n  - {value: 1, name: a, definition: b, instruction: c}\n"
        "  - {value: 0, name: z, definition: y, instruction: x}\n"
    )
    return path


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--queries", "{tmp}/missing.jsonl"], "missing.jsonl: queries file not found"),
        (["--queries", "{tmp}/bad.jsonl"], "bad.jsonl:2: malformed JSON"),
        (["--queries", "{tmp}/cols.jsonl"], "cols.jsonl:1: no text column"),
        (["--queries", "{tmp}/dup.jsonl"], "dup.jsonl:2: field '_id': duplicate query id"),
        (["--queries", "{tmp}/empty.jsonl"], "empty.jsonl: no queries found"),
        (["--levels-config", "{levels}", "--levels", "3"], "levels (--levels): unknown level 3"),
        (["--levels-config", "{tmp}/badlevels.yaml"], "badlevels.yaml: levels[0]: field 'instruction' is missing"),
        (["--shard", "2/2"], "shard (--shard): need 0 <= I < N"),
        (["--window", "0"], "--window: must be at least 1 (got 0)"),
        (["--backend", "transformers", "--model", "{tmp}/no-such-model"], "model path not found"),
        (["--prompt-template", "{tmp}/nope.yaml"], "nope.yaml: prompt template not found"),
    ],
)
def test_generate_bad_input(tmp_path, capsys, levels_file, argv, message):
    (tmp_path / "bad.jsonl").write_text('{"_id": "1", "text": "a"}\n{oops\n')
    (tmp_path / "cols.jsonl").write_text('{"_id": "1", "body": "a"}\n')
    (tmp_path / "dup.jsonl").write_text('{"_id": "1", "text": "a"}\n{"_id": "1", "text": "b"}\n')
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "badlevels.yaml").write_text("- {value: 1, name: a, definition: b}\n")
    argv = [a.format(tmp=tmp_path, levels=levels_file) for a in argv]
    code, _, err = run_cli(capsys, "generate", "--out", str(tmp_path / "run"), "--limit", "1", *argv)
    assert code == 2
    line = one_line_error(err)
    assert message in line and line.startswith("rankladder generate: error:")
    assert not (tmp_path / "run" / "records").exists()


def test_build_bad_input(tmp_path, capsys):
    code, _, err = run_cli(
        capsys, "build", str(tmp_path / "nothing"), "--out", str(tmp_path / "ds"), "--version", "1.0.0"
    )
    assert code == 2 and "RUN_DIR not found" in one_line_error(err)
    assert not (tmp_path / "ds").exists()


def test_unknown_option_exits_2():
    result = subprocess.run(
        [sys.executable, "-m", "rankladder.cli", "build", "run", "--out", "x", "--version", "1.0.0", "--no-such-flag"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


def test_help_lists_every_stage():
    result = subprocess.run([sys.executable, "-m", "rankladder.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("generate", "build"):
        assert command in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "rankladder.cli", "generate", "--help"], capture_output=True, text=True
    )
    for flag in ("--queries", "--shard", "--backend", "--prompt-mode", "--max-attempts", "--temperature"):
        assert flag in result.stdout


def test_build_cli_prints_summary_and_logs_into_the_dataset(tmp_path, capsys, graded_rows):
    from tests.helpers.console_checks import assert_quiet, summary_block
    from tests.helpers.run_fixtures import write_run_dir

    run = write_run_dir(tmp_path / "run", graded_rows)
    code, out, err = run_cli(
        capsys, "build", str(run), "--out", str(tmp_path / "ds"), "--version", "0.2.0", "--dev-fraction", "0.25", "-q"
    )
    assert code == 0
    assert_quiet(out + err)
    rows = summary_block(out, "build")
    assert rows["version"].startswith("0.2.0 (content hash ") and rows["split"].endswith("/ 4 dev queries")
    assert rows["wrote"].startswith(str(tmp_path / "ds")) and "4 levels" in rows["wrote"]
    assert "rankladder train --data" in rows["next"]
    (log,) = (tmp_path / "ds" / "logs").glob("build-*.log")  # the command's log, inside its output
    assert log.stat().st_size > 0
