# One target per verb; the same locally and in CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= var

.PHONY: setup demo test lint typecheck bench serve clean

setup: $(VENV)/.installed .debian-packages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.debian-packages: scripts/install-debian-packages
	scripts/install-debian-packages
	touch $@

lint: setup
	$(BIN)/ruff check gridgov tests bench devtools
	$(BIN)/ruff format --check gridgov tests bench devtools
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

test: setup lint typecheck
	$(BIN)/pytest -q -n 2 -m "not bench"

demo: setup
	mkdir -p $(DATA_DIR)
	$(BIN)/gridgov db upgrade
	$(BIN)/gridgov sim city --commit --unless-active
	$(BIN)/gridgov sim staff --commit
	$(BIN)/gridgov sim events --commit --unless-cases --start $$(date -d '30 days ago' +%F)
	$(BIN)/gridgov grids locate 113.66 34.75
	$(BIN)/gridgov serve

bench: setup
	$(BIN)/python bench/locate.py

clean:
	rm -rf $(VENV) .debian-packages .pytest_cache .mypy_cache .ruff_cache
