"""An option's old spelling on the command line gets one line naming its current spelling, and exit 2.

The renames are one table (``rankladder.core.renames.RENAMED_FLAGS``: ``generate --batch-size`` is now
``--window``, ``mine --margin`` is now ``--absolute-margin``); the ``_``/``-`` spellings that every option
had until each got one are named from the command's own flags. Nothing is written.
"""

from __future__ import annotations

import subprocess

import pytest

from rankladder.cli import main
from rankladder.core.renames import RENAMED_FLAGS
from tests.reliability.test_bad_inputs import rankladder_command

CASES = [
    (("generate", "--batch-size", "4", "--out", "{o}", "--limit", "1"), "--batch-size is now --window"),
    (("generate", "--batch-size=4", "--out", "{o}", "--limit", "1"), "--batch-size is now --window"),
    (("mine", "{data}", "--margin", "0.1", "--out", "{o}"), "--margin is now --absolute-margin"),
    (
        ("build", "{o}-run", "--out", "{o}", "--version", "1.0.0", "--dev_fraction", "0.3"),
        "--dev_fraction is now --dev-fraction",
    ),
]


@pytest.mark.parametrize(("argv", "hint"), CASES, ids=[f"{argv[0]}:{hint.split()[0]}" for argv, hint in CASES])
def test_old_spelling_is_one_line_naming_the_current_one_exit_2(tmp_path, shared_datasets, argv, hint):
    out = tmp_path / "out"
    argv = [a.format(o=out, data=shared_datasets / "cranfield") for a in argv]
    result = subprocess.run([*rankladder_command(), *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0] == f"rankladder {argv[0]}: error: {hint} (see rankladder {argv[0]} --help)"
    assert not out.exists() and not list(tmp_path.iterdir())  # not even a log file


def test_every_renamed_flag_is_refused_and_its_current_spelling_is_the_commands_flag(capsys):
    for command, renames in RENAMED_FLAGS.items():
        for old, new in renames.items():
            with pytest.raises(SystemExit):
                main([command, "--help"])
            help_text = capsys.readouterr().out
            assert new in help_text.split() or f"[{new}" in help_text, (command, new)
            assert old not in help_text.replace(new, ""), (command, old)  # the old one is no flag of its own


def test_an_unknown_flag_still_says_unrecognized(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["generate", "--out", str(tmp_path / "run"), "--batch-sizes", "4"])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "unrecognized arguments: --batch-sizes 4" in err and "is now" not in err
