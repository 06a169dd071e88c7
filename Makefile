# OneCase: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
STATIC := onecase/web/static/govuk
PYTEST_ARGS ?=

.PHONY: install static demo serve test test-postgres lint e2e-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# GOV.UK Frontend, pinned in package.json / package-lock.json, copied into the static files.
$(STATIC)/.built: package.json package-lock.json scripts/build_static.sh
	bash scripts/build_static.sh
	touch $@

static: $(STATIC)/.built

# The demo serves as a deployment would: DEBUG off, so people see the service's own error pages, and the
# static files collected and served by WhiteNoise. `make demo DEBUG=1` turns Django's debug pages back on.
demo: DEBUG ?= 0
demo: install static
	$(BIN)/onecase migrate --no-input -v0
	$(BIN)/onecase demo_data
	$(BIN)/onecase demo_login
	$(BIN)/onecase collectstatic --no-input -v0
	@echo "Serving OneCase on http://$(HOST):$(PORT)/ with DEBUG=$(DEBUG) (jobs run in a background worker)"
	DEBUG=$(DEBUG) $(BIN)/onecase qcluster & QPID=$$!; trap "kill $$QPID" EXIT INT TERM; \
	DEBUG=$(DEBUG) $(BIN)/onecase runserver $(HOST):$(PORT)

serve: install static
	$(BIN)/onecase migrate --no-input -v0
	$(BIN)/onecase qcluster & QPID=$$!; trap "kill $$QPID" EXIT INT TERM; \
	$(BIN)/onecase runserver $(HOST):$(PORT)

test: install static
	$(BIN)/ruff check onecase tests $(wildcard benchmarks)
	$(BIN)/bandit -q -c pyproject.toml -r onecase
	$(BIN)/pytest $(PYTEST_ARGS)

# The same suite against PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/onecase make test-postgres
test-postgres: install static
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check onecase tests $(wildcard benchmarks)
	$(BIN)/bandit -q -c pyproject.toml -r onecase

clean:
	rm -rf $(VENV) node_modules $(STATIC) var
