"""City-editable CSV tables shipped as package data, with errors that point at line and column.

A table is UTF-8 CSV (an Excel BOM is tolerated). Lines starting with `#` and blank lines are
ignored, so a file can carry its own documentation; the first other line is the header. Each record
must fit on one physical line (quote fields that contain commas), so a line number in an error is
the line an editor shows.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gridgov.core.errors import InvalidInput


class DataFileError(InvalidInput):
    """A data file cell that cannot be accepted; `source`, `line` and `column` say where."""

    def __init__(self, source: str, line: int, column: str, problem: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        super().__init__(f"{source} line {line}, column {column}", problem)


@dataclass(frozen=True, slots=True)
class Row:
    source: str
    line: int
    cells: Mapping[str, str]

    def get(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def require(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise self.error(column, "is empty but required")
        return value

    def error(self, column: str, problem: str) -> DataFileError:
        return DataFileError(self.source, self.line, column, problem)


def read_text(path: Path | str | None, default_resource: str) -> tuple[str, str]:
    """The file's text and the name errors should use; the shipped resource when `path` is None."""
    if path is None:
        data = resources.files("gridgov.workflow").joinpath("data", default_resource)
        return data.read_text(encoding="utf-8"), default_resource
    file = Path(path)
    return file.read_text(encoding="utf-8"), file.name


def read_table(text: str, source: str, columns: Sequence[str]) -> list[Row]:
    """Rows of `text`, whose header must name exactly `columns` (in any order)."""
    header: list[str] | None = None
    rows: list[Row] = []
    for number, raw in enumerate(text.removeprefix("\ufeff").splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = next(csv.reader([raw]))
        if header is None:
            header = [f.strip() for f in fields]
            _check_header(header, columns, source, number)
            continue
        if len(fields) != len(header):
            where = header[len(fields)] if len(fields) < len(header) else f"#{len(fields)}"
            raise DataFileError(
                source, number, where, f"has {len(fields)} fields, the header has {len(header)}"
            )
        rows.append(Row(source, number, dict(zip(header, fields, strict=True))))
    if header is None:
        raise DataFileError(source, 1, "(header)", f"no header line; expected {', '.join(columns)}")
    return rows


def _check_header(header: list[str], columns: Sequence[str], source: str, line: int) -> None:
    for name in header:
        if name not in columns:
            raise DataFileError(
                source, line, name, f"unknown column; expected {', '.join(columns)}"
            )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataFileError(source, line, name, "column appears twice")
        seen.add(name)
    for name in columns:
        if name not in seen:
            raise DataFileError(source, line, name, "column is missing from the header")
