# The README's commands live here: one place, no hidden steps.
#   make bench   set up, build rml (release) and run the main job (the neighbours benchmark)
#   make test    set up, build rml (release) and run the whole test suite (cargo + pytest)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MATURIN := $(VENV)/bin/maturin

.PHONY: setup build build-dev test test-rust test-python bench clean

# A project-local virtual environment with the runtime, test and benchmark dependencies.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "maturin>=1.8,<2" "numpy>=1.26" "scipy>=1.11" "scikit-learn>=1.6" \
		"pytest>=8" "pandas>=2" "threadpoolctl>=3" "tqdm>=4.66" "matplotlib>=3.8"
	touch $@

setup: $(VENV)/.installed

# Release build (lto, one codegen unit) installed into the venv in editable mode.
build: setup
	$(MATURIN) develop --release --quiet

# Quicker unoptimised build for iterating on Python code.
build-dev: setup
	$(MATURIN) develop --quiet

test-rust:
	cargo test --workspace --quiet

test-python: build
	$(PY) -m pytest -q

test: test-rust test-python

bench: build
	$(PY) benchmarks/bench_neighbors.py

clean:
	cargo clean
	rm -rf $(VENV)
