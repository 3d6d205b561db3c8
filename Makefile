# order-capture: one Makefile is the entry point for people and CI.
#   make run    capture an order end to end on the embedded AWS (moto) and the sandbox provider
#   make up     the local stack (AWS endpoint, sandbox, API) until Ctrl-C; other commands use it
#   make sam-local  every function through the real `sam local invoke` in Docker, against the stack
#   make test   every check: lint, types, template, state machine, build, tests
#   make bench  the benchmark: prints its summary (REPORT=1: BENCHMARKS.md, README, docs/performance.md)
#   make chaos  the fault campaign (events and API) under faults, all-zero outcome figures
#   make chaos-report  the same, and writes docs/fault-campaign.md
SHELL := /bin/bash
.DEFAULT_GOAL := help
.ONESHELL:

# The Lambda runtime is python3.13; the dev environment uses the same interpreter.
PYTHON313 ?= $(shell for candidate in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 \
	/root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
	if $$candidate -c 'import sys; assert sys.version_info[:2] == (3, 13)' >/dev/null 2>&1; then \
	echo $$candidate; break; fi; done)
TOOLS := .tools
UV := $(TOOLS)/uv/bin/uv
SAM := $(TOOLS)/sam/bin/sam
ASL_VALIDATOR := $(TOOLS)/node/node_modules/.bin/asl-validator
VENV := .venv
BIN := $(VENV)/bin
SAM_CLI_VERSION := 1.170.0
ASL_VALIDATOR_VERSION := 4.0.0
export SAM_CLI_TELEMETRY := 0
export UV_PYTHON := $(PYTHON313)
# Compiled bytecode is kept, in one folder outside the source trees: with
# PYTHONDONTWRITEBYTECODE (set on the CI machines) every Python process (each test worker, each
# stack or CLI a test starts, sam) compiled moto, boto3 and the rest from source again, about
# 9 s of CPU per pytest start here.
unexport PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX ?= $(CURDIR)/.pycache

.PHONY: chaos help setup run up sam-local test lint typecheck validate-template validate-asl build pytest bench deploy requirements clean medusa-client browser provider-specs provider-spec-excerpts

help:
	@grep -E '^#   make' Makefile | sed 's/^#   //'
	@echo "parts of make test: lint typecheck validate-template validate-asl build pytest"
	@echo "set-up: setup requirements medusa-client browser provider-specs; also: deploy clean"
	@echo "after bumping tests/provider-specs: provider-spec-excerpts"

$(PYTHON313):
	@echo "python3.13 is required (the Lambda runtime's version)"; exit 1

$(UV):
	@test -n "$(PYTHON313)" || { echo "python3.13 not found"; exit 1; }
	$(PYTHON313) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/pip install --quiet uv

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --quiet
	touch $@

$(SAM):
	$(PYTHON313) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)

$(ASL_VALIDATOR):
	mkdir -p $(TOOLS)/node
	npm install --silent --no-audit --no-fund --prefix $(TOOLS)/node asl-validator@$(ASL_VALIDATOR_VERSION)

setup: $(VENV)/.synced

run: setup
	$(BIN)/order-capture local put-events --strict \
		-e events/order-placed.json -e events/order-shipped-1.json -e events/order-shipped-2.json

# The local stack keeps its ledger and sandbox in .order-capture/state.json between runs
# (STATE= for none).
STATE ?= .order-capture/state.json
up: setup
	$(BIN)/order-capture local start $(if $(STATE),--state $(STATE))

# A private dockerd (installs docker.io if missing), a locally built stand-in for the Lambda
# base image, then `sam local invoke` of every function with its events/ payload against a
# local stack, then `sam local start-api` and each dialect over HTTP; stops everything it
# started by PID. About 18 minutes here under load (--phase start-api alone: about 6).
sam-local: setup $(SAM)
	$(BIN)/python -m order_capture_local.sam_local

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

validate-template: setup $(SAM)
	$(SAM) validate --lint
	$(BIN)/cfn-lint template.yaml

validate-asl: setup $(ASL_VALIDATOR)
	$(BIN)/python -m order_capture_local.asl_lint template.yaml
	for definition in $$($(BIN)/python -m order_capture_local.asl_lint template.yaml --substituted $(TOOLS)/asl); do \
		$(ASL_VALIDATOR) --json-path $$definition || exit 1; \
	done

# requirements.txt (what sam build installs) is exported from the lock file; a test fails if
# it drifts.
requirements: $(UV)
	$(UV) export --no-dev --no-hashes --no-emit-project --frozen --quiet -o functions/layer/requirements.txt

build: setup $(SAM)
	PATH="$(dir $(PYTHON313)):$$PATH" $(SAM) build --parallel --cached

# Medusa's own client and response types (npm, pinned by tests/medusa/package-lock.json), which
# tests/integration/test_client_medusa.py drives.
MEDUSA_CLIENT := tests/medusa/node_modules/.package-lock.json
$(MEDUSA_CLIENT): tests/medusa/package.json tests/medusa/package-lock.json
	npm ci --prefix tests/medusa --silent --no-audit --no-fund
	touch $@

medusa-client: $(MEDUSA_CLIENT)

# Debian's chromium, which tests/integration/test_swagger_ui_browser.py drives headless with
# Playwright (from the dev environment; Playwright downloads no browser of its own here).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

browser: $(CHROMIUM)

# The providers' specifications the adapter tests judge requests by (Stripe's OpenAPI spec3,
# Adyen's generated Checkout models, Adyen's Checkout v71 document with its examples),
# pinned by tests/provider-specs/package-lock.json.
PROVIDER_SPECS := tests/provider-specs/node_modules/.package-lock.json
$(PROVIDER_SPECS): tests/provider-specs/package.json tests/provider-specs/package-lock.json
	npm ci --silent --no-audit --no-fund --ignore-scripts --prefix tests/provider-specs
	touch $@

provider-specs: $(PROVIDER_SPECS)

# The excerpts of Stripe's spec3 and Adyen's Checkout v71 document the tests read
# (tests/fixtures/provider-specs/), written from the installed packages; run after a bump.
provider-spec-excerpts: setup $(PROVIDER_SPECS)
	$(BIN)/python tests/provider-specs/excerpt.py

# In parallel (pytest-xdist), one worker per core unless PYTEST_WORKERS says otherwise; a test
# file's tests stay on one worker, so a module's local stack or API is started once. The
# modules are handed out in tests/conftest.py's order (the ones marked slow first).
PYTEST_WORKERS ?= auto
pytest: setup $(MEDUSA_CLIENT) $(CHROMIUM) $(PROVIDER_SPECS)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--cov=order_capture --cov=order_capture_local --cov-report=term:skip-covered

test: lint typecheck validate-template validate-asl build pytest

bench: setup
	$(BIN)/python -m order_capture_local.bench $(if $(REPORT),--report BENCHMARKS.md --summary-into-docs)

# `make chaos` only prints (progress on stderr, the table on stdout); REPORT=1 (or
# `make chaos-report`) also writes the table to docs/fault-campaign.md.
CHAOS_SHIPMENTS ?= 800
CHAOS_API_ORDERS ?= 60
CHAOS_SEED ?= 7
chaos: setup
	$(BIN)/python -m order_capture_local.chaos --shipments $(CHAOS_SHIPMENTS) \
		--api-orders $(CHAOS_API_ORDERS) --seed $(CHAOS_SEED) \
		$(if $(REPORT),--report docs/fault-campaign.md)

chaos-report:
	$(MAKE) chaos REPORT=1
.PHONY: chaos-report

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(TOOLS) tests/medusa/node_modules .aws-sam .pycache .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
