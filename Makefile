# Every target creates what it needs, so each works on a fresh clone (Debian, Python 3.11).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SPHINXOPTS ?= -W -n --keep-going
APT_PACKAGES := redis-server postgresql chromium wrk

.PHONY: help venv install system-deps test lint pytest docs html livehtml linkcheck demo bench clean

help:
	@echo "make docs    build the HTML documentation into docs/_build/html (warnings are errors)"
	@echo "make test    install system packages and the dev environment, then lint, type-check, test"
	@echo "make demo    run 'manage.py prodserver web' on the example project (http://127.0.0.1:8000)"
	@echo "make bench   run the benchmarks (see benchmarks/README.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

venv: $(BIN)/python

# The package with every backend, plus the test, lint and docs tools.
install: venv
	$(BIN)/python -m pip install -q -e ".[all]" --group dev

# Services and programs the tests start (redis-server for Celery, PostgreSQL).
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing system packages:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install
	$(BIN)/ruff check src tests example benchmarks
	$(BIN)/ruff format --check src tests example benchmarks
	$(BIN)/mypy

pytest: install system-deps
	$(BIN)/pytest

test: lint pytest

docs html: install
	$(BIN)/sphinx-build $(SPHINXOPTS) -b html docs docs/_build/html
	@echo "Built docs/_build/html/index.html"

livehtml: install
	$(BIN)/python -m pip install -q sphinx-autobuild
	$(BIN)/sphinx-autobuild --host 127.0.0.1 docs docs/_build/html

linkcheck: install
	$(BIN)/sphinx-build -b linkcheck docs docs/_build/linkcheck

demo: install
	cd example && ../$(BIN)/python manage.py migrate --verbosity 0 && ../$(BIN)/python manage.py prodserver web

bench: install system-deps
	$(BIN)/python -m benchmarks

clean:
	rm -rf docs/_build build dist src/*.egg-info
