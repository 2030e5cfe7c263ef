"""Small, hand-checkable grid layers for tests, in WGS84 near Zhengzhou (113.6° E, 34.7° N)."""

from __future__ import annotations

from shapely import box
from shapely.geometry import MultiPolygon, Polygon

from gridgov.grids.model import Grid, GridLevel, SpecialKind

ORIGIN_LON = 113.6
ORIGIN_LAT = 34.7
CITY_SIZE = 0.16  # degrees: the city is a square, halved into districts, quartered into streets


def _square(x0: float, y0: float, size: float) -> Polygon:
    return box(ORIGIN_LON + x0, ORIGIN_LAT + y0, ORIGIN_LON + x0 + size, ORIGIN_LAT + y0 + size)


def sample_grids() -> list[Grid]:
    """1 city, 2 districts, 4 streets, 8 communities, 2 specials; each regular level tiles its parent.

    District D1 is the west half, D2 the east half; each has two streets stacked south to north,
    each street two communities side by side. A school lies inside street S1 (crossing its two
    communities) and a hospital in street S4; one of the communities is a MultiPolygon.
    """
    s = CITY_SIZE
    grids = [Grid("410100", "郑州市", GridLevel.CITY, _square(0, 0, s))]
    districts = [("410102", "中原区", 0.0), ("410103", "二七区", s / 2)]
    street_no = 0
    for d_code, d_name, dx in districts:
        grids.append(
            Grid(
                d_code,
                d_name,
                GridLevel.DISTRICT,
                box(ORIGIN_LON + dx, ORIGIN_LAT, ORIGIN_LON + dx + s / 2, ORIGIN_LAT + s),
                parent_code="410100",
            )
        )
        for dy in (0.0, s / 2):
            street_no += 1
            street_code = f"{d_code}{street_no:03d}"
            grids.append(
                Grid(
                    street_code,
                    f"第{street_no}街道",
                    GridLevel.STREET,
                    _square(dx, dy, s / 2),
                    parent_code=d_code,
                )
            )
            for half, cx in enumerate((0.0, s / 4), start=1):
                geometry: Polygon | MultiPolygon = box(
                    ORIGIN_LON + dx + cx,
                    ORIGIN_LAT + dy,
                    ORIGIN_LON + dx + cx + s / 4,
                    ORIGIN_LAT + dy + s / 2,
                )
                if street_no == 4 and half == 2:
                    # Two parts with a road between them, so MultiPolygons are covered too.
                    minx, miny, maxx, maxy = geometry.bounds
                    mid = (miny + maxy) / 2
                    geometry = MultiPolygon(
                        [box(minx, miny, maxx, mid - 0.001), box(minx, mid + 0.001, maxx, maxy)]
                    )
                grids.append(
                    Grid(
                        f"{street_code}{half:03d}",
                        f"第{street_no}街道第{half}社区",
                        GridLevel.COMMUNITY,
                        geometry,
                        parent_code=street_code,
                    )
                )
    grids.append(
        Grid(
            "SP-SCHOOL-1",
            "第一实验小学",
            GridLevel.SPECIAL,
            _square(0.03, 0.02, 0.02),
            parent_code="410102001",
            special_kind=SpecialKind.SCHOOL,
            responsible_unit="中原区教育局",
        )
    )
    grids.append(
        Grid(
            "SP-HOSPITAL-1",
            "市第一人民医院",
            GridLevel.SPECIAL,
            _square(0.12, 0.12, 0.015),
            parent_code="410103004",
            special_kind=SpecialKind.HOSPITAL,
            responsible_unit="市卫生健康委员会",
        )
    )
    return grids
