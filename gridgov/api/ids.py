"""Row ids on the wire: positive and within the store's INTEGER columns (32-bit on PostgreSQL),
so that an id out of range is refused as input instead of failing in the database as a 500."""

from __future__ import annotations

MAX_ROW_ID = 2**31 - 1


def row_id(raw: str) -> int | None:
    """`raw` as a row id if it is ASCII digits within range, else None (no such row).

    `str.isdigit` alone is not enough: it accepts "²" and other Unicode digits `int` refuses.
    """
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10:
        return None
    value = int(raw)
    return value if value <= MAX_ROW_ID else None
