# The README's commands. Needs only Python 3.11+ on PATH (as python3).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help install lock test compose-test lint format demo clean bench bench-quick

help:
	@echo "make demo     run the whole pipeline locally (crawl -> stream -> 4 consumers)"
	@echo "              OFFLINE=1: crawl the bundled sample site instead of the real one"
	@echo "make test     install into $(VENV) and run the test suite"
	@echo "make compose-test  docker-compose.yml on a Docker engine, scaled to 4, with faults"
	@echo "make lint     ruff (lint + format check) and mypy on streamlib"
	@echo "make lock     regenerate requirements/*.lock (exact versions with hashes)"
	@echo "make bench    every benchmark case, full size (see BENCHMARKS.md; about 10 min)"
	@echo "make bench-quick  the same cases, small and fewer repeats (under 2 min)"

# A virtual environment with the project, its test and benchmark extras at the
# exact versions of requirements/dev.lock (hashes checked), rebuilt when it changes.
# The project itself goes in without build isolation: its build backend is locked too.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

install: $(STAMP)

# The lock files, from pyproject.toml: exact versions with their hashes, for
# every platform and Python 3.11+. requirements/image.lock is what the Docker
# image installs; requirements/dev.lock what make install (and so CI) installs.
# The build backend ([build-system] requires) is locked in both.
BUILD_REQUIRES = $(BIN)/python -c "import tomllib; \
print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')"
UV_COMPILE = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" pyproject.toml -

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet uv
	$(BUILD_REQUIRES) | $(UV_COMPILE) --extra fast --extra postgres --extra metrics --extra top \
		-o requirements/image.lock
	$(BUILD_REQUIRES) | $(UV_COMPILE) --extra test --extra bench -o requirements/dev.lock

# Benchmarks: their own runner, never part of `make test`. Results go to
# bench/results/ (latest.json, latest.md, latest.png).
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick: $(STAMP)
	$(BIN)/python -m bench --quick $(BENCH_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# docker-compose.yml on a Docker engine (the one at DOCKER_HOST, or a dockerd
# started and stopped here, as root), with stand-in base images built locally.
# Needs Debian's docker.io, docker-compose and mmdebstrap. Prints as it goes.
compose-test: $(STAMP)
	$(BIN)/python -m pytest tests/compose -m compose -x -v -s $(PYTEST_ARGS)

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
