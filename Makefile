# Everything runs from a project virtualenv made with Python 3.13 (see scripts/find-python).
SHELL := /bin/bash
PYTHON_313 := $(shell scripts/find-python 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements-dev.txt layers/masking/requirements.txt | sha1sum | cut -c1-12)
PORT ?= 3000

.PHONY: help venv test unit integration e2e lint local demo bench validate build build-host clean airtable-schema setup doctor

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' Makefile | sed -E 's/:.*## /\t/'

$(STAMP): requirements-dev.txt layers/masking/requirements.txt
	@test -n "$(PYTHON_313)" || { scripts/find-python; exit 1; }
	@test -x $(PY) || $(PYTHON_313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv with Python 3.13 and install the dev requirements

test: $(STAMP)  ## run every test: unit, integration (moto) and e2e (local runner over HTTP)
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: $(STAMP)
	$(PY) -m pytest tests/integration

e2e: $(STAMP)
	$(PY) -m pytest tests/e2e

lint: $(STAMP)  ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m mypy

local: $(STAMP)  ## serve every API route of template.yaml on 127.0.0.1:$(PORT), no Docker, no credentials
	$(PY) -m local.runner --port $(PORT)

demo: $(STAMP)  ## start the local runner and play a scripted, Twilio-signed conversation
	$(PY) -m local.demo --port $(PORT)

bench: $(STAMP)  ## print the benchmark figures (cold import, calls per message, warm latency)
	$(PY) -m bench

validate:  ## sam validate --lint and cfn-lint
	scripts/sam-tools validate

build:  ## sam build with python3.13 on PATH
	scripts/sam-tools build

build-host:  ## sam build for this machine's CPU into .aws-sam/build-<arch> (bench/cold_import.py imports it)
	scripts/sam-tools build-host

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache

airtable-schema: $(STAMP)  ## create missing Airtable tables/fields (ARGS=--check: list drift only); AIRTABLE_TOKEN, AIRTABLE_BASE_ID
	$(PY) -m tools.airtable_schema $(ARGS)

setup: $(STAMP)  ## after sam deploy: adopt the account's numbers (dry run; ARGS="--apply", --from-proxy KS..., see README "Go live"); STACK_NAME
	$(PY) -m tools.setup $(ARGS)

doctor: $(STAMP)  ## read-only drift check of the deployed stack, exit 1 on a finding; STACK_NAME
	$(PY) -m tools.doctor $(ARGS)
