"""A quiet terminal and a complete log file for every command (issue 15).

The terminal (stderr) shows rankladder's own warnings and anyone's errors; ``-v`` adds everyone's INFO lines
and Python warnings, ``-q`` keeps errors only (the closing summary is stdout and always printed). Everything
else — rankladder at DEBUG, libraries at INFO, every Python warning — goes to a log file: a temp file while
the command runs, moved to ``OUT/logs/<command>-<UTC time>.log`` once the command has succeeded and its
output folder exists. A failed command never creates its output folder for a log: the log stays in the temp
folder and its path is printed on stderr.

Libraries that install their own stderr handler (transformers, datasets, huggingface_hub) are switched to
propagate to these handlers through their public logging APIs once the command line has been parsed (so
``--help`` imports nothing heavy). Their progress bars are off below -v (their documented switches); -q also
sets ``TQDM_DISABLE`` for tqdm bars of code that has no switch, and child processes.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

QUIET, NORMAL, VERBOSE = -1, 0, 1
LOG_DIR = "logs"  # OUT/logs/: skipped by content hashes and Hub uploads
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TERMINAL_FORMAT = {False: "%(levelname)s: %(message)s", True: "%(levelname)s %(name)s: %(message)s"}
OWN_LOGGER = "rankladder"

# Set only when the user has not set them, and only below -v: log levels that are not the user's business in
# processes we do not run the code of (vLLM's start-up INFO lines in its engine processes).
QUIET_ENV = {"VLLM_LOGGING_LEVEL": "WARNING"}
# -q only, for child processes (vLLM engines, accelerate workers): no progress bar at all. tqdm (>= 4.66)
# reads TQDM_* variables as its defaults once, when it is imported; this process imports tqdm before setting
# it, so a later command in the same process (tests, notebooks) keeps its bars. Here -q passes ``disable``.
SILENT_ENV = {"TQDM_DISABLE": "1"}

_verbosity = NORMAL


def verbosity() -> int:
    """``QUIET`` (-q), ``NORMAL`` or ``VERBOSE`` (-v) of the running command; stages may consult it."""
    return _verbosity


class _TerminalFilter(logging.Filter):
    """rankladder's WARNING+ and anyone's ERROR+ by default; everyone's INFO+ with -v; ERROR+ with -q."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if self.level == QUIET:
            return False
        if self.level >= VERBOSE:
            return record.levelno >= logging.INFO
        own = record.name == OWN_LOGGER or record.name.startswith(OWN_LOGGER + ".")
        return own and record.levelno >= logging.WARNING


# the libraries that log through their own root logger and stderr handler; adopted through their public
# logging APIs once a command has been parsed (importing them before that would slow down --help)
LIBRARY_LOGGING = {
    "transformers": "transformers.utils.logging",
    "datasets": "datasets.utils.logging",
    "huggingface_hub": "huggingface_hub.utils.logging",
}

_running = False  # a command is running (RunLog started): its verbosity, not the root logger's level, decides


def showing_library_output() -> bool:
    """Whether third-party logs and progress bars belong on the terminal: ``-v`` under a command; in the
    Python API (no command) whenever the user's root logger is at INFO or below."""
    if _running:
        return _verbosity >= VERBOSE
    return logging.getLogger().getEffectiveLevel() <= logging.INFO


def adopt_library_logging() -> None:
    """transformers/datasets/huggingface_hub log through our handlers (file always, terminal by level).

    Each library's own stderr handler is switched off and its root logger propagates at INFO, using the
    switches each library documents (``disable_default_handler``/``enable_propagation``/``set_verbosity_info``);
    datasets and huggingface_hub attach a plain ``StreamHandler`` with no switch of its own, removed with
    ``Logger.removeHandler``. A library that is not installed is skipped."""
    for name, module_name in LIBRARY_LOGGING.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, "disable_default_handler"):  # transformers: its handler is created on first use
            module.disable_default_handler()
        library_root = logging.getLogger(name)
        for handler in list(library_root.handlers):
            if type(handler) is logging.StreamHandler:  # the library's own default, never ours or pytest's
                library_root.removeHandler(handler)
        module.enable_propagation()
        module.set_verbosity_info()


def switch_library_bars(on: bool) -> None:
    """transformers' "Loading weights", datasets' "Generating split", the Hub's download bars: -v only."""
    with warnings.catch_warnings():  # the user's own env variable may refuse "enable": theirs wins, quietly
        warnings.simplefilter("ignore")
        for module_name, enable, disable in (
            ("transformers.utils.logging", "enable_progress_bar", "disable_progress_bar"),
            ("datasets.utils.tqdm", "enable_progress_bars", "disable_progress_bars"),
            ("huggingface_hub.utils", "enable_progress_bars", "disable_progress_bars"),
        ):
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            getattr(module, enable if on else disable)()


