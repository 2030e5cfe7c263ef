# One target per verb; the same locally and in CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= var
VENDOR := gridgov/web/static/vendor

.PHONY: setup assets demo test lint typecheck bench serve clean

setup: $(VENV)/.installed .debian-packages assets

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

.debian-packages: scripts/install-debian-packages
	scripts/install-debian-packages
	touch $@

# Front-end libraries from the npm registry (versions pinned in package-lock.json), copied to
# where the app serves them (/static/vendor/...): no CDN at run time. Licences: docs/assets.md.
assets: $(VENDOR)/.installed

$(VENDOR)/.installed: package.json package-lock.json Makefile
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR)/maplibre-gl $(VENDOR)/echarts
	mkdir -p $(VENDOR)/maplibre-gl $(VENDOR)/echarts
	cp node_modules/maplibre-gl/dist/maplibre-gl.mjs node_modules/maplibre-gl/dist/maplibre-gl-worker.mjs \
		node_modules/maplibre-gl/dist/maplibre-gl.css node_modules/maplibre-gl/LICENSE.txt $(VENDOR)/maplibre-gl/
	cp node_modules/maplibre-gl/dist/maplibre-gl.mjs $(VENDOR)/maplibre-gl/maplibre-gl.js
	cp node_modules/echarts/dist/echarts.min.js node_modules/echarts/LICENSE node_modules/echarts/NOTICE \
		node_modules/echarts/licenses/LICENSE-d3 $(VENDOR)/echarts/
	cp node_modules/zrender/LICENSE $(VENDOR)/echarts/LICENSE-zrender
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
	rm -rf $(VENV) .debian-packages .pytest_cache .mypy_cache .ruff_cache node_modules $(VENDOR)/maplibre-gl $(VENDOR)/echarts $(VENDOR)/.installed
