# One command each: `make start` sets everything up and runs the default study; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup start test

$(BIN)/tuner: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/tuner

start: setup
	$(BIN)/tuner start digits

test: setup
	$(BIN)/python -m pytest -q
