# Two commands for a fresh machine:
#   make demo   create .venv if missing, install the pinned dependencies, run the main job
#   make test   create .venv if missing, install the pinned dependencies, run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test test-fast bench dist clean

$(STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

demo: $(STAMP)
	@source scripts/java_env.sh && $(VENV)/bin/python -m finlake.demo

test: $(STAMP)
	@source scripts/java_env.sh && $(VENV)/bin/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	@source scripts/java_env.sh && $(VENV)/bin/python -m pytest -n 2 --dist loadgroup -m "not slow"

dist: $(STAMP)
	@source scripts/java_env.sh && bash scripts/build_dist.sh

clean:
	rm -rf lakehouse dist build
