"""Help that helps, and what every command shares (issue 15): fast ``--help`` with examples and each default
once, the overview on a bare ``rankladder``, ``-v``/``-q`` anywhere, both flag spellings, and logs that go to a
file instead of the terminal. Cheap: parsers and stand-in commands only, no model."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from rankladder.cli import build_parser, main
from rankladder.core.logs import NORMAL, QUIET, VERBOSE

RANKLADDER = str(Path(sys.executable).parent / "rankladder")  # the installed console script
HEAVY = ("torch", "transformers", "datasets", "mteb", "sentence_transformers")


def leaf_parsers(parser=None, path=()):
    import argparse

    parser = parser or build_parser()
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield " ".join(path), parser
    for action in subs:
        for name, sub in action.choices.items():
            yield from leaf_parsers(sub, (*path, name))


COMMANDS = [name for name, _ in leaf_parsers()]


def test_every_command_is_listed():
    assert {"generate", "build", "judge", "mine", "train", "eval", "study", "publish dataset"} <= set(COMMANDS)


def test_building_the_parser_and_every_help_imports_nothing_heavy():
    """The real reason ``--help`` is fast: no heavy library is imported to build or print it."""
    code = (
        "import sys\n"
        "from rankladder.cli import build_parser\n"
        "from tests.pipeline.test_cli_help import leaf_parsers\n"
        "texts = [p.format_help() for name, p in leaf_parsers()]\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]", result.stdout


def option_entries(help_text: str) -> list[str]:
    """One string per option (its line and the indented continuation lines)."""
    entries: list[str] = []
    for line in help_text.splitlines():
        if re.match(r"^  -", line):
            entries.append(line)
        elif entries and line.startswith("   ") and not entries[-1].startswith("examples"):
            entries[-1] += " " + line.strip()
        elif not line.startswith(" "):
            entries.append("")  # a heading ends the previous entry
    return [e for e in entries if e]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_fast_has_examples_and_shows_each_default_once(command):
    started = time.monotonic()
    result = subprocess.run([RANKLADDER, *command.split(), "--help"], capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert "\nexamples:\n" in text and f"rankladder {command} " in text.split("\nexamples:\n", 1)[1]
    assert "(default: None)" not in text
    twice = [e for e in option_entries(text) if e.count("(default") > 1]
    assert not twice, twice
    assert seconds < 3.0, f"{command} --help took {seconds:.1f} s (target: under 1 s; the box is shared)"


def test_bare_rankladder_prints_the_overview():
    result = subprocess.run([RANKLADDER], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and not result.stderr
    assert result.stdout.startswith("usage: rankladder") and "\nexamples:\n" in result.stdout
    for command in ("generate", "build", "train", "eval", "publish", "quickstart"):
        assert f"\n    {command} " in result.stdout


@pytest.mark.parametrize(
    "argv, level",
    [
        (["build", "r", "--out", "x", "--version", "1.0.0"], NORMAL),
        (["build", "r", "--out", "x", "--version", "1.0.0", "-q"], QUIET),
        (["-v", "build", "r", "--out", "x", "--version", "1.0.0"], VERBOSE),
        (["build", "-v", "r", "--out", "x", "--version", "1.0.0"], VERBOSE),
        (["publish", "dataset", "d", "--repo", "o/n", "--version", "1.0.0", "--quiet"], QUIET),
        (["-q", "quickstart", "--out", "x"], QUIET),
        (["mine", "f", "--out", "x", "--verbose"], VERBOSE),
    ],
)
def test_verbosity_flags_work_before_or_after_the_command(argv, level):
    assert build_parser().parse_args(argv).log_verbosity == level


def test_one_spelling_per_option(capsys):
    parser = build_parser()
    base = ["build", "r", "--out", "x", "--version", "1.0.0"]
    assert parser.parse_args([*base, "--dev-fraction", "0.3"]).dev_fraction == 0.3
    assert parser.parse_args([*base, "--dev", "0.5"]).dev_fraction == 0.5  # argparse's own abbreviation
    for argv in ([*base, "--dev_fraction", "0.4"], ["mine", "f", "--out", "x", "--negatives_per_query", "3"]):
        assert parser.parse_known_args(argv)[1] == argv[-2:]  # no hidden alias: main reports it as unknown
    assert parser.parse_args(["eval", "--out", "o"]).out == "o"


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--model", "m", "--tasks", "t", "--output" + "-dir", "o"],
        ["eval", "--compare", "a", "b", "--output_dir", "o"],
        ["publish", "dataset", "d", "--repo", "o/n", "--version", "1.0.0", "--dry-run", "--" + "output", "o"],
        ["train", "--data", "d", "--output_dir", "o"],
        ["train", "--data", "d", "--output" + "-dir", "o"],
        ["train", "--data", "d", "--" + "output", "o"],
    ],
)
def test_an_old_spelling_of_the_output_folder_is_one_line_naming_out(argv, tmp_path, capsys):
    try:  # a usage error exits from the parser (SystemExit), a bad value of train's Trainer flags returns 2
        code = main([arg if arg != "o" else str(tmp_path / "o") for arg in argv])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"rankladder {argv[0]}: error: ") and re.search(r"--out\b(?![-_])", line), line
    assert not (tmp_path / "o").exists()


def test_every_command_with_an_output_folder_calls_it_out():
    for name, parser in leaf_parsers():
        arg = parser.get_default("output_arg")
        assert arg in (None, "out", "run_dirs"), (name, arg)  # judge writes into each RUN_DIR it is given
        assert not re.search(r"--output([-_]dir)?(?![\w-])", parser.format_help()), name


def test_a_closed_pipe_ends_quietly(tmp_path, graded_rows):
    """`rankladder build ... | head`: the reader is gone before the summary is written; no BrokenPipeError
    traceback, no log kept as if the command had crashed; the dataset itself was written."""
    import os

    from tests.helpers.run_fixtures import write_run_dir

    run = write_run_dir(tmp_path / "run", graded_rows)
    read, write = os.pipe()
    os.close(read)  # closed before rankladder writes: every write to stdout fails (EPIPE)
    try:
        argv = [RANKLADDER, "build", str(run), "--out", str(tmp_path / "ds"), "--version", "1.0.0"]
        result = subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write)
    assert result.stderr == "" and result.returncode == 1  # Python's recipe: quiet, and not a success
    assert (tmp_path / "ds" / "rankladder_manifest.json").is_file()


def test_every_command_names_its_output_folder():
    """Where its log goes once it succeeds (None: no single folder of its own, e.g. publish)."""
    for name, parser in leaf_parsers():
        assert "output_arg" in parser._defaults, name
        arg = parser._defaults["output_arg"]
        assert arg is None or any(a.dest == arg for a in parser._actions), name


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """Replace ``build``'s work by ``work(args)``: the CLI around it is the real one. Temp files (the running
    command's log) go to a private folder, ``tmp_path / "tmp"``."""
    import tempfile

    from rankladder.dataset_builder import cli

    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))

    def install(work):
        monkeypatch.setattr(cli, "run_build", work)

    return install


