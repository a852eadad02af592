# Everything a fresh machine needs is installed by these targets: Python 3.11 is the only prerequisite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed
TOOLS := .tools
NODE_STAMP := $(TOOLS)/.installed

.PHONY: example test lint typecheck unit install install-dev tools clean golden

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): pyproject.toml $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# Node tools the tests use: the npm asl-validator checks every compiled example.
$(NODE_STAMP): package.json
	mkdir -p $(TOOLS)
	cp package.json $(TOOLS)/package.json
	cd $(TOOLS) && npm install --no-audit --no-fund --loglevel=error
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
	PATH=$(CURDIR)/$(TOOLS)/node_modules/.bin:$$PATH $(BIN)/pytest -n 2

## Regenerate the golden ASL files of the examples on purpose.
golden: $(STAMP)
	STRATOFLOW_UPDATE_GOLDEN=1 $(BIN)/pytest tests/unit/test_golden.py

clean:
	rm -rf $(VENV) $(TOOLS) .stratoflow cdk.out
