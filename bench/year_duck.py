"""The dashboard figures as DuckDB SQL, for bench/year.py: the same definitions as
gridgov/store/analytics.py (docs/analytics.md), over the Parquet files loaded into DuckDB tables,
straight from the cases with no rollups — DuckDB's columns are what make it fast."""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple
from pathlib import Path
from typing import Any

import duckdb

from gridgov.analytics.indicators import (
    DONE_STATES,
    HANDLED_STATES,
    OPEN_STATES,
    PUBLIC_CHANNELS,
    REWORK_ACTIONS,
    SATISFIED,
    CohortFigures,
)

CHILD = {
    "city_code": "district_code",
    "district_code": "street_code",
    "street_code": "community_code",
}


def _list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _utc(at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.UTC).replace(tzinfo=None)


class DuckFigures:
    def __init__(self, duck: duckdb.DuckDBPyConnection, parquet: Path, *, zone_offset_hours: int):
        self._duck = duck
        self._offset = dt.timedelta(hours=zone_offset_hours)
        for table in ("cases", "reports", "case_events"):
            duck.execute(
                f"create or replace table d_{table} as select * from '{parquet / table}.parquet'"
            )

    def _midnight(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(0)) - self._offset

    # One figure as the service names it

    def figure(self, name: str, level: str, code: str, now: dt.datetime, month: str) -> Any:
        last = (now.astimezone(dt.UTC) + self._offset).date()
        if name == "overview":
            return self.overview(level, code, _utc(now), last)
        if name.startswith("trend"):
            days = int(name.split("(")[1].split()[0])
            return self.trend(level, code, last, days, _utc(now))
        year, number = (int(p) for p in month.split("-"))
        first = dt.date(year, number, 1)
        following = dt.date(year + (number == 12), number % 12 + 1, 1)
        start, end = self._midnight(first), self._midnight(following)
        if name.startswith("children"):
            return self.cohort(level, code, start, end, _utc(now), CHILD[level], public=True)
        return self.cohort(level, code, start, end, _utc(now), "assignee_department", handling=True)

    def agrees(self, name: str, found: Any, answer: Any) -> bool:
        """Whether DuckDB's answer is the service's."""
        if name == "overview":
            channels = {k: v for k, v in answer.reports_by_channel.items() if v}
            service = (answer.created, answer.closed, answer.open, answer.overdue, channels)
            return bool(
                found["day"] == service
                and found["figures"] == answer.figures
                and found["states"] == dict(answer.by_state)
            )
        if name.startswith("trend"):
            return bool(found == [astuple(d) for d in answer.days])
        rows = {
            (r.grid.code if hasattr(r, "grid") else r.code): r.figures
            for r in answer.rows
            if r.figures != CohortFigures()
        }
        nonzero = {k: v for k, v in found.items() if v != CohortFigures()}
        return bool(nonzero == rows)

    # The queries

    def cohort(
        self,
        level: str,
        code: str,
        start: dt.datetime,
        end: dt.datetime,
        now: dt.datetime,
        key: str | None,
        *,
        public: bool = False,
        handling: bool = False,
    ) -> dict[str | None, CohortFigures]:
        done = f"state in {_list(DONE_STATES)}"
        filed = "(filed_at is not null and state <> 'merged')"
        dispatched = "dispatched_at is not null"
        counts = {
            "created": "state <> 'merged'",
            "filed": filed,
            "due": f"{filed} and ({done} or handle_due < $now)",
            "closed": done,
            "closed_on_time": f"{done} and closed_at <= handle_due",
            "public_filed": f"{filed} and pub.case_id is not null" if public else "false",
            "dispatched": dispatched,
            "returned": f"{dispatched} and return_count > 0",
            "handled": f"(state in {_list(HANDLED_STATES)} or rw.case_id is not null)",
            "reworked": "rw.case_id is not null",
            "evaluated": "satisfaction is not null",
            "satisfied": f"satisfaction in {_list(SATISFIED)}",
            "handle_due": f"{dispatched} and (h.handled_at is not null or handle_due < $now)"
            if handling
            else "false",
            "handled_on_time": f"{dispatched} and h.handled_at <= handle_due"
            if handling
            else "false",
        }
        measures = ", ".join(f"count(*) filter (where {c}) as {n}" for n, c in counts.items())
        group = f"c.{key}" if key else "null"
        query = f"""
            with c as (select * from d_cases where {level} = $code
                       and created_at >= $start and created_at < $end),
            rw as (select distinct case_id from d_case_events
                   where action in {_list(REWORK_ACTIONS)} and "at" >= $start),
            h as (select case_id, max("at") as handled_at from d_case_events
                  where action = 'handle' and "at" >= $start group by case_id),
            pub as (select distinct case_id from d_reports where channel in {_list(PUBLIC_CHANNELS)}
                    and case_id in (select id from c))
            select {group} as key, {measures}
            from c left join rw on rw.case_id = c.id left join h on h.case_id = c.id
                   left join pub on pub.case_id = c.id
            {"where " + group + " is not null" if key else ""}
            group by all
        """
        params = {"code": code, "start": start, "end": end, "now": now}
        rows = self._duck.execute(query, params).fetchall()
        return {row[0]: CohortFigures(*(int(v) for v in row[1:])) for row in rows}

    def overview(self, level: str, code: str, now: dt.datetime, day: dt.date) -> dict[str, Any]:
        start, end = self._midnight(day), self._midnight(day + dt.timedelta(days=1))
        window = self._midnight(day - dt.timedelta(days=29))
        params = {"code": code, "start": start, "end": end}
        done = _list(DONE_STATES)
        created, closed = self._duck.execute(
            f"""select count(*) filter (where created_at >= $start and created_at < $end
                                        and state <> 'merged'),
                       count(*) filter (where state in {done} and closed_at >= $start
                                        and closed_at < $end)
                from d_cases where {level} = $code""",
            params,
        ).fetchone() or (0, 0)
        channels = dict(
            self._duck.execute(
                f"""select r.channel, count(*) from d_reports r join d_cases c on c.id = r.case_id
                    where c.{level} = $code and c.created_at >= $start and c.created_at < $end
                      and r.received_at >= $start and r.received_at < $end group by r.channel""",
                params,
            ).fetchall()
        )
        open_, overdue = self._duck.execute(
            f"""select count(*), count(*) filter (where handle_due < $now) from d_cases
                where {level} = $code and state in {_list(OPEN_STATES)}""",
            {"code": code, "now": now},
        ).fetchone() or (0, 0)
        figures = self.cohort(level, code, window, end, now, None).get(None, CohortFigures())
        states = dict(
            self._duck.execute(
                f"""select state, count(*) from d_cases where {level} = $code
                    and created_at >= $start and created_at < $end group by state""",
                {"code": code, "start": window, "end": end},
            ).fetchall()
        )
        return {
            "day": (created, closed, open_, overdue, channels),
            "figures": figures,
            "states": states,
        }

    def trend(
        self, level: str, code: str, last: dt.date, days: int, now: dt.datetime
    ) -> list[tuple[Any, ...]]:
        first = last - dt.timedelta(days=days - 1)
        start, end = self._midnight(first), self._midnight(last + dt.timedelta(days=1))
        shift = f"interval {int(self._offset.total_seconds())} second"
        done = _list(DONE_STATES)
        day_of = "(({column}) + " + shift + ")::date"
        query = f"""
            with c as (select * from d_cases where {level} = $code),
            days as (select range::date as day from range($first::date, $after::date, interval 1 day)),
            created as (select {day_of.format(column="created_at")} as day, count(*) as n from c
                        where created_at >= $start and created_at < $end and state <> 'merged'
                        group by all),
            closed as (select {day_of.format(column="closed_at")} as day, count(*) as n,
                              count(*) filter (where closed_at <= handle_due) as on_time
                       from c where state in {done} and closed_at >= $start and closed_at < $end
                       group by all),
            late as (select handle_due, closed_at from c where state in {done}
                     and closed_at >= $start and closed_at > handle_due and handle_due < $end),
            -- Overdue at a day's end: +1 from the deadline's day (or the first), -1 from the
            -- closing day; open cases only start.
            changes as (
                select greatest({day_of.format(column="handle_due")}, $first::date) as day,
                       count(*) as n
                from c where state in {_list(OPEN_STATES)} and handle_due < $end group by all
                union all
                select greatest({day_of.format(column="handle_due")}, $first::date), count(*)
                from late group by all
                union all
                select {day_of.format(column="closed_at")}, -count(*) from late group by all
            ),
            per_day as (select day, sum(n) as n from changes group by day)
            select d.day, coalesce(cr.n, 0), coalesce(cl.n, 0), coalesce(cl.on_time, 0),
                   sum(coalesce(p.n, 0)) over (order by d.day)
            from days d left join created cr on cr.day = d.day left join closed cl on cl.day = d.day
                 left join per_day p on p.day = d.day
            order by d.day
        """
        params = {
            "code": code,
            "first": first,
            "after": last + dt.timedelta(days=1),
            "start": start,
            "end": end,
        }
        rows = self._duck.execute(query, params).fetchall()
        return [(day, *(int(v) for v in rest)) for day, *rest in rows]
