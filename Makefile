# The two commands of the README: `make run` and `make test`. Both set up what
# they need (a virtualenv in .venv with the project and its test tools).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

## Serve the API on the embedded SQLite store (./povreg.db): demo data loaded once, new tokens printed every run.
run: $(STAMP)
	$(BIN)/povreg demo load --if-empty
	$(BIN)/povreg serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

## Run the whole test suite (SQLite, PostgreSQL, Kafka-protocol broker, HTTP, CLI).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
