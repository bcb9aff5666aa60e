"""Reliability: read-only and full output disks give one clear error line (exit 2) and corrupt nothing.

What is real here (tests run as root in CI, where ``chmod 555`` does not stop writes):
  * read-only: a real read-only tmpfs mount (EROFS) when the process may mount; else ``chattr +i``
    (immutable folder, EPERM even for root); else ``chmod 555`` (non-root only); else skipped.
  * disk full: a real 48 KiB tmpfs mount (ENOSPC) when the process may mount; else the kernel's
    RLIMIT_FSIZE on the subprocess (EFBIG "File too large", SIGXFSZ ignored).
``medium()`` returns which one was used; the report script prints it.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.helpers.cli_cases import publish_dataset_dry_run_argv
from tests.reliability.test_bad_inputs import make_workspace, minilm_path, rankladder_command
from tests.reliability.test_kill import cli_env


def _try(*command: str) -> bool:
    return subprocess.run(list(command), capture_output=True).returncode == 0


@contextlib.contextmanager
def readonly_dir(parent: Path):
    """Yield (folder, how): a folder nothing can be created in."""
    folder = parent / f"ro-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    if (
        os.geteuid() == 0
        and shutil.which("mount")
        and _try("mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(folder))
    ):
        try:
            yield folder, "read-only tmpfs mount (EROFS)"
        finally:
            _try("umount", str(folder))
    elif os.geteuid() == 0 and shutil.which("chattr") and _try("chattr", "+i", str(folder)):
        try:
            yield folder, "chattr +i immutable folder (EPERM)"
        finally:
            _try("chattr", "-i", str(folder))
    elif os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder, "chmod 555 (EACCES)"
        finally:
            folder.chmod(0o755)
    else:
        pytest.skip("no way to make a read-only folder here")


@contextlib.contextmanager
def full_dir(parent: Path, size_kb: int = 48, fill_from: Path | None = None):
    """Yield (folder, preexec_fn, how): writes beyond ``size_kb`` fail. ``fill_from`` is copied in first."""
    folder = parent / f"full-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    extra = sum(p.stat().st_size for p in fill_from.rglob("*") if p.is_file()) // 1024 + 16 if fill_from else 0
    if (
        os.geteuid() == 0
        and shutil.which("mount")
        and _try("mount", "-t", "tmpfs", "-o", f"size={size_kb + extra}k", "tmpfs", str(folder))
    ):
        try:
            if fill_from:
                shutil.copytree(fill_from, folder / fill_from.name)
            yield folder, None, f"{size_kb} KiB tmpfs mount (ENOSPC)"
        finally:
            _try("umount", str(folder))
    else:
        if fill_from:
            shutil.copytree(fill_from, folder / fill_from.name)

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (size_kb * 1024, size_kb * 1024))

        yield folder, limit, f"RLIMIT_FSIZE {size_kb} KiB per file (EFBIG)"


PROGRESS_BAR = re.compile(r"\|.*\| *\d+/\d+ \[.*\]\s*$")


def tree_state(path: Path) -> dict | None:
    if not path.exists():
        return None
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def check(argv: list[str], output: Path, names: str, preexec=None, cwd: Path | None = None) -> list[str]:
    """Problems with one run that must fail cleanly: exit 2, one stderr line naming ``names``,
    ``output`` unchanged (absent before → absent after), no temp folders left beside it."""
    before = tree_state(output)
    result = subprocess.run(
        rankladder_command() + argv,
        env=cli_env(),
        capture_output=True,
        text=True,
        preexec_fn=preexec,
        cwd=cwd,
        timeout=600,
    )
    # transformers' own progress bars ("Writing model shards: 0%|...| 0/1 [...it/s]") are not errors
    lines = [line for line in result.stderr.splitlines() if line.strip() and not PROGRESS_BAR.search(line)]
    problems = []
    if result.returncode != 2:
        problems.append(f"exit code {result.returncode}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} stderr lines: {lines[-3:]}")
    elif names not in lines[0]:
        problems.append(f"error does not name {names!r}: {lines[0]}")
    if tree_state(output) != before:
        problems.append(f"{output} changed")
    if output.parent.is_dir():
        left = [p.name for p in output.parent.iterdir() if p.name.startswith(f".{output.name}.")]
        if left:
            problems.append(f"temp folders left: {left}")
    return problems


def readonly_cases(workspace: Path, ro: Path) -> dict[str, tuple[list[str], Path]]:
    return {
        "generate": (["generate", "--out", str(ro / "run"), "--limit", "1", "--no-progress"], ro / "run"),
        "build": (["build", str(workspace / "run"), "--out", str(ro / "ds"), "--version", "1.0.0"], ro / "ds"),
        "train": (
            [
                "train",
                "--data",
                str(workspace / "ds"),
                "--out",
                str(ro / "model"),
                "--max_steps",
                "1",
                "--use_cpu",
                "true",
                "--report_to",
                "none",
            ],
            ro / "model",
        ),
        "eval": (
            ["eval", "--model", minilm_path(), "--tasks", str(workspace / "beir"), "--out", str(ro / "eval")],
            ro / "eval",
        ),
        "publish dataset": (
            publish_dataset_dry_run_argv(workspace / "ds", ro / "release"),
            ro / "release",
        ),
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("disk") / "w")


@pytest.mark.parametrize("command", ["generate", "build", "train", "eval", "publish dataset"])
def test_read_only_output_is_one_line_exit_2(workspace, tmp_path, command):
    with readonly_dir(tmp_path) as (ro, how):
        argv, output = readonly_cases(workspace, ro)[command]
        problems = check(argv, output, str(ro))
    assert not problems, f"{command} on {how}: {problems}"


def test_disk_full_during_build_leaves_no_dataset(workspace, tmp_path):
    with full_dir(tmp_path) as (full, preexec, how):
        problems = check(
            ["build", str(workspace / "run"), "--out", str(full / "ds"), "--version", "1.0.0"],
            full / "ds",
            str(full / "ds"),
            preexec,
        )
    assert not problems, f"{how}: {problems}"


def test_disk_full_during_overwrite_keeps_the_old_dataset_intact(workspace, tmp_path):
    with full_dir(tmp_path, size_kb=24, fill_from=workspace / "ds") as (full, preexec, how):
        problems = check(
            ["build", str(workspace / "run"), "--out", str(full / "ds"), "--version", "2.0.0", "--overwrite"],
            full / "ds",
            str(full / "ds"),
            preexec,
        )
    assert not problems, f"{how}: {problems}"


def test_disk_full_during_publish_dry_run(workspace, tmp_path):
    with full_dir(tmp_path) as (full, preexec, how):
        problems = check(
            publish_dataset_dry_run_argv(workspace / "ds", full / "release"),
            full / "release",
            str(full / "release"),
            preexec,
        )
    assert not problems, f"{how}: {problems}"
