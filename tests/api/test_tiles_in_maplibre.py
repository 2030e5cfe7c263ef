"""MapLibre GL, as served by the app from /static/vendor, reads the grid tiles the app cuts.

The real client is the judge of the encoding: Debian's Chromium (driven by Playwright) loads the
vendored library, points a vector source at /tiles/grids.json and reports which grids it decoded,
with their properties, at two zooms. The app runs under uvicorn on a loopback port, on SQLite
(the store's part is covered on both dialects by test_tiles_api.py).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import Page, Route, sync_playwright

from gridgov.api.app import create_app
from gridgov.bootstrap import build_runtime
from gridgov.config import load_settings
from gridgov.store.migrate import upgrade
from tests.factories import sample_grids

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PROBE = "/maplibre-probe.html"
# A page of our own at the app's origin (handed to the browser by Playwright, not by the app):
# a map over the sample city, and a function answering which grids each level's tiles held.
PROBE_PAGE = """<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css"></head>
<body style="margin:0"><div id="map" style="width:800px;height:600px"></div>
<script type="module">
import * as maplibregl from "/static/vendor/maplibre-gl/maplibre-gl.js";
const levels = ["district", "street", "community", "compound", "micro", "special"];
const map = new maplibregl.Map({
  container: "map", center: [113.64, 34.73], zoom: 14, fadeDuration: 0,
  style: { version: 8, sources: { grids: { type: "vector", url: "/tiles/grids.json" } },
           layers: levels.map((id) => ({ id, type: "line", source: "grids", "source-layer": id })) },
});
window.gridsSeen = () => Object.fromEntries(levels.map((id) => [id,
  map.querySourceFeatures("grids", { sourceLayer: id }).map((f) => ({ id: f.id, ...f.properties }))]));
// Resolves once every tile in view is loaded and drawn; gives up after 15 s rather than hang.
window.settle = () => new Promise((done, fail) => {
  setTimeout(() => fail(new Error("the map did not settle in 15 s")), 15000);
  map.once("idle", () => done(true));
  map.triggerRepaint();
});
map.on("error", (e) => { window.mapError = String(e.error && e.error.message || e); });
map.on("load", () => { window.mapLoaded = true; });
window.map = map;
</script></body></html>
"""


class Served:
    """The app under uvicorn on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    tmp: Path = tmp_path_factory.mktemp("maplibre")
    url = f"sqlite:///{tmp / 'gridgov.db'}"
    upgrade(url)
    runtime = build_runtime(load_settings(database_url=url, data_dir=tmp / "var"))
    layer = runtime.grids.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    with Served(create_app(runtime)) as base, sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        opened = browser.new_page(viewport={"width": 800, "height": 600})
        opened.set_default_timeout(20_000)

        def probe(route: Route) -> None:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=PROBE_PAGE)

        opened.route(f"{base}{PROBE}", probe)
        opened.goto(f"{base}{PROBE}")
        opened.wait_for_function("window.mapLoaded === true || window.mapError !== undefined")
        yield opened
        browser.close()
    runtime.close()


def _seen(page: Page) -> dict[str, list[dict[str, Any]]]:
    page.evaluate("window.settle()")
    error = page.evaluate("window.mapError")
    assert error is None, error
    seen: dict[str, list[dict[str, Any]]] = page.evaluate("window.gridsSeen()")
    return seen


def test_maplibre_decodes_every_level_shown_at_street_zoom_with_its_properties(page: Page) -> None:
    seen = _seen(page)
    codes = {level: {f["code"] for f in features} for level, features in seen.items()}
    # The view (113.62–113.66 E) lies in the west district's first street, across both of its
    # communities, and holds the school.
    assert codes["district"] == {"410102"}
    assert codes["street"] == {"410102001"}
    assert codes["community"] == {"410102001001", "410102001002"}
    assert codes["special"] == {"SP-SCHOOL-1"} and not codes["compound"]
    # A grid spanning several tiles comes back once per tile, always alike.
    (school_json,) = {json.dumps(f, sort_keys=True) for f in seen["special"]}
    school = json.loads(school_json)
    assert school["name"] == "第一实验小学"
    assert school["level"] == "special" and school["kind"] == "school"
    assert all(f["kind"] == "regular" for f in seen["community"])
    assert all(isinstance(f["id"], int) and f["id"] > 0 for fs in seen.values() for f in fs)


def test_maplibre_shows_only_districts_when_zoomed_out(page: Page) -> None:
    page.evaluate("window.map.jumpTo({ center: [113.68, 34.78], zoom: 8 })")
    seen = _seen(page)
    assert {f["code"] for f in seen["district"]} == {"410102", "410103"}
    assert all(not seen[level] for level in ("street", "community", "special")), json.dumps(seen)
