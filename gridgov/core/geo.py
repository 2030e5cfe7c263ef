"""Coordinate reference systems gridgov accepts. Storage is always WGS84 longitude/latitude."""

from __future__ import annotations

from enum import StrEnum


class Crs(StrEnum):
    """Named coordinate systems of Chinese web maps and surveys.

    CGCS2000 differs from WGS84 by centimetres, below any grid's precision, so both are stored as is.
    GCJ-02 (AMap, Tencent) and BD-09 (Baidu) are obfuscated systems with offsets of hundreds of
    metres and must be converted on intake.
    """

    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"

    @classmethod
    def parse(cls, value: str) -> Crs:
        key = value.strip().lower().replace("-", "").replace("_", "")
        aliases = {"epsg4326": "wgs84", "epsg4490": "cgcs2000", "amap": "gcj02", "baidu": "bd09"}
        key = aliases.get(key, key)
        for crs in cls:
            if crs.value == key:
                return crs
        raise ValueError(value)
