# Quick start: `make demo` runs everything; `make test` runs the whole suite (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
CHROMIUM ?= /usr/bin/chromium

.PHONY: install install-test wheels demo web worker test test-fast test-browser evaluate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## Every wheel the app and its tests need, in wheels/, for a machine without network access:
## copy the project with it, then `PIP_NO_INDEX=1 PIP_FIND_LINKS=$$PWD/wheels make demo`.
wheels: | $(BIN)/python
	$(BIN)/pip download --quiet --dest wheels pip "setuptools>=68" wheel
	$(BIN)/pip wheel --quiet --wheel-dir wheels ".[test]"

## Everything on one machine: embedded PostgreSQL (unless DATABASE_URL), a worker, the web server.
demo: install
	$(BIN)/python manage.py demo --host $(HOST) --port $(PORT)

## The two halves of `demo`, for running them on separate machines or terminals.
web: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python -m gunicorn config.wsgi --bind $(HOST):$(PORT) --workers 2
worker: install
	$(BIN)/python -m dramatiq config.worker --processes 1 --threads 1

## The whole suite. Browser tests need Chromium at $(CHROMIUM); without it they are skipped, and
## said so, unless SOURCEMARK_REQUIRE_BROWSER=1 (CI), which turns the skip into a failure.
test: install-test test-fast test-browser

test-fast: install-test
	$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS)

test-browser: install-test
	@if [ -x "$(CHROMIUM)" ]; then \
		$(BIN)/python -m pytest -m browser $(PYTEST_ARGS); \
	elif [ "$$SOURCEMARK_REQUIRE_BROWSER" = "1" ]; then \
		echo "FAIL: Chromium not found at $(CHROMIUM) and SOURCEMARK_REQUIRE_BROWSER=1: the browser tests cannot run." >&2; exit 1; \
	else \
		echo "SKIPPING the browser tests: Chromium not found at $(CHROMIUM) (apt-get install chromium chromium-driver)."; \
	fi

evaluate: install
	$(BIN)/python manage.py evaluate ../shared/gold/seeds.jsonl

## Every benchmark of the README's Performance section (about 40 minutes on 2 cores).
bench: install
	$(BIN)/python -m bench.imports --articles 10000 --skip-pretag
	$(BIN)/python bench/pretag.py --processes 2
	$(BIN)/python -m bench.pages
	$(BIN)/python -m bench.load
	$(BIN)/python bench/workbench.py

clean:
	rm -rf $(VENV) .data
