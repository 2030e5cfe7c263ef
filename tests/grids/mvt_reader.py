"""A small, independent reader of Mapbox Vector Tiles for the tests.

It parses the protobuf wire format by hand (not with the encoder's message classes), so a wrong
field number or wire type in the encoder shows up as a tile these tests cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass

import shapely


@dataclass
class Feature:
    id: int
    properties: dict[str, object]
    geom_type: int
    rings: list[list[tuple[int, int]]]  # as drawn: each ring's vertices, not closed

    def polygon(self) -> shapely.MultiPolygon:
        """The feature as polygons: each positive-area ring starts a polygon, negative ones are holes."""
        polygons: list[tuple[list[tuple[int, int]], list[list[tuple[int, int]]]]] = []
        for ring in self.rings:
            if signed_area(ring) > 0:
                polygons.append((ring, []))
            else:
                assert polygons, "a hole before any exterior ring"
                polygons[-1][1].append(ring)
        return shapely.MultiPolygon([shapely.Polygon(shell, holes) for shell, holes in polygons])


@dataclass
class Layer:
    name: str
    version: int
    extent: int
    features: list[Feature]


def signed_area(ring: list[tuple[int, int]]) -> float:
    """The surveyor's formula over a ring in tile coordinates (positive: clockwise on screen)."""
    total = 0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return total / 2


def read_tile(data: bytes) -> dict[str, Layer]:
    layers = [_layer(value) for number, value in _fields(data) if number == 3]
    return {layer.name: layer for layer in layers}


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
            out.append((number, value))
        elif wire == 2:
            length, i = _varint(data, i)
            out.append((number, data[i : i + length]))
            i += length
        elif wire == 5:
            out.append((number, int.from_bytes(data[i : i + 4], "little")))
            i += 4
        elif wire == 1:
            out.append((number, int.from_bytes(data[i : i + 8], "little")))
            i += 8
        else:
            raise ValueError(f"unexpected wire type {wire} for field {number}")
    return out


def _packed(value: int | bytes) -> list[int]:
    assert isinstance(value, bytes), "repeated scalars must be packed"
    values, i = [], 0
    while i < len(value):
        v, i = _varint(value, i)
        values.append(v)
    return values


def _value(data: bytes) -> object:
    ((number, value),) = _fields(data)
    if number == 1:
        assert isinstance(value, bytes)
        return value.decode()
    return value


def _layer(data: int | bytes) -> Layer:
    assert isinstance(data, bytes)
    fields = _fields(data)
    keys = [v.decode() for n, v in fields if n == 3 and isinstance(v, bytes)]
    values = [_value(v) for n, v in fields if n == 4 and isinstance(v, bytes)]
    name = next(v for n, v in fields if n == 1)
    version = next(v for n, v in fields if n == 15)
    extent = next((v for n, v in fields if n == 5), 4096)
    assert isinstance(name, bytes) and isinstance(version, int) and isinstance(extent, int)
    features = [_feature(v, keys, values) for n, v in fields if n == 2]
    return Layer(name.decode(), version, extent, features)


def _feature(data: int | bytes, keys: list[str], values: list[object]) -> Feature:
    assert isinstance(data, bytes)
    fields = dict(_fields(data))
    tags = _packed(fields.get(2, b""))
    properties = {keys[k]: values[v] for k, v in zip(tags[::2], tags[1::2], strict=True)}
    feature_id = fields.get(1, 0)
    geom_type = fields.get(3, 0)
    assert isinstance(feature_id, int) and isinstance(geom_type, int)
    return Feature(feature_id, properties, geom_type, _rings(_packed(fields.get(4, b""))))


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _rings(commands: list[int]) -> list[list[tuple[int, int]]]:
    rings: list[list[tuple[int, int]]] = []
    x = y = i = 0
    current: list[tuple[int, int]] = []
    while i < len(commands):
        command, count = commands[i] & 7, commands[i] >> 3
        i += 1
        if command == 7:
            assert count == 1 and len(current) >= 3, "ClosePath after fewer than 3 vertices"
            rings.append(current)
            current = []
            continue
        assert command in (1, 2), f"unknown command {command}"
        assert (command == 1) == (not current), "MoveTo must start a ring, LineTo continue it"
        for _ in range(count):
            x += _zigzag(commands[i])
            y += _zigzag(commands[i + 1])
            i += 2
            current.append((x, y))
    assert not current, "a ring was not closed"
    return rings
