"""Small reads of the grids table that the in-memory locate index does not carry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.store.tables import GridRow


class GridQueries:
    """Read-only; the caller owns the session."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def areas_m2(self, layer_id: int, codes: Sequence[str]) -> dict[str, float]:
        """The stored area of each grid named, in square metres (computed once, on import)."""
        found: dict[str, float] = {}
        wanted = list(dict.fromkeys(codes))
        for start in range(0, len(wanted), 500):
            rows = self._session.execute(
                select(GridRow.code, GridRow.area_m2).where(
                    GridRow.layer_id == layer_id, GridRow.code.in_(wanted[start : start + 500])
                )
            )
            found.update({code: float(area) for code, area in rows})
        return found
