# One command per task, the same here and in CI.
#   make demo   set up, start the sandbox, migrate, seed, drive the service, report
#   make test   set up, lint, type-check and run the whole test suite
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from the PATH, else a private copy installed with the machine's python3.
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := .tools/bin/uv
endif
RUN := $(UV) run --frozen

.PHONY: help setup lint test demo clean

help:
	@echo "make demo   set up, start the sandbox, migrate, seed, send real requests, report"
	@echo "make test   set up, lint, type-check and run the tests"

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv

setup: | $(UV)
	$(UV) sync --frozen

lint: setup
	$(RUN) ruff check dbctl service tests bench migrations scripts
	$(RUN) ruff format --check dbctl service tests bench migrations scripts
	$(RUN) mypy

test: lint
	$(RUN) pytest -n auto --maxprocesses=4

demo: setup
	$(RUN) python scripts/demo.py

clean:
	@if [ -x .venv/bin/dbctl ]; then .venv/bin/dbctl sandbox stop --destroy || true; fi
	rm -rf .venv .tools .dbctl .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
