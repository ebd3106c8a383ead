# The two quickstart commands: `make demo` and `make test`. Each builds .venv by itself from the
# lock files, so a fresh clone needs nothing but Python 3.11 and make.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PAYRISK := $(VENV)/bin/payrisk
PIP    := $(PY) -m pip --disable-pip-version-check --no-input

DATA    ?= data/sample
AS_OF   ?=
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db

.PHONY: demo test lint bench install install-test clean help

help:
	@echo "make demo   install, then generate a sample history and run payrisk end to end on it"
	@echo "make test   install test tools, then lint and run the whole test suite"
	@echo "make bench  run the benchmarks (figures for the README table)"

$(VENV)/.runtime: requirements/runtime.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "payrisk needs Python 3.11, found " + sys.version' 
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/runtime.lock
	$(PIP) install -q --no-deps --no-build-isolation -e . || $(PIP) install -q --no-deps -e .
	@touch $@

$(VENV)/.test: $(VENV)/.runtime requirements/test.lock
	$(PIP) install -q -r requirements/test.lock
	@touch $@

install: $(VENV)/.runtime
install-test: $(VENV)/.test

demo: $(VENV)/.runtime
	$(PAYRISK) generate --out $(DATA) --customers 600 --years 3 --seed 7
	$(PAYRISK) validate $(DATA)
	$(PAYRISK) summary $(DATA)

test: $(VENV)/.test
	$(PY) -m ruff check src pipelines tests benchmarks
	$(PY) -m pytest

bench: $(VENV)/.test
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) data mlflow.db mlartifacts models/store reports .pytest_cache .ruff_cache
