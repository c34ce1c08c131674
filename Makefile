# Two entry points work on a fresh clone with only Python 3.11+ present:
#   make demo   — create .venv, install pinned dependencies, run the main job
#   make test   — create .venv, install pinned dependencies, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
DATA   ?= $(or $(TOKENOMY_DATA),../shared/data)

.PHONY: demo test lint bench fmt clean setup check-wheel

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "tokenomy needs Python 3.11+, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

# The tests also run sweeps on Ray (the ray extra, ~270 MB with its dependencies): installed for
# `make test` only, so `make demo` stays light.
$(RAY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	@touch $(RAY_STAMP)

demo: $(STAMP)
	$(BIN)/tokenomy demo --data $(DATA) --out out/demo

test: $(RAY_STAMP)
	bash scripts/test-deps.sh
	$(BIN)/python -m pytest -q

# Build the wheel, install it with the core dependencies into a throwaway venv and run the CLI outside
# the clone (packaged resources included); CI runs it after `make test`.
check-wheel:
	PYTHON=$(PYTHON) bash scripts/check-wheel.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --data $(DATA) || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