def noisy_work(args):
    """What libraries do during a real command: a Python warning, INFO logs, datasets' "Generating train split"
    bar, a warning of our own."""
    import huggingface_hub.utils.logging as hub_logging
    from datasets import load_dataset

    rows = Path(args.out + ".jsonl")
    rows.write_text('{"a": 1}\n{"a": 2}\n')
    assert len(load_dataset("json", data_files=str(rows), split="train")) == 2
    warnings.warn(f"mteb will change this ({Path(args.out).name})", FutureWarning, stacklevel=1)
    logging.getLogger("matplotlib.font_manager").info("findfont: noise")
    hub_logging.get_logger("huggingface_hub.file_download").warning("hub noise")
    logging.getLogger("rankladder.dataset_builder.build").warning("building from runs that did not finish")
    Path(args.out).mkdir()
    return 0


BUILD = ["build", "run", "--version", "1.0.0", "--out"]


def test_library_noise_goes_to_the_log_file_and_own_warnings_to_the_terminal(tmp_path, capsys, stand_in):
    from tests.helpers.console_checks import assert_quiet

    stand_in(noisy_work)
    assert main([*BUILD, str(tmp_path / "ds")]) == 0
    captured = capsys.readouterr()
    assert_quiet(captured.out + captured.err)
    assert captured.err.splitlines() == ["WARNING: building from runs that did not finish"]
    (log,) = (tmp_path / "ds" / "logs").glob("build-*.log")
    text = log.read_text()
    for line in ("FutureWarning: mteb will change this", "findfont: noise", "hub noise", "did not finish"):
        assert line in text

    assert main([*BUILD, str(tmp_path / "ds-v"), "-v"]) == 0
    err = capsys.readouterr().err
    assert "FutureWarning" in err and "findfont: noise" in err and "hub noise" in err
    assert "Generating train split" in err  # -v: the library's own bars too

    assert main([*BUILD, str(tmp_path / "ds-q"), "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_a_crash_keeps_its_log_outside_the_output(tmp_path, capsys, stand_in):
    def crash(args):
        logging.getLogger("rankladder.dataset_builder.build").info("step before the crash")
        raise RuntimeError("boom")

    stand_in(crash)
    with pytest.raises(RuntimeError, match="boom"):
        main([*BUILD, str(tmp_path / "ds")])
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("rankladder build: log: ")
    log = Path(line.split(": log: ", 1)[1])
    assert log.parent == tmp_path / "tmp" and log.stat().st_mode & 0o777 == 0o600  # private in a shared folder
    assert "step before the crash" in log.read_text() and "RuntimeError: boom" in log.read_text()
    assert not (tmp_path / "ds").exists()  # never created just for a log


def test_bad_input_leaves_no_log_behind(tmp_path, capsys, stand_in):
    from rankladder.core.errors import UserError

    def bad(args):
        raise UserError("run: RUN_DIR not found")

    stand_in(bad)
    assert main([*BUILD, str(tmp_path / "ds")]) == 2
    assert capsys.readouterr().err == "rankladder build: error: run: RUN_DIR not found\n"
    assert not any((tmp_path / "tmp").iterdir()) and not (tmp_path / "ds").exists()


def test_ctrl_c_keeps_its_log_and_says_interrupted_last(tmp_path, capsys, stand_in):
    def interrupted(args):
        Path(args.out).mkdir()  # a command that had started writing (its own cleanup is its business)
        raise KeyboardInterrupt

    stand_in(interrupted)
    assert main([*BUILD, str(tmp_path / "ds")]) == 130
    log_line, last = capsys.readouterr().err.splitlines()
    assert log_line.startswith("rankladder build: log: ") and last == "rankladder build: interrupted"
    assert Path(log_line.split(": log: ", 1)[1]).parent == tmp_path / "tmp"
    assert not (tmp_path / "ds" / "logs").exists()  # a failed command's folder gets no log
