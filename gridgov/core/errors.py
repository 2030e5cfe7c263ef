"""Errors that gridgov raises on purpose.

GridGovError
├── InvalidInput        bad data from outside; names the field and the problem (HTTP 4xx, CLI exit 2)
│   ├── InvalidGeometry     a polygon that cannot be repaired safely
│   ├── InvalidCoordinate   a coordinate that is not a number, out of range, or in an unknown CRS
│   └── OutsideCoverage     a point too far outside every grid to be answered
├── NotFound            a named thing (layer, grid, person) does not exist
└── Conflict            the request is valid but the store's state forbids it (duplicate code,
                        activating a layer that failed validation)
"""

from __future__ import annotations


class GridGovError(Exception):
    """Base of every error gridgov raises on purpose."""


class InvalidInput(GridGovError):
    """Input that cannot be accepted; `field` names where, `problem` says what."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class InvalidGeometry(InvalidInput):
    pass


class InvalidCoordinate(InvalidInput):
    pass


class OutsideCoverage(InvalidInput):
    pass


class NotFound(GridGovError):
    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} not found: {key}")


class Conflict(GridGovError):
    pass
