"""Files the pages load, from gridgov/web/static; its vendor/ folder holds the front-end libraries
(MapLibre GL, ECharts) that `make assets` copies from the npm packages, so no CDN is needed."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


def static_files() -> StaticFiles:
    return StaticFiles(directory=STATIC_DIR)
