# Fresh machine: `make demo` runs the main job, `make test` runs the tests.
# Both create .venv, install torch 2.13.0 (CPU) BEFORE the project so no CUDA wheels are pulled.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH  ?= torch==2.13.0
STAMP  := $(VENV)/.instyle-installed

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/instyle demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/optimize.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
