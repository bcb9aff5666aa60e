#!/usr/bin/env bash
# Are pyproject.toml's dependency floors honest? Installs exactly the lower bound of every dependency
# (torch==2.13.0 first: the CPU wheel that lies on disk) into a fresh venv, then runs a smoke test:
# import every rankladder module, `rankladder --help`, one tiny `rankladder build`, one BM25 search.
#
#   bash tools/check_floors.sh            # a temp venv, removed afterwards
#   FLOORS_VENV=/tmp/floors bash tools/check_floors.sh   # keep the venv (to look into a failure)
#
# Downloads from PyPI. Prints the pinned versions and ends with "floors: OK" (exit 0) or the failing step.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
TORCH=${TORCH_SPEC:-torch==2.13.0}
if [[ -n "${FLOORS_VENV:-}" ]]; then
    VENV=$FLOORS_VENV
else
    WORK=$(mktemp -d)
    VENV=$WORK/venv
    trap 'rm -rf "$WORK"' EXIT
fi

"$PYTHON" -m venv "$VENV"
PY=$VENV/bin/python
"$PY" -m pip install -q --upgrade pip

# name==floor for every ">=" in [project] dependencies (the upper bounds are kept as they are)
"$PY" - "$ROOT/pyproject.toml" > "$VENV/floors.txt" <<'PYTHON'
import re
import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    dependencies = tomllib.load(handle)["project"]["dependencies"]
for requirement in dependencies:
    match = re.match(r"^([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)", requirement)
    if not match:
        sys.exit(f"no lower bound: {requirement!r} (every dependency needs one)")
    name, floor = match.groups()
    if name == "torch":
        continue  # installed first, on its own (the wheel on disk)
    print(f"{name}=={floor}")
PYTHON
echo "floors:"; sed 's/^/  /' "$VENV/floors.txt"

echo "step: install $TORCH"
"$PY" -m pip install -q "$TORCH"
echo "step: install the floors"
"$PY" -m pip install -q -r "$VENV/floors.txt"
echo "step: install rankladder (no dependencies: the floors must be enough)"
"$PY" -m pip install -q --no-deps "$ROOT"
"$PY" -m pip check

echo "step: smoke test"
cd "$VENV"  # not the checkout: the installed package is what runs
export HF_HUB_OFFLINE=1
"$PY" - <<'PYTHON'
import importlib
import pkgutil

import rankladder

names = [m.name for m in pkgutil.walk_packages(rankladder.__path__, "rankladder.")]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as exc:  # an optional backend's own library (vllm) may be absent
        if exc.name and exc.name.split(".")[0] in ("vllm",):
            continue
        failed[name] = repr(exc)
if failed:
    raise SystemExit(f"imports failed: {failed}")
print(f"  imported {len(names)} modules")

from rankladder.core.bm25 import BM25Index

index = BM25Index(["wing flutter at high speed", "boundary layer transition", "heat transfer in nozzles"])
positions, _ = index.search(["flutter of wings"], k=2)
assert int(positions[0][0]) == 0, positions
print("  BM25 search: ok")
PYTHON
"$VENV/bin/rankladder" --help > /dev/null
echo "  rankladder --help: ok"
"$PY" - "$ROOT/tests/helpers/run_fixtures.py" <<'PYTHON'
import json
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

# the tests' RUN_DIR writer (no LLM), loaded from its file: the source tree stays off sys.path, so
# `rankladder` is the floors venv's install
fixtures = runpy.run_path(sys.argv[1])
GRADED_DOCUMENTS, write_run_dir = fixtures["GRADED_DOCUMENTS"], fixtures["write_run_dir"]

rows = [json.loads(line) for line in GRADED_DOCUMENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
with tempfile.TemporaryDirectory() as tmp:
    run = write_run_dir(Path(tmp) / "run", rows)
    rankladder = str(Path(sys.executable).parent / "rankladder")
    argv = [rankladder, "-q", "build", str(run), "--out", str(Path(tmp) / "ds"), "--version", "0.1.0"]
    subprocess.run(argv, check=True)
    manifest = json.loads((Path(tmp) / "ds" / "rankladder_manifest.json").read_text(encoding="utf-8"))
    print(f"  rankladder build: ok ({manifest['counts'] if 'counts' in manifest else 'manifest written'})")
PYTHON
echo "floors: OK"
