# The README's commands. Needs only Python 3.11+ on PATH (as python3).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install test lint format demo clean bench bench-quick

help:
	@echo "make demo     run the whole pipeline locally (crawl -> stream -> 4 consumers)"
	@echo "              OFFLINE=1: crawl the bundled sample site instead of the real one"
	@echo "make test     install into $(VENV) and run the test suite"
	@echo "make lint     ruff (lint + format check) and mypy on streamlib"
	@echo "make bench    every benchmark case, full size (see BENCHMARKS.md; about 13 min)"
	@echo "make bench-quick  the same cases, small and fewer repeats (under 2 min)"

# A virtual environment with the project and its test extras, rebuilt when
# pyproject.toml changes.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@

install: $(STAMP)

# The benchmark extra (matplotlib, psutil, profilers, FastStream) on top.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $@

# Benchmarks: their own runner, never part of `make test`. Results go to
# bench/results/ (latest.json, latest.md, latest.png).
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# make demo            crawl the real quotes.toscrape.com (needs the internet)
# make demo OFFLINE=1  crawl the bundled sample site on 127.0.0.1
demo: $(STAMP)
	$(BIN)/python -m demo $(if $(OFFLINE),--offline) $(DEMO_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
