"""Column types the store needs beyond SQLAlchemy's own: shapely geometries and UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import DateTime, Dialect, LargeBinary, func
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

SRID = 4326


class PostGISGeometry(UserDefinedType[bytes]):
    """PostGIS `geometry(Geometry, 4326)` exchanged with the driver as plain WKB bytes."""

    cache_ok = True

    def __init__(self, *args: Any) -> None:
        # Reflection passes the typmod parts ("Geometry", "4326"); they are fixed for gridgov.
        self.typmod = args

    def get_col_spec(self, **kw: Any) -> str:
        return f"geometry(Geometry,{SRID})"

    def bind_expression(self, bindvalue: Any) -> ColumnElement[Any]:
        return func.ST_GeomFromWKB(bindvalue, SRID, type_=self)

    def column_expression(self, colexpr: Any) -> ColumnElement[Any]:
        return func.ST_AsBinary(colexpr, type_=LargeBinary)


class Geometry(TypeDecorator[BaseGeometry]):
    """A shapely geometry: a WKB BLOB on SQLite, a PostGIS geometry in SRID 4326 on PostgreSQL.

    Bind values may also be WKB bytes already, which lets bulk inserts encode a whole array at once.
    """

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PostGISGeometry())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None or isinstance(value, bytes):
            return value
        return bytes(shapely.to_wkb(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return shapely.from_wkb(bytes(value))


class GeometryWKB(Geometry):
    """The same column read as raw WKB bytes, for decoding many rows with one shapely call."""

    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else bytes(value)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware timestamp, stored in UTC; SQLite keeps no zone, so one is put back on reading."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            # A naive time is ambiguous across servers; refusing it is safer than guessing.
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give a zone")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
