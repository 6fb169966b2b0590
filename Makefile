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

.PHONY: help venv deps test test-fast synth lint bench openapi asl clean

help:
	@echo "make test    - install everything pinned and run the whole test suite"
	@echo "make synth   - cdk synth the three stacks for ENV=$(ENV) into cdk.out/"
	@echo "make bench   - run the benchmarks and rewrite BENCHMARKS.md"
	@echo "make openapi - regenerate docs/openapi.json from the routes"

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

test: deps
	$(PY) -m pytest -n 2 -q

test-fast: $(VENV)/.deps
	$(PY) -m pytest -q -m "not slow"

synth: deps
	npx cdk synth -c env=$(ENV) --quiet

bench: deps
	$(PY) -m bench.run_all

openapi: $(VENV)/.deps
	$(PY) -m lambda_functions.options_platform.openapi > docs/openapi.json

asl: $(VENV)/.deps  ## the execution state machine's synthesized ASL, run by the local platform and the tests
	$(PY) -m cdk_stacks.state_machine_asl

clean:
	rm -rf cdk.out .pytest_cache
