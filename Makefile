# Fresh machine: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv, install torch 2.13.0 (CPU) BEFORE the project so no CUDA wheels are pulled.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.instyle-installed

.PHONY: demo test test-fast lint venv bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/instyle demo

# Every test (the slow tier too: VGG-19, training, subprocesses, the fuzz corpus), on every core.
test: lint
	$(BIN)/python -m pytest -q -n auto

# The quick tier only (under a minute): what to run while editing.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts docs
	$(BIN)/ruff format --check src tests benchmarks scripts docs
	$(BIN)/lint-imports
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/optimize.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
