"""Mapbox Vector Tile 2.1 encoding, read back with an independent wire-format reader."""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from gridgov.grids.vector_tile import LayerFeatures, encode_tile, polygon_commands
from tests.grids.mvt_reader import read_tile, signed_area


def _layer(name: str, *geometries: shapely.Geometry) -> LayerFeatures:
    return LayerFeatures(
        name=name,
        geometries=np.array(geometries, dtype=object),
        ids=np.arange(1, len(geometries) + 1, dtype=np.int64),
        properties={
            "code": np.array([f"G{i}" for i in range(len(geometries))], dtype=object),
            "level": np.array(["micro"] * len(geometries), dtype=object),
        },
    )


def test_a_square_is_encoded_as_the_spec_worked_out_by_hand() -> None:
    # Given anticlockwise on screen; written clockwise (positive area), starting from (12, 2).
    square = Polygon([(2, 2), (2, 12), (12, 12), (12, 2)])
    commands, offsets, kept = polygon_commands(np.array([square], dtype=object))
    assert commands.tolist() == [9, 24, 4, 26, 0, 20, 19, 0, 0, 19, 15]
    assert offsets.tolist() == [0, 11] and kept.tolist() == [0]


def test_the_cursor_runs_on_through_holes_and_restarts_for_each_feature() -> None:
    with_hole = Polygon(
        [(0, 0), (0, 100), (100, 100), (100, 0)], [[(40, 40), (60, 40), (60, 60), (40, 60)]]
    )
    second = Polygon([(200, 200), (200, 210), (210, 210), (210, 200)])
    features = read_tile(encode_tile([_layer("micro", with_hole, second)]))["micro"].features
    assert [len(f.rings) for f in features] == [2, 1]
    exterior, hole = features[0].rings
    assert signed_area(exterior) == 100 * 100 and signed_area(hole) == -20 * 20
    assert sorted(hole) == [(40, 40), (40, 60), (60, 40), (60, 60)]
    assert sorted(features[1].rings[0]) == [(200, 200), (200, 210), (210, 200), (210, 210)]


def test_vertices_that_round_onto_each_other_are_written_once() -> None:
    shaky = Polygon([(0, 0), (0.2, 0.1), (0, 50), (50.4, 50.3), (50, 49.8), (50, 0), (0.3, 0.2)])
    (feature,) = read_tile(encode_tile([_layer("micro", shaky)]))["micro"].features
    (ring,) = feature.rings
    assert sorted(ring) == [(0, 0), (0, 50), (50, 0), (50, 50)]


def test_rings_left_without_area_are_dropped_with_the_holes_of_a_dropped_exterior() -> None:
    sliver = Polygon([(0, 0), (100, 0.2), (200, 0.1)])  # rounds onto a line
    sliver_with_hole = Polygon(
        [(0, 0), (100, 0.2), (200, 0.1), (100, 0.3)], [[(90, 0.1), (110, 0.1), (100, 0.2)]]
    )
    dot = Polygon([(5.1, 5.1), (5.2, 5.1), (5.2, 5.2)])
    fine = MultiPolygon([Polygon([(0, 0), (0, 10), (10, 10)]), dot])
    layers = read_tile(encode_tile([_layer("micro", sliver, sliver_with_hole, fine)]))
    (feature,) = layers["micro"].features
    assert feature.id == 3 and feature.properties["code"] == "G2"
    assert len(feature.rings) == 1


def test_a_layer_left_with_no_feature_is_omitted_and_a_tile_with_none_is_empty() -> None:
    dot = Polygon([(5.1, 5.1), (5.2, 5.1), (5.2, 5.2)])
    square = Polygon([(0, 0), (0, 10), (10, 10), (10, 0)])
    assert encode_tile([_layer("micro", dot), _layer("empty")]) == b""
    assert encode_tile([]) == b""
    assert list(read_tile(encode_tile([_layer("micro", dot), _layer("street", square)]))) == [
        "street"
    ]


def test_property_values_are_shared_through_the_layer_tables() -> None:
    squares = [shapely.box(i * 20, 0, i * 20 + 10, 10) for i in range(3)]
    layer = read_tile(encode_tile([_layer("micro", *squares)]))["micro"]
    assert layer.version == 2 and layer.extent == 4096
    assert [f.properties for f in layer.features] == [
        {"code": "G0", "level": "micro"},
        {"code": "G1", "level": "micro"},
        {"code": "G2", "level": "micro"},
    ]
    assert [f.id for f in layer.features] == [1, 2, 3]


def test_empty_and_non_polygonal_shapes_from_clipping_are_skipped() -> None:
    collection = shapely.GeometryCollection(
        [shapely.LineString([(0, 0), (5, 5)]), shapely.box(20, 20, 30, 30)]
    )
    layer = read_tile(encode_tile([_layer("micro", Polygon(), collection, shapely.Point(1, 1))]))
    (feature,) = layer["micro"].features
    assert feature.properties["code"] == "G1"
    assert sorted(feature.rings[0]) == [(20, 20), (20, 30), (30, 20), (30, 30)]