@contextlib.contextmanager
def unswitchable_bars_hidden() -> Iterator[None]:
    """Hide the progress bars of third-party code that gives no way to turn them off (mteb runs bm25s with
    its bars on; transformers' GGUF loader; sentence-transformers' "Computing widget examples"), unless
    library output is wanted (-v).

    They write to ``sys.stderr``, which points at the null device meanwhile (``contextlib.redirect_stderr``).
    Log records still reach the terminal: our handler holds the real stream; an exception's traceback is
    printed after the block, when stderr is back."""
    if showing_library_output():
        yield
        return
    with open(os.devnull, "w", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
        yield


class _QuietFileHandler(logging.FileHandler):
    """A log that cannot be written (no temp folder, disk full, file-size limit) must not add lines to the
    terminal; the command runs on without it."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass

    def _open(self):
        # private to the user while it sits in the shared temp folder (it may name servers, paths, models)
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            super().emit(record)
        except OSError:  # opening the file (delay=True) happens here
            pass


class RunLog:
    """The logging of one command: :meth:`start` before parsing, :meth:`finish` once it is over."""

    def __init__(self, level: int = NORMAL):
        self.level = level
        self.path: Path | None = None
        self._handlers: list[logging.Handler] = []
        self._saved: dict = {}
        self._libraries_adopted = False

    def start(self) -> RunLog:
        handlers = []
        # created on the first record only: a command killed before it logged anything leaves no file behind
        self.path = Path(tempfile.gettempdir()) / f"rankladder-{os.getpid()}-{time.time_ns()}.log"
        file_handler = _QuietFileHandler(self.path, encoding="utf-8", delay=True)
        file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
        handlers.append(file_handler)
        self._terminal = logging.StreamHandler(sys.stderr)
        self._terminal_filter = _TerminalFilter(self.level)
        self._terminal.addFilter(self._terminal_filter)
        handlers.append(self._terminal)
        root, own = logging.getLogger(), logging.getLogger(OWN_LOGGER)
        self._saved = {"root_level": root.level, "own_level": own.level, "env": {}}
        root.setLevel(logging.INFO)
        own.setLevel(logging.DEBUG)
        for handler in handlers:
            root.addHandler(handler)
            self._handlers.append(handler)
        logging.captureWarnings(True)  # every Python warning → logger "py.warnings" → the file (terminal: -v)
        global _running
        _running = True
        self._apply_level(self.level)
        return self

    def set_level(self, level: int) -> None:
        """The verbosity parsed from the command line (``start`` used a pre-scan of argv), and the libraries'
        logs and bars adopted accordingly (imported here, after parsing, so ``--help`` stays fast)."""
        self._apply_level(level)
        adopt_library_logging()
        switch_library_bars(on=level >= VERBOSE)
        self._libraries_adopted = True

    def _apply_level(self, level: int) -> None:
        global _verbosity
        self.level = self._terminal_filter.level = _verbosity = level
        # -v lines come from many libraries: name each; by default only rankladder speaks
        self._terminal.setFormatter(logging.Formatter(TERMINAL_FORMAT[level >= VERBOSE]))
        env = self._saved["env"]
        if level == QUIET:
            import tqdm  # noqa: F401  (imported before TQDM_DISABLE is set: see SILENT_ENV)
        wanted = {**(QUIET_ENV if level < VERBOSE else {}), **(SILENT_ENV if level == QUIET else {})}
        for key in [k for k in env if k not in wanted]:  # we set it and it no longer applies: take it back
            _restore_env(key, env.pop(key))
        for key, value in wanted.items():
            if key not in env and key not in os.environ:  # the user's own setting wins
                env[key] = None
                os.environ[key] = value

    def finish(self, outputs: Iterable[str | os.PathLike] = (), command: str = "", keep: bool = False) -> Path | None:
        """Undo the setup; move the log into ``OUT/logs/`` of each existing output folder.

        Returns where the log now is: the first output's copy, the temp file when ``keep`` (a failure), else
        ``None`` (nothing to keep: the temp file is removed)."""
        global _verbosity
        for handler in self._handlers:
            logging.getLogger().removeHandler(handler)
            handler.close()
        self._handlers.clear()
        logging.captureWarnings(False)
        logging.getLogger().setLevel(self._saved.get("root_level", logging.WARNING))
        logging.getLogger(OWN_LOGGER).setLevel(self._saved.get("own_level", logging.NOTSET))
        for key, value in self._saved.get("env", {}).items():
            _restore_env(key, value)
        global _running
        _verbosity, _running = NORMAL, False
        if self._libraries_adopted:  # the bars' default again, for whatever runs next in this process
            switch_library_bars(on=True)
        if self.path is None or not self.path.exists():
            return None
        if keep:
            return self.path
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        moved = None
        for out in outputs:
            if out is None or not Path(out).is_dir():
                continue
            target = _free_name(Path(out) / LOG_DIR, f"{command or 'rankladder'}-{stamp}{_rank_suffix()}")
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(self.path, target)
            moved = moved or target
        self.path.unlink(missing_ok=True)
        return moved


def _rank_suffix() -> str:
    """``-rank1`` for the processes of a multi-GPU run (``accelerate launch``): one log each."""
    if int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        return f"-rank{os.environ.get('RANK', '0')}"
    return ""


def _free_name(folder: Path, stem: str) -> Path:
    path, n = folder / f"{stem}.log", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.log"
    return path


def _restore_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def prescan_verbosity(argv: list[str]) -> int:
    """-v/-q from anywhere on the command line (before ``--``), for the logging set up before parsing."""
    level = NORMAL
    for arg in argv:
        if arg == "--":
            break
        if arg in ("-v", "--verbose"):
            level = VERBOSE
        elif arg in ("-q", "--quiet"):
            level = QUIET
    return level
