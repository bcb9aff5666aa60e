"""Atomic output folders: a failed block leaves nothing; a killed writer's temp folder is cleaned up later."""

import os
import subprocess
import sys

import pytest

from rankladder.core.fsutil import atomic_output_dir, current_umask, remove_stale_temp_dirs


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_failed_block_leaves_no_output_and_no_temp(tmp_path):
    final = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(final) as tmp:
            (tmp / "part.parquet").write_text("half")
            raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_dirs_of_dead_writers_are_removed_live_ones_kept(tmp_path):
    final = tmp_path / "ds"
    stale = [tmp_path / f".ds.tmp-{dead_pid()}-abcd1234", tmp_path / f".ds.old-{dead_pid()}-abcd1234"]
    live = tmp_path / f".ds.tmp-{os.getppid()}-abcd1234"  # a running process: maybe a concurrent build
    other = tmp_path / f".other.tmp-{dead_pid()}-abcd1234"  # another output's temp folder
    for folder in (*stale, live, other):
        folder.mkdir()
        (folder / "x").write_text("x")
    with atomic_output_dir(final) as tmp:
        (tmp / "done").write_text("ok")
    assert (final / "done").read_text() == "ok"
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists()
    assert remove_stale_temp_dirs(final) == []


def test_output_files_follow_the_umask_even_when_a_library_wrote_them_0600(tmp_path):
    """safetensors (like anything using tempfile + rename) leaves 0600 files: the output folder fixes them."""
    import tempfile

    final = tmp_path / "model"
    old = os.umask(0o022)
    try:
        with atomic_output_dir(final) as tmp:
            handle, name = tempfile.mkstemp(dir=tmp)  # mode 0600, as tempfile makes it
            os.close(handle)
            os.replace(name, tmp / "model.safetensors")
            (tmp / "sub").mkdir(mode=0o700)
            (tmp / "sub" / "run.sh").write_text("#!/bin/sh\n")
            (tmp / "sub" / "run.sh").chmod(0o700)
        assert current_umask() == 0o022
    finally:
        os.umask(old)
    assert (final / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert (final / "sub").stat().st_mode & 0o777 == 0o755
    assert (final / "sub" / "run.sh").stat().st_mode & 0o777 == 0o755  # executables stay executable
    assert final.stat().st_mode & 0o777 == 0o755
