# voltmesh: `make run` starts a node on embedded SQLite under ./data; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/voltmesh serve

lint: $(VENV)/.dev-installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

test: lint pytest

bench: $(VENV)/.dev-installed
	$(BIN)/python -m sim.microbench --runs 5
	$(BIN)/python -m sim.bench --server voltmesh --server baseline --server node --mode saturate --mode rate --rate 2000 --stations 1000 --runs 3
	$(BIN)/python -m sim.bench --server voltmesh --server baseline --server node --memory 1000 --memory 10000 --runs 3
	$(BIN)/python -m sim.bench --server voltmesh --server baseline --server node --reconnect 5000 --reconnect 10000 --open-transactions 0.1 --runs 3
	$(BIN)/python -m sim.mix --server voltmesh --server baseline --server node --runs 3
	for protocol in ocpp1.6 ocpp2.0.1; do for server in voltmesh baseline node; do \
		$(BIN)/python -m sim.costs --server $$server --protocol $$protocol --runs 3 || exit 1; \
	done; done

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
