"""Benchmark: one `locate` through the service layer (no HTTP), at Zhengzhou scale.

    .venv/bin/python bench/locate_service.py [--calls 10000]

Builds the demo city into a temporary SQLite store, activates it, then times single-point
`GridLocating.locate` calls (active-layer lookup, CRS handling, index, answer objects) against
`GridIndex.locate` on the same index in the same run, and a GCJ-02 input. Prints medians and the
ratio and replaces the "## Locate through the service layer" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gridgov.bootstrap import build_runtime  # noqa: E402
from gridgov.config import load_settings  # noqa: E402
from gridgov.core.geo import Crs  # noqa: E402
from gridgov.grids import crs as crs_convert  # noqa: E402
from gridgov.sim.city import generate_city  # noqa: E402
from gridgov.store.migrate import upgrade  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Locate through the service layer"


def median_us(calls: list[tuple[float, float]], fn) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(3):
        started = time.perf_counter()
        for lon, lat in calls:
            fn(lon, lat)
        samples.append((time.perf_counter() - started) / len(calls) * 1e6)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        upgrade(settings.resolved_database_url)
        runtime = build_runtime(settings)
        grids = generate_city()
        outcome = runtime.grids.import_grids(grids, name="bench", source="bench", commit=True)
        assert outcome.layer is not None
        layer = runtime.grids.activate(outcome.layer.id, commit=True)
        index = runtime.locating.index(layer)
        rng = np.random.default_rng(12345)
        # Points where reports come from: inside the urban core, so every call is an "inside" hit.
        lon = rng.uniform(113.58, 113.75, args.calls)
        lat = rng.uniform(34.70, 34.82, args.calls)
        calls = list(zip(lon.tolist(), lat.tolist(), strict=True))
        gx, gy = crs_convert.wgs84_to_gcj02(lon, lat)
        gcj_calls = list(zip(gx.tolist(), gy.tolist(), strict=True))
        runtime.locating.locate(*calls[0])
        raw = median_us(calls, index.locate)
        service = median_us(calls, runtime.locating.locate)
        gcj = median_us(gcj_calls, lambda x, y: runtime.locating.locate(x, y, crs=Crs.GCJ02))
        runtime.close()
    lines = [
        HEADING,
        "",
        f"Date {dt.date.today()}; {args.calls:,} single-point calls in the urban core, mean per "
        "call, median of 3 passes; demo city (75,363 grids), SQLite store. Rerun with "
        "`.venv/bin/python bench/locate_service.py`.",
        "",
        "| path | µs per call |",
        "| --- | --- |",
        f"| `GridIndex.locate` (baseline, same index) | {raw:.1f} |",
        f"| `GridLocating.locate`, WGS84 (service layer) | {service:.1f} |",
        f"| `GridLocating.locate`, GCJ-02 input | {gcj:.1f} |",
        "",
        f"Service overhead over the index: {service / raw:.2f}×. Target: < 50 µs per call.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_doc:
        doc = DOC.read_text(encoding="utf-8")
        pattern = re.compile(rf"{re.escape(HEADING)}\n.*?(?=\n## |\Z)", re.S)
        doc = pattern.sub(text.rstrip("\n"), doc) if pattern.search(doc) else doc + "\n" + text
        DOC.write_text(doc, encoding="utf-8")


if __name__ == "__main__":
    main()
