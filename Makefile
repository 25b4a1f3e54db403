PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo serve test lint typecheck fuzz bench clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: install
	$(BIN)/slotbook db upgrade
	$(BIN)/slotbook demo-data
	# The notification worker beside the server, stopped when the server stops.
	$(BIN)/slotbook worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/slotbook serve --host 127.0.0.1 --port 8000

test: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src
	$(BIN)/lint-imports

fuzz: install
	SLOTBOOK_FUZZ_PROFILE=long $(BIN)/pytest tests/test_schema_fuzz.py

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache
