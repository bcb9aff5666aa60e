"""Crash-safe file output: nothing half-written ever looks complete."""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from rankladder.core.errors import UserError
from rankladder.core.locks import hold_output, is_lock_file, pid_alive

# errors of the output medium (disk full, quota, read-only, file too large, permission): bad
# environment rather than a bug, reported as one line naming the output
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG, errno.EACCES, errno.EPERM})


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write to a sibling temp file, fsync, then rename over ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def write_json_atomic(path: str | Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


def prepare_output_parent(final: Path) -> None:
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{final.parent}: cannot create output folder: {exc.strerror}") from exc
    if not os.access(final.parent, os.W_OK):
        raise UserError(f"{final.parent}: output folder is not writable")


def check_writable(final: str | Path) -> None:
    """Before any work, without creating anything: the folder ``final`` will be created in is writable."""
    folder = Path(final).absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UserError(f"{folder}: output folder is not writable")


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return result == 0


def remove_stale_temp_dirs(final: Path) -> list[Path]:
    """Delete ``.NAME.tmp-PID-*`` / ``.NAME.old-PID-*`` siblings left by a killed writer (its PID is gone).

    A live PID (a concurrent writer, or a reused PID) keeps its folder: leaving litter is safe, deleting
    someone's work in progress is not.
    """
    removed = []
    if not final.parent.is_dir():
        return removed
    for kind in ("tmp", "old"):
        for path in final.parent.glob(f".{glob.escape(final.name)}.{kind}-*"):
            pid = path.name[len(f".{final.name}.{kind}-") :].split("-", 1)[0]
            if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def current_umask() -> int:
    mask = os.umask(0o022)  # the only portable way to read it is to set it; put it straight back
    os.umask(mask)
    return mask


def apply_umask(folder: Path) -> None:
    """Give every file and folder under ``folder`` the mode a plain ``open``/``mkdir`` would have.

    Libraries that write through ``tempfile`` + rename (safetensors' ``model.safetensors`` among them)
    leave 0600 files; an output folder others are meant to read must follow the user's umask.
    """
    mask = current_umask()
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        executable = path.is_dir() or path.stat().st_mode & 0o100
        path.chmod((0o777 if executable else 0o666) & ~mask)


def named_output(path: str | Path) -> Path:
    """``path`` as given, or its absolute form where it has no name of its own (``.``, ``ds/..``): output
    folders get temp and checkpoint siblings named after them."""
    path = Path(path)
    return Path(os.path.abspath(path)) if path.name in ("", ".", "..") else path


def check_replaceable(final: str | Path, marker: str | None = None) -> None:
    """Before ``final`` is replaced (``--overwrite``): it is a folder this kind of command wrote, or empty.

    ``--overwrite`` means "replace my earlier output", not "delete whatever is there": a path that is a
    file, the current folder (or one above it), or a non-empty folder without ``marker`` (the manifest the
    command writes at its top level: a RUN_DIR, the command's own input, a folder of notes) is refused with
    one line before any work. ``marker`` None: any folder (callers whose output has no fixed manifest).
    """
    final = Path(final)
    if not final.exists() and not final.is_symlink():
        return
    if not final.is_dir() or final.is_symlink():
        raise UserError(f"{final}: the output exists and is not a folder (choose another path)")
    here = Path.cwd().resolve()
    if final.resolve() == here or final.resolve() in here.parents:
        raise UserError(f"{final}: the output would replace the current folder (choose another path)")
    if marker is None or (final / marker).is_file():
        return
    found = sorted(path.name for path in final.iterdir() if not is_lock_file(path.name))
    if found:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise UserError(
            f"{final}: --overwrite replaces only an earlier output of this command (a folder with {marker}); "
            f"this folder holds other files ({shown}): choose another path, or remove it yourself"
        )


@contextlib.contextmanager
def atomic_output_dir(final: str | Path, overwrite: bool = False, replaces: str | None = None) -> Iterator[Path]:
    """Yield a temp folder beside ``final``; rename it to ``final`` only if the block succeeds.

    Its files get the user's umask (:func:`apply_umask`) whatever library wrote them.

    An existing ``final`` is refused unless ``overwrite``; then it is swapped out only after the new
    folder is complete, so a crash leaves either the old folder or the new one, never a mix. The block runs
    under ``final``'s lock (``rankladder.core.locks``): a second writer is refused, not silently overwritten.
    ``replaces``: the marker file of :func:`check_replaceable` (what an earlier output of the caller holds).
    """
    final = named_output(final)
    prepare_output_parent(final)
    with hold_output(final):  # one writer per output (nested holds in one process are counted)
        yield from _swap_in_output_dir(final, overwrite, replaces)


def _swap_in_output_dir(final: Path, overwrite: bool, replaces: str | None) -> Iterator[Path]:
    """The body of :func:`atomic_output_dir`, run under the output's lock."""
    if final.exists() and not overwrite:
        raise UserError(f"{final}: output folder already exists (pass --overwrite to replace it)")
    check_replaceable(final, replaces)
    remove_stale_temp_dirs(final)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir()
    except OSError as exc:
        raise UserError(f"{final.parent}: cannot write output folder: {exc.strerror}") from exc
    try:
        yield tmp
        apply_umask(tmp)
        if final.exists():
            if exchange_paths(tmp, final):  # one atomic step: final is never missing
                shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
            else:
                trash = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
                os.replace(final, trash)
                os.replace(tmp, final)
                shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and exc.errno in OUTPUT_ERRNOS:
            raise UserError(
                f"{final}: cannot write output: {exc.strerror or exc}"
                " (nothing was written; free space or fix permissions and re-run)"
            ) from exc
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(data) -> str:
    return sha256_text(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str))


def hash_tree(folder: str | Path, exclude: tuple[str, ...] = ()) -> str:
    """One hash over every file's relative path and content (stable across machines).

    The commands' logs (``logs/``, written after the output is complete) and lock files are not content:
    left out."""
    folder = Path(folder)
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in exclude or rel.startswith("logs/") or is_lock_file(path.name):
            continue
        digest.update(rel.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()
