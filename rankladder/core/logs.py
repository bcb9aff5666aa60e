"""A quiet terminal and a complete log file for every command (issue 15).

The terminal (stderr) shows rankladder's own warnings and anyone's errors; ``-v`` adds everyone's INFO lines
and Python warnings, ``-q`` keeps errors only (the closing summary is stdout and always printed). Everything
else — rankladder at DEBUG, libraries at INFO, every Python warning — goes to a log file: a temp file while
the command runs, moved to ``OUT/logs/<command>-<UTC time>.log`` once the command has succeeded and its
output folder exists. A failed command never creates its output folder for a log: the log stays in the temp
folder and its path is printed on stderr.

Libraries that install their own stderr handler (transformers, datasets, huggingface_hub) are rewired to
propagate to these handlers when they are first imported, so nothing heavy is imported here.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

QUIET, NORMAL, VERBOSE = -1, 0, 1
LOG_DIR = "logs"  # OUT/logs/: skipped by content hashes and Hub uploads
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
TERMINAL_FORMAT = {False: "%(levelname)s: %(message)s", True: "%(levelname)s %(name)s: %(message)s"}
OWN_LOGGER = "rankladder"

# Set only when the user has not set them, and only below -v: log levels that are not the user's business in
# processes we do not run the code of (vLLM's start-up INFO lines in its engine processes).
QUIET_ENV = {"VLLM_LOGGING_LEVEL": "WARNING"}

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


def _rewire_hf_logging(module) -> None:
    """transformers/datasets/huggingface_hub: drop their own stderr handler, propagate to ours at INFO."""
    try:
        module._configure_library_root_logger()
        root = module._get_library_root_logger()
    except AttributeError:  # a version without these helpers keeps its own handler
        return
    default = getattr(module, "_default_handler", None)
    for handler in list(root.handlers):
        if handler is default or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.propagate = True
    root.setLevel(logging.INFO)


def _switch_bars(module, disable: str, enable: str) -> None:
    """Library progress bars (transformers' "Loading weights", datasets' "Generating split"): -v only."""
    if hasattr(module, disable) and hasattr(module, enable):
        with warnings.catch_warnings():  # the user's own env variable may refuse "enable": theirs wins, quietly
            warnings.simplefilter("ignore")
            getattr(module, disable if _verbosity < VERBOSE else enable)()
        _SWITCHED[module.__name__] = getattr(module, enable)


_SWITCHED: dict = {}  # module name -> how to switch its bars back on when the command is over


def _transformers_logging(module) -> None:
    _rewire_hf_logging(module)
    _switch_bars(module, "disable_progress_bar", "enable_progress_bar")


def _datasets_bars(module) -> None:
    _switch_bars(module, "disable_progress_bars", "enable_progress_bars")


def _gguf_loading(module) -> None:
    """Its "de-quantizing GGUF tensors" bar uses tqdm directly: give it transformers' switchable one."""
    switchable = getattr(sys.modules.get("transformers.utils.logging"), "tqdm", None)
    if switchable is not None and hasattr(module, "tqdm"):
        module.tqdm = switchable


# fix-ups run right after these modules are imported (stages import them lazily, long after start)
REWIRED_MODULES = {
    "transformers.utils.logging": _transformers_logging,
    "datasets.utils.logging": _rewire_hf_logging,
    "datasets.utils.tqdm": _datasets_bars,
    "huggingface_hub.utils.logging": _rewire_hf_logging,
    "transformers.modeling_gguf_pytorch_utils": _gguf_loading,
}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a fix-up right after one of ``REWIRED_MODULES`` is imported (they are imported lazily, by stages)."""

    def __init__(self) -> None:
        self._busy = False

    def find_spec(self, name, path=None, target=None):
        fix = REWIRED_MODULES.get(name)
        if fix is None or self._busy:
            return None
        self._busy = True
        try:
            spec = importlib.util.find_spec(name)
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        original = spec.loader.exec_module

        def exec_module(module):
            original(module)
            fix(module)

        spec.loader.exec_module = exec_module
        return spec


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
        self._finder = _AfterImport()

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
        sys.meta_path.insert(0, self._finder)
        logging.captureWarnings(True)  # every Python warning → logger "py.warnings" → the file (terminal: -v)
        self.set_level(self.level)
        return self

    def set_level(self, level: int) -> None:
        """The verbosity parsed from the command line (``start`` used a pre-scan of argv)."""
        global _verbosity
        self.level = self._terminal_filter.level = _verbosity = level
        # -v lines come from many libraries: name each; by default only rankladder speaks
        self._terminal.setFormatter(logging.Formatter(TERMINAL_FORMAT[level >= VERBOSE]))
        env = self._saved["env"]
        for key, value in QUIET_ENV.items():
            if level >= VERBOSE:
                if key in env:  # we set it: take it back
                    _restore_env(key, env.pop(key))
            elif key not in env and key not in os.environ:
                env[key] = None
                os.environ[key] = value
        for name, fix in REWIRED_MODULES.items():  # already imported (e.g. train's parser): fix now
            if name in sys.modules:
                fix(sys.modules[name])

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
        if self._finder in sys.meta_path:
            sys.meta_path.remove(self._finder)
        logging.getLogger().setLevel(self._saved.get("root_level", logging.WARNING))
        logging.getLogger(OWN_LOGGER).setLevel(self._saved.get("own_level", logging.NOTSET))
        for key, value in self._saved.get("env", {}).items():
            _restore_env(key, value)
        _verbosity = NORMAL
        with warnings.catch_warnings():  # e.g. datasets: "cannot enable progress bars" under its env variable
            warnings.simplefilter("ignore")
            for switch_on in _SWITCHED.values():
                switch_on()
        _SWITCHED.clear()
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
