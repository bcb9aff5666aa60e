"""The one step runner under ``rankladder run``/``quickstart`` and ``rankladder study``.

A run is a list of named :class:`Step` s, each a function writing its ``outputs``. Before a step runs, its
*fingerprint* is computed: a hash of its config, of the content of its external ``inputs`` and of the
fingerprint and output hashes of the steps it ``needs``. ``OUT/steps/<name>.json`` is the step's marker:

- ``"status": "running"`` (with the new fingerprint) is written before the step starts, so an interrupted
  or failed step is never taken for done (a failure rewrites it as ``"failed"`` with the error line);
- ``"status": "done"`` with the fingerprint, timing and the content hash of every output, once it returns.

On a re-run a step is skipped only when its marker is ``done``, its fingerprint matches and its outputs
are there. A changed config changes that step's fingerprint, hence the fingerprints of every step that
needs it (directly or not): those run again, the others are skipped. A step whose fingerprint changed
after an unfinished or finished attempt calls its ``reset`` first (a resumable step, e.g. generation,
must not resume another config's partial output); an interrupted step with the same fingerprint simply
runs again and resumes whatever its stage resumes.

``OUT/steps.json`` is the run manifest: each step's status in this run (ran, skipped, failed, pending),
its seconds, fingerprint and outputs; rewritten after every step, so it is true even after a crash.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rankladder.core.errors import UserError
from rankladder.core.fsutil import hash_tree, sha256_file, sha256_json, write_json_atomic
from rankladder.core.locks import hold_output
from rankladder.core.manifest import utc_now

MARKERS = "steps"  # OUT/steps/<name>.json
MANIFEST = "steps.json"  # OUT/steps.json
NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")


class StepFailed(Exception):
    """A step ran and could not produce its output (neither bad input nor a bug): the command says so
    on one line and exits 1."""


@dataclass
class Step:
    name: str
    run: Callable[[], dict | None]  # does the work; what it returns is kept in the marker as ``details``
    config: Any = None  # JSON-able: everything that decides what the step writes
    outputs: Sequence[Path] = ()
    needs: Sequence[str] = ()  # earlier steps whose outputs this one reads
    inputs: Sequence[Path] = ()  # files or folders from outside the run whose content this one reads
    reset: Callable[[], None] | None = None  # clears a resumable step's output when its fingerprint changed


@dataclass
class Runner:
    out: Path
    command: str
    progress: bool = True
    prefix: str = "rankladder"
    _input_hashes: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        self.out = Path(self.out)

    def say(self, text: str) -> None:
        if self.progress:
            print(f"[{self.prefix}] {text}", flush=True)

    def marker_path(self, name: str) -> Path:
        return self.out / MARKERS / f"{name}.json"

    def read_marker(self, name: str) -> dict | None:
        path = self.marker_path(name)
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def run(self, steps: Sequence[Step]) -> dict[str, dict]:
        """Run or skip every step in order; returns each step's marker (its ``done`` record) by name.

        Holds the lock of ``out`` for the whole run (a second run of the same folder is refused)."""
        check_steps(steps)
        with hold_output(self.out):
            (self.out / MARKERS).mkdir(parents=True, exist_ok=True)
            manifest = {
                "kind": "rankladder-steps",
                "command": self.command,
                "started": utc_now(),
                "status": "running",
                "steps": [{"name": s.name, "status": "pending"} for s in steps],
            }
            records: dict[str, dict] = {}
            for index, step in enumerate(steps):
                records[step.name] = self._run_step(step, records, manifest, index)
            manifest.update(status="done", finished=utc_now())
            write_json_atomic(self.out / MANIFEST, manifest)
        return records

    def fingerprint(self, step: Step, records: dict[str, dict]) -> str:
        upstream = {n: [records[n]["fingerprint"], records[n]["outputs"]] for n in step.needs}
        inputs = {str(p): self._input_hash(Path(p)) for p in step.inputs}
        return sha256_json({"step": step.name, "config": step.config, "inputs": inputs, "needs": upstream})[:16]

    def _input_hash(self, path: Path) -> str:
        key = str(path.resolve())
        if key not in self._input_hashes:  # several steps read one input: hashed once a run
            if not path.exists():
                raise UserError(f"{path}: input not found")
            self._input_hashes[key] = (hash_tree(path) if path.is_dir() else sha256_file(path))[:16]
        return self._input_hashes[key]

    def _is_done(self, marker: dict | None, fingerprint: str) -> bool:
        return (
            marker is not None
            and marker.get("status") == "done"
            and marker.get("fingerprint") == fingerprint
            and all((self.out / p).exists() for p in marker.get("outputs", {}))
        )

    def _run_step(self, step: Step, records: dict, manifest: dict, index: int) -> dict:
        fingerprint = self.fingerprint(step, records)
        marker = self.read_marker(step.name)
        entry = manifest["steps"][index]
        if self._is_done(marker, fingerprint):
            self.say(f"{step.name}: up to date (fingerprint {fingerprint}), skipped")
            entry.update(status="skipped", fingerprint=fingerprint, seconds=0.0, outputs=marker["outputs"])
            write_json_atomic(self.out / MANIFEST, manifest)
            return marker
        if marker is not None and marker.get("fingerprint") != fingerprint and step.reset is not None:
            step.reset()  # another config's output, finished or not: not resumable
        started = time.time()
        running = {"step": step.name, "fingerprint": fingerprint, "status": "running", "started": utc_now()}
        write_json_atomic(self.marker_path(step.name), running)
        self.say(f"{step.name}: running")
        try:
            details = step.run() or {}
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            seconds = round(time.time() - started, 1)
            line = (str(exc).splitlines() or [type(exc).__name__])[0]
            write_json_atomic(self.marker_path(step.name), {**running, "status": status, "error": line})
            entry.update(status=status, fingerprint=fingerprint, seconds=seconds, error=line)
            manifest.update(status=status, finished=utc_now())
            write_json_atomic(self.out / MANIFEST, manifest)
            self.say(f"{step.name}: {status} after {seconds} s")
            raise
        seconds = round(time.time() - started, 1)
        record = {
            **running,
            "status": "done",
            "finished": utc_now(),
            "seconds": seconds,
            "outputs": self._output_hashes(step),
            "details": details,
        }
        write_json_atomic(self.marker_path(step.name), record)
        entry.update(status="ran", fingerprint=fingerprint, seconds=seconds, outputs=record["outputs"])
        write_json_atomic(self.out / MANIFEST, manifest)
        self.say(f"{step.name}: done in {seconds} s")
        return record

    def _output_hashes(self, step: Step) -> dict[str, str]:
        """``{path relative to OUT: content hash}`` of the outputs the step left (an optional one may be absent)."""
        hashes = {}
        for path in map(Path, step.outputs):
            if path.exists():
                digest = hash_tree(path) if path.is_dir() else sha256_file(path)
                hashes[relative(path, self.out)] = digest[:16]
        return hashes


def relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:  # an output outside OUT (none today) is named in full
        return str(path.resolve())


def check_steps(steps: Sequence[Step]) -> None:
    seen: set[str] = set()
    for step in steps:
        if not NAME.match(step.name) or step.name in seen:
            raise ValueError(f"step name {step.name!r}: not a distinct file-safe name")
        missing = [n for n in step.needs if n not in seen]
        if missing:
            raise ValueError(f"step {step.name!r} needs {missing}, which do not run before it")
        seen.add(step.name)


def summary_line(out: str | Path) -> str:
    """One line for a command's closing summary: which steps ran (with seconds) and which were up to date."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        return ""
    steps = json.loads(path.read_text(encoding="utf-8"))["steps"]
    ran = [f"{s['name']} {s['seconds']} s" for s in steps if s["status"] == "ran"]
    skipped = [s["name"] for s in steps if s["status"] == "skipped"]
    parts = [f"ran {len(ran)} ({', '.join(ran)})" if ran else "ran none"]
    if skipped:
        parts.append(f"up to date {len(skipped)} ({', '.join(skipped)})")
    return f"{' · '.join(parts)}; record: {path}"
