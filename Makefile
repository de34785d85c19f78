# instance-rpc: the usual targets. `make run` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed
ARGS ?=

.PHONY: venv install run test lint typecheck check docs docs-serve bench bench-hostile bench-ec2 bench-docker-against clean

venv: $(STAMP)
install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)  ## start a daemon on the default backend (Ctrl-C stops it)
	$(BIN)/instance-rpc serve $(ARGS)

test: $(STAMP)  ## the whole test suite
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict

check: lint typecheck test

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,docs]'
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)  ## build the docs site into site/; any warning (a broken link) fails
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(DOCS_STAMP)  ## serve the docs site on http://127.0.0.1:8000, rebuilt on every edit
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

bench: $(STAMP)
	$(BIN)/python -m benchmarks $(ARGS)
	$(BIN)/python -m benchmarks.hostile
	$(BIN)/python -m benchmarks.docker $(DOCKER_ARGS)
	$(BIN)/python -m benchmarks.ec2

bench-ec2: $(STAMP)
	$(BIN)/python -m benchmarks.ec2

bench-docker-against: $(STAMP)  ## the docker backend's Provision/s and Destroy/s against REV's
	$(BIN)/python -m benchmarks.docker_against $(REV) $(DOCKER_ARGS)

bench-hostile: $(STAMP)
	$(BIN)/python -m benchmarks.hostile

clean:
	rm -rf $(VENV) site .mypy_cache .ruff_cache .pytest_cache build *.egg-info
