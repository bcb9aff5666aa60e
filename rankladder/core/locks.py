"""One writer per output: an exclusive lock beside every output folder, and one per RUN_DIR shard.

Two commands writing the same output at once would both report success while the folder holds only one
of them. So a writer takes the output's lock before any work (``hold_output``); a second writer is refused
with one line naming the holder (pid, host, command, since) and exits 2.

The lock is ``filelock``'s native lock (``flock``) on a small file: the kernel drops it when its process
dies, so a lock left by a killed writer is simply taken over (and said so on the terminal). The file holds
the holder's identity for the refusal message; the holder removes it just before releasing, so a finished
command leaves nothing behind (a writer that opened the removed file finds it unlinked and tries again,
which ``filelock`` supports; hence the short ``WAIT_SECONDS`` before a refusal):

- an output folder ``OUT`` is locked through ``.OUT.lock`` beside it: both writers see it before ``OUT``
  exists, and the temp-folder-then-rename of ``rankladder.core.fsutil.atomic_output_dir`` does not move it;
- a RUN_DIR shard through ``RUN_DIR/.lock.shard-I-of-N`` (``hold_file``): two shards of one RUN_DIR run
  at once, the same shard never does; shards of another count N are refused while one of them is held
  (``is_held``) or their run is unfinished (``rankladder.dataset_builder.runfiles.ShardLock``).

Nested holds of the same lock in one process (a command that locks early, then writes through
``atomic_output_dir``) are counted, not re-acquired. The non-zero ranks of a distributed launch
(``RANK`` > 0) take no lock: rank 0 holds it for the whole job.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import inspect
import json
import logging
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rankladder.core.errors import UserError

log = logging.getLogger(__name__)

WAIT_SECONDS = 0.5  # covers a holder that is just finishing; a real conflict is refused after this
LOCK_SUFFIX = ".lock"  # `.OUT.lock` beside an output folder; content hashes and uploads skip such names


@dataclass
class _Held:
    lock: object  # filelock.FileLock
    count: int


_HELD: dict[str, _Held] = {}  # lock path -> this process's hold on it


def lock_path(output: str | Path) -> Path:
    """The lock file of output folder ``output``: ``.NAME.lock`` beside it (hidden, removed on release)."""
    output = Path(os.path.abspath(output))  # `--out .` or `--out ds/` name the same folder as its full path
    return output.with_name(f".{output.name}{LOCK_SUFFIX}")


def is_lock_file(name: str) -> bool:
    """Whether a file name is one of these locks (content hashes and uploads leave them out)."""
    return name.startswith(".") and (name.endswith(LOCK_SUFFIX) or name.startswith(".lock."))


def current_command() -> str:
    """The command line of this process, as the holder's description."""
    argv = list(sys.argv) or ["python"]
    program = Path(argv[0]).name
    if program == "__main__.py":
        program = "python -m " + Path(argv[0]).parent.name
    return shlex.join([program, *argv[1:]]) if len(argv) > 1 else program


def holder_record() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": current_command(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def describe_holder(record: dict | None) -> str:
    if not record:
        return "another process (it has not written its name yet)"
    return (
        f"pid {record.get('pid', '?')} on {record.get('host', '?')} "
        f"({record.get('command', '?')}, since {record.get('since', '?')})"
    )


def read_holder(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (stale locks and temp folders)."""
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        pass
    return True


def _secondary_rank() -> bool:
    try:
        return int(os.environ.get("RANK", "0") or 0) > 0
    except ValueError:
        return False


def _write_holder(path: Path):
    def on_acquired(fd: int) -> None:
        previous = read_holder(path)
        if previous and previous.get("pid") != os.getpid():
            same_host = previous.get("host") == socket.gethostname()
            state = "no longer running" if same_host and not pid_alive(int(previous.get("pid", 0))) else "gone"
            log.warning("%s: took over a stale lock of %s (%s)", path, describe_holder(previous), state)
        data = (json.dumps(holder_record(), ensure_ascii=False) + "\n").encode("utf-8")
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)

    return on_acquired


def _acquire(path: Path, what: str, wait: float):
    import filelock

    lock = filelock.FileLock(str(path), timeout=wait, on_acquired=_write_holder(path))
    try:
        lock.acquire()
    except filelock.Timeout:
        raise UserError(
            f"{what}: in use by {describe_holder(read_holder(path))}; wait for it to finish, or stop it "
            f"(a lock left by a killed process is taken over)"
        ) from None
    except OSError as exc:
        if exc.errno == errno.ENOSYS:  # a filesystem without flock: write on, but say so
            log.warning("%s: this filesystem cannot lock; a concurrent writer would not be detected", what)
            return None
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise UserError(f"{path.parent}: output folder is not writable ({exc.strerror})") from exc
        raise UserError(f"{path.parent}: cannot create the lock file {path.name}: {exc.strerror or exc}") from exc
    return lock


@contextlib.contextmanager
def hold_file(path: str | Path, what: str, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the lock file ``path`` for the block; ``what`` names the output in the refusal message.

    ``wait``: seconds to wait for a holder before refusing (a shared cache may wait longer than an output)."""
    path = Path(path)
    if _secondary_rank():
        yield
        return
    key = os.path.abspath(path)
    held = _HELD.get(key)
    if held is None:
        held = _HELD[key] = _Held(_acquire(path, what, wait), 0)
    held.count += 1
    try:
        yield
    finally:
        held.count -= 1
        if held.count == 0:
            del _HELD[key]
            if held.lock is not None:
                with contextlib.suppress(OSError):
                    path.unlink()  # while still held: no one can have taken this file over yet
                held.lock.release()


def is_held(path: str | Path) -> bool:
    """Whether a process holds the lock file ``path`` now. A file no one holds (left by a killed writer)
    is removed, under a probe lock, like a holder removes its own."""
    import filelock

    path = Path(path)
    if os.path.abspath(path) in _HELD:
        return True
    probe = filelock.FileLock(str(path), timeout=0)
    try:
        probe.acquire()
    except filelock.Timeout:
        return True
    except OSError:  # cannot even open it: no one can hold it through this file
        return False
    try:
        with contextlib.suppress(OSError):
            path.unlink()
    finally:
        probe.release()
    return False


@contextlib.contextmanager
def hold_output(output: str | Path, wait: float = WAIT_SECONDS) -> Iterator[None]:
    """Hold the lock of output folder ``output`` (its parent folders are created; it need not exist)."""
    output = Path(output)
    created = _make_parents(output.parent)
    try:
        with hold_file(lock_path(output), str(output), wait):
            yield
    finally:
        if not output.exists():  # a refused or failed writer leaves no empty folders behind
            for folder in created:
                with contextlib.suppress(OSError):
                    folder.rmdir()


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"{folder}: cannot create output folder: it is a file")
    try:
        for each in reversed(missing):
            each.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"{each}: cannot create output folder: {exc.strerror}") from exc
    if missing and not missing[0].is_dir():
        raise UserError(f"{missing[0]}: cannot create output folder")
    return missing


def holds_output(parameter: str) -> Callable:
    """Decorator: the call runs under the lock of the output folder its argument ``parameter`` names,
    taken before anything else, so a second writer is refused before it does any work."""

    def wrap(function: Callable) -> Callable:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def locked(*args, **kwargs):
            with hold_output(signature.bind(*args, **kwargs).arguments[parameter]):
                return function(*args, **kwargs)

        return locked

    return wrap
