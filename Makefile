# Make targets. `make test` works from a fresh clone: it creates .venv, installs the pinned
# Python and npm dependencies (only when their manifests changed), then runs pytest.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
ENV ?= dev
export PYTHONPATH := $(CURDIR)
export QL_CONFIG_FILE := $(CURDIR)/config/environments.json

.PHONY: help venv deps test test-fast synth lint typecheck bench openapi asl clean chaos web-deps web-build web-test e2e bench-web

help:
	@echo "make test    - install everything pinned and run the whole test suite"
	@echo "make synth   - cdk synth the three stacks for ENV=$(ENV) into cdk.out/"
	@echo "make bench   - run the benchmarks and rewrite BENCHMARKS.md"
	@echo "make chaos   - 500 seeded trading days with injected faults; checks I1-I8 (README Safety)"
	@echo "make openapi - regenerate docs/openapi.json from the routes"
	@echo "make web-test - the web app: API types from docs/openapi.json, typecheck, vitest"
	@echo "make lint / make typecheck - ruff, and mypy against mypy-baseline.txt (both run by make test)"
	@echo "make e2e     - the web app end to end in Debian chromium against the local platform"

$(VENV)/bin/activate:
	@echo ">> creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.deps: $(VENV)/bin/activate requirements.txt requirements-dev.txt
	@echo ">> installing Python dependencies (pinned in requirements*.txt)"
	$(PIP) install --quiet --progress-bar off -r requirements-dev.txt
	@touch $@

node_modules/.deps: package.json
	@echo ">> installing the pinned AWS CDK CLI (package.json)"
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(VENV)/.deps
deps: $(VENV)/.deps node_modules/.deps

# the web app (web/): npm ci from its lock, then typecheck (API types regenerated from
# docs/openapi.json, so a changed route fails here) and the vitest component tests; the build
# (web/dist) is what the e2e test (tests/e2e, part of the pytest run) drives in chromium
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error

web-deps: web/node_modules/.package-lock.json

web-test: web-deps
	cd web && npm run --silent typecheck && npx vitest run

web-build: web-deps
	bash web/build.sh

e2e: deps web-build
	$(PY) -m pytest -q -n 0 tests/e2e

bench-web: web-build
	$(PY) -m bench.web

# ruff (ruff.toml: pyflakes, pycodestyle errors, bugbear) and mypy with a ratchet
# (scripts/typecheck.py: a new type error fails; the known ones are in mypy-baseline.txt)
lint: $(VENV)/.deps
	$(PY) -m ruff check .

typecheck: $(VENV)/.deps
	$(PY) scripts/typecheck.py

test: deps lint typecheck web-test web-build
	$(PY) -m pytest -n 2 -q

test-fast: $(VENV)/.deps
	$(PY) -m pytest -q -m "not slow"

synth: deps
	npx cdk synth -c env=$(ENV) --quiet

bench: deps
	$(PY) -m bench.run_all

# CHAOS_ARGS e.g. "--days 2000 --first 500" or "--store moto" (the same days on moto)
chaos: $(VENV)/.deps
	$(PY) -m tests.chaos.run --days 500 --workers 2 $(CHAOS_ARGS)

openapi: $(VENV)/.deps
	$(PY) -m lambda_functions.options_platform.openapi > docs/openapi.json

asl: $(VENV)/.deps  ## the execution state machine's synthesized ASL, run by the local platform and the tests
	$(PY) -m cdk_stacks.state_machine_asl

clean:
	rm -rf cdk.out .pytest_cache
