# Every target creates what it needs, so each works on a fresh clone (Debian, Python 3.11).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SPHINXOPTS ?= -W -n --keep-going
APT_PACKAGES := redis-server postgresql chromium wrk

.PHONY: help venv install system-deps test test-fast lint pytest dist matrix docs html livehtml linkcheck demo bench clean

help:
	@echo "make docs    build the HTML documentation into docs/_build/html (warnings are errors)"
	@echo "make test    install system packages and the dev environment, then lint, type-check, test,"
	@echo "             build and check the sdist and wheel, and test the wheel on the version matrix"
	@echo "make test-fast  only the in-process tests (no servers, brokers, browser or docs build)"
	@echo "make dist    build the sdist and the wheel into dist/ and check them with twine"
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
	$(BIN)/ruff check src tests example benchmarks noxfile.py
	$(BIN)/ruff format --check src tests example benchmarks noxfile.py
	$(BIN)/mypy

# Tests run in parallel: most wait on real servers. Modules whose fixtures are per module
# (a virtualenv, a browser, a journey in order) are each kept on one worker (xdist_group).
PYTEST_PARALLEL ?= -n 4 --dist loadgroup

pytest: install system-deps
	$(BIN)/pytest $(PYTEST_PARALLEL)

# The fast layer: configuration, checks, the ARGS rule and the docs' examples, in-process
# (no server, broker, subprocess, browser or docs build). Seconds; make test runs everything.
test-fast: install
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not server and not slow and not subprocess"

# The sdist and the wheel, as they would be uploaded; the matrix legs install this wheel.
dist: install
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The wheel on Python 3.13 with the newest Django 6.x, and on Python 3.11 with the lowest
# allowed version of every requirement (sessions in noxfile.py; each prints its duration).
matrix: dist system-deps
	$(BIN)/nox --sessions newest lowest

test: lint pytest matrix

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
	rm -rf docs/_build build dist src/*.egg-info .nox
