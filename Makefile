# The two quickstart commands: `make demo` and `make test`. Each builds .venv by itself from the
# lock files, so a fresh clone needs nothing but Python 3.11 and make.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV    := .venv
PY      := $(VENV)/bin/python
PAYRISK := $(VENV)/bin/payrisk
PIP     := $(PY) -m pip --disable-pip-version-check --no-input

DATA ?= data/sample
# The service's API keys (one per line, gitignored): `make demo` writes one, `make serve` reads it.
KEYS_FILE ?= .payrisk/api_keys
export MLFLOW_TRACKING_URI ?= sqlite:///$(CURDIR)/mlflow.db

.PHONY: help demo test test-fast lint serve bench mutation docs install install-test clean

help:
	@echo "make demo    install, generate a sample ledger, validate, train, score, snapshot, simulate, a nightly run"
	@echo "make test    install the test tools, lint, check the import layers, run every test"
	@echo "make test-fast  the inner loop: lint, layers and the tests not marked slow"
	@echo "make serve   start the HTTP service on port 3000 (after make demo)"
	@echo "make mutation  mutation testing of the decision and label code (MUTATION_ARGS=\"--target labels\")"
	@echo "make docs    build the documentation site into site/ (open site/index.html)"
	@echo "make bench   run the benchmarks (figures for the README table; BENCH_ARGS=\"--soak --scaleout\" for more)"

$(VENV)/.runtime: requirements/runtime.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "payrisk needs Python 3.11, found " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements/runtime.lock
	$(PIP) install -q --no-deps --no-build-isolation -e .
	@touch $@

$(VENV)/.test: $(VENV)/.runtime requirements/test.lock $(VENV)/.chromium
	$(PIP) install -q -r requirements/test.lock
	@touch $@

# The review pages' browser tests drive Debian's chromium (never Playwright's own download).
$(VENV)/.chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	@touch $@

$(VENV)/.docs: $(VENV)/.runtime requirements/docs.lock
	$(PIP) install -q -r requirements/docs.lock
	@touch $@

install: $(VENV)/.runtime
install-test: $(VENV)/.test

demo: $(VENV)/.runtime
	$(PAYRISK) generate --out $(DATA) --customers 600 --years 3 --seed 7
	$(PAYRISK) validate $(DATA)
	$(PAYRISK) summary $(DATA)
	$(PAYRISK) train --data $(DATA) --report-json reports/train.json
	$(PAYRISK) score --data $(DATA) --out reports/scores.csv
	$(PAYRISK) snapshot --data $(DATA)
	@echo "Dunning policies compared in a small simulated world (payrisk simulate; README 'Decisions'):"
	$(PAYRISK) simulate --customers 300 --years 3 --seed 7 --period-days 120 --report-json reports/simulation.json
	@echo "The nightly run on the sample (payrisk daily; README 'Running it every night'):"
	$(PAYRISK) daily --config configs/daily.yaml
	@test -s $(KEYS_FILE) || $(PAYRISK) keygen --out $(KEYS_FILE) > /dev/null
	@echo
	@echo "Done. Next:"
	@echo "  demo API key:       $$(tail -n 1 $(KEYS_FILE))"
	@echo "                      (kept in $(KEYS_FILE), which make serve reads; payrisk keygen makes more)"
	@echo "  start the service:  make serve     (OpenAPI at http://127.0.0.1:3000/docs, with the key)"
	@echo "  call it:            curl -H \"X-API-Key: $$(tail -n 1 $(KEYS_FILE))\" -X POST localhost:3000/v1/status"
	@echo "  review pages:       http://127.0.0.1:3000/ui/  (while the service runs; sign in with the key)"
	@echo "  e-mail report:      $(PAYRISK) report --data $(DATA) --out reports/report.html"
	@echo "  open MLflow:        $(VENV)/bin/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI)"
	@echo "  scored invoices:    reports/scores.csv; customer plans: reports/scores.customers.csv"
	@echo "  nightly run:        summary in reports/daily/summary.json (every run in reports/daily/runs/);"
	@echo "                      schedule it with cron or systemd: README 'Running it every night'"

lint: $(VENV)/.test
	$(PY) -m ruff check src pipelines tests benchmarks docs
	$(PY) -m ruff format --check src pipelines tests benchmarks docs
	$(VENV)/bin/lint-imports

test: lint docs
	$(PY) -m pytest

test-fast: lint
	$(PY) -m pytest -m "not slow"

serve: $(VENV)/.runtime
	@test -s $(KEYS_FILE) || $(PAYRISK) keygen --out $(KEYS_FILE) > /dev/null
	@echo "API keys from $(KEYS_FILE) (send one as X-API-Key or Authorization: Bearer)"
	PAYRISK_API_KEYS_FILE=$(KEYS_FILE) $(PAYRISK) serve --port 3000

# e.g. make bench BENCH_ARGS="--sizes 100000 --soak --scaleout" (python -m benchmarks.run --help)
bench: $(VENV)/.test
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# Mutation testing of the decision and label code against the fast tests that cover them (not
# part of make test: a few minutes per module). Prints the surviving mutants and a score table;
# reports/mutation.json lists every mutant. e.g. make mutation MUTATION_ARGS="--target dunning"
mutation: $(VENV)/.test
	$(PY) -m benchmarks.mutation $(MUTATION_ARGS)

# The site from README.md and the code (mkdocs.yml, docs/): strict, so a broken link or a README
# section on no page fails it. make test builds it too (tests/code/test_docs.py checks the content).
docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 PYTHONPATH=$(CURDIR)/src:$(CURDIR) $(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) site data mlflow.db mlartifacts models/payrisk-scorer models/snapshot models/daily.lock reports .pytest_cache .ruff_cache
