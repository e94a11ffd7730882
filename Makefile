# The README's commands live here: one place, no hidden steps.
#   make bench   set up, build rml (release) and run the main job: the KNN study, rml and
#                scikit-learn side by side (benchmarks/study.py)
#   make test    set up, build rml (release) and run the whole test suite (cargo + pytest)
# Per-family benchmarks: make bench-neighbors, bench-kmeans, bench-dbscan, ... (see below).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
MATURIN := $(VENV)/bin/maturin

.PHONY: setup build build-dev test test-rust test-python bench bench-peers bench-% clean

# A project-local virtual environment with the runtime, test and benchmark dependencies.
# scikit-learn is pinned to the minor version the parity tests specify (its behaviour is the
# spec); the package itself requires scikit-learn>=1.6 (pyproject.toml). fastcluster is only
# the agglomerative benchmark's second peer (the issue compares linkage against it).
$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "maturin>=1.8,<2" "numpy>=1.26" "scipy>=1.11" "scikit-learn==1.9.*" \
		"pytest>=8" "pandas>=2" "threadpoolctl>=3" "tqdm>=4.66" "matplotlib>=3.8" \
		"fastcluster>=1.2"
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
	$(PY) benchmarks/study.py

# Optional benchmark peer, not needed to build, test or run the other benchmarks:
# scikit-learn-intelex (oneDAL), which bench_kmeans.py and bench_minibatch.py add as a column
# when it is importable (issue 3 compares KMeans against it). About 100 MB of wheels.
bench-peers: setup
	$(PIP) install --quiet "scikit-learn-intelex>=2025"

# bench-neighbors, bench-kdtree, bench-kmeans, bench-minibatch, bench-dbscan, bench-gmm_agglo,
# bench-ap_birch, bench-preprocessing, bench-cluster_metrics: one family's benchmark.
bench-%: build
	$(PY) benchmarks/bench_$*.py

clean:
	cargo clean
	rm -rf $(VENV)
