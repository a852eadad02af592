# Everything a fresh machine needs is installed by these targets from the locks (uv.lock,
# package-lock.json): the prerequisites are Python 3.11, Node.js 20 with npm, and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed
TOOLS := .tools
# uv installs the Python packages from uv.lock; it is itself pinned here and kept in its own venv.
UV_VERSION := 0.13.8
UV := $(TOOLS)/uv/bin/uv
NODE_STAMP := node_modules/.installed
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(PYTHON)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: example test lint typecheck unit install install-dev clean golden runner-call-schema lock dist openapi

$(UV):
	$(PYTHON) -m venv $(TOOLS)/uv
	$(TOOLS)/uv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --locked: refuse to install when pyproject.toml and uv.lock disagree (run `make lock`).
# --inexact: the runtime install never removes the dev packages of an earlier `make test`.
$(RUN_STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --inexact --quiet
	touch $@

$(STAMP): pyproject.toml uv.lock $(UV)
	$(UV) sync --locked --extra dev --quiet
	touch $(RUN_STAMP) $@

# Node tools, from package-lock.json: asl-validator (checks every compiled example) and the CDK CLI.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(RUN_STAMP)
install-dev: $(STAMP) $(NODE_STAMP)

## Run a real example flow on the local engine (SQLite history under .stratoflow/).
example: $(RUN_STAMP)
	$(BIN)/strato run examples/hello.yaml --input name=Stratoflow

lint: $(STAMP)
	$(BIN)/ruff check shared functions infra tests bench
	$(BIN)/ruff format --check shared functions infra tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict shared/stratoflow functions

unit: $(STAMP)
	$(BIN)/pytest tests/unit -n auto

## The whole suite: lint, types, unit, integration (moto), infrastructure (CDK), parity.
test: $(STAMP) $(NODE_STAMP) lint typecheck
	PATH=$(CURDIR)/node_modules/.bin:$(CURDIR)/$(TOOLS)/uv/bin:$$PATH $(BIN)/pytest -n 2

## Regenerate the console API's OpenAPI document (tests/contract/console_openapi.json) on purpose.
openapi: $(STAMP)
	$(BIN)/python -m stratoflow.console.openapi > tests/contract/console_openapi.json

## Regenerate the golden ASL files of the examples on purpose.
golden: $(STAMP)
	STRATOFLOW_UPDATE_GOLDEN=1 $(BIN)/pytest tests/unit/compiler/test_golden.py

## Regenerate the checked-in JSON Schema of the compiler -> runner call on purpose.
runner-call-schema: $(STAMP)
	STRATOFLOW_UPDATE_SCHEMA=1 $(BIN)/pytest -p no:xdist -q tests/unit/runner_call/test_runner_call_schema.py

## Refresh the locks on purpose: uv.lock (newest versions pyproject.toml allows), the Lambda
## layer's pins taken from it for the Lambda platform, and package-lock.json.
lock: $(UV)
	$(UV) lock --upgrade
	$(UV) export --frozen --no-dev --no-emit-project --no-hashes --format requirements-txt --quiet -o $(TOOLS)/lock-constraints.txt
	$(UV) pip compile pyproject.toml --quiet --constraint $(TOOLS)/lock-constraints.txt \
		--python-platform aarch64-manylinux2014 --python-version 3.12 --no-annotate --no-header \
		--no-emit-package click --no-emit-package rich --no-emit-package markdown-it-py \
		--no-emit-package mdurl --no-emit-package pygments \
		--no-emit-package jsonconversion --no-emit-package numpy \
		--output-file $(TOOLS)/layer-pins.txt
	{ cat infra/lambda-requirements.head; cat $(TOOLS)/layer-pins.txt; } > infra/lambda-requirements.txt
	npm install --package-lock-only --no-audit --no-fund --loglevel=error

## The wheel and the sdist of a release, in dist/ (the wheel carries infra/ and functions/, see setup.py).
dist: $(UV)
	rm -rf dist build
	$(UV) build --quiet --out-dir dist

clean:
	rm -rf $(VENV) $(TOOLS) node_modules .stratoflow cdk.out dist build
