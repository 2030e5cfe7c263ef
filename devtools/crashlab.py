"""Crash lab: kill -9 the server and the background worker at random moments under load, then
check that nothing acknowledged was lost or doubled and that nothing was left half done.

The deployment is `devtools.stack` (PostgreSQL, `gridgov serve --workers 2`, `gridgov worker`,
a fake 12345 platform on loopback). Channel clients push reports over HTTP with their API keys
and retry as real channels do: the same external id after a timeout, a lost connection or a 5xx,
with growing pauses, until acknowledged. Before each kill a few cases are dispatched with
deadlines falling due around it, so the sweeper has escalations to do while it is being killed.

What is checked afterwards, and printed (`CrashReport.lines`):

- acknowledged reports: each (channel, external id) acknowledged is stored exactly once, under the
  report id the acknowledgement named, and opened (or joined) exactly one case: one `report`
  event names it. Reports stored but never acknowledged, and pushes never acknowledged, are
  counted too.
- stuck cases: a case row reserved without its first event; a case whose projection (state, last
  seq, owning level, merge target) disagrees with the replay of its events; a located report
  without a case; an open case whose `sweep_at` is before the start of the last completed sweep
  (the sweeper should have looked at it); a 12345 status still pending, or marked delivered that
  the platform never received. A status the killed worker had claimed is sent again when its
  claim's lease (two minutes) runs out, so the check waits for that after the last worker kill.
- deadlines: every seeded deadline escalated exactly once, never before it, and late by at most
  the sweeper's downtime around it plus its normal cadence (the longest time between two sweep
  starts with no downtime in between, as measured in the run) and 0.5 s. The sweeper's downtime
  after a kill of the worker runs from the kill to the first sweep started after it (restart,
  start-up and the dead worker's lease running out). Late beyond that means a sweep that ran
  after the deadline did not escalate the case.
- the audit chain: `gridgov audit verify`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
from sqlalchemy import func, select, text

from devtools.stack import Service, Stack, free_port
from devtools.traffic import PUSH_CHANNELS, TEXTS, payload
from gridgov.intake.channels import adapter
from gridgov.services.cases import NewReport
from gridgov.services.hotline_notify import DELIVERY_LEASE, idempotency_key
from gridgov.store.cases import CaseRepository
from gridgov.store.hotline_notify import HotlineDeliveryRepository, HotlineDeliveryRow
from gridgov.store.intake import LOCATED
from gridgov.store.tables import CaseEventRow, CaseRow, ReportRow
from gridgov.workflow.model import (
    Action,
    Actor,
    Case,
    DispatchCase,
    EscalationReason,
    Role,
)

INTAKE = Actor("crashlab-intake", Role.INTAKE_OPERATOR, "受理员 / intake operator")
SHIFT = Actor("crashlab-shift", Role.SHIFT_LEADER, "值班长 / shift leader")
DISPATCHER = Actor("crashlab-dispatch", Role.DISPATCHER, "派遣员 / dispatcher")
CLOSED_STATES = ("rejected", "closed", "evaluated", "merged")
# From claiming the sweep job to the instant the sweep stamps on its events.
SCHEDULING_SLACK_S = 0.5
PLATFORM_TOKEN = "crashlab-12345-token"


@dataclass(frozen=True)
class CrashConfig:
    kills: int = 5
    # What each kill hits ("server", "server_process", "worker"); None: a random plan.
    targets: tuple[str, ...] | None = None
    scale: float = 0.02
    clients: int = 4
    think_s: float = 0.05
    gap_s: tuple[float, float] = (3.0, 7.0)
    down_s: tuple[float, float] = (0.0, 1.5)
    server_workers: int = 2
    sweep_s: float = 1.0
    lease_s: float = 3.0
    deadlines: int = 30
    drain_s: float = 90.0
    seed: int = 1


@dataclass(frozen=True)
class Kill:
    target: str  # "server" (the whole group), "server_process" (one uvicorn worker), "worker"
    at: dt.datetime
    ready_after_start_s: float | None = None  # server: restart → /healthz 200


@dataclass
class Ledger:
    """What the channels were told: acknowledged keys with their report ids, and the rest."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[tuple[str, str], int] = field(default_factory=dict)
    created: Counter[bool] = field(default_factory=Counter)
    sent: set[tuple[str, str]] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    retried: int = 0

    def ack(self, key: tuple[str, str], report_id: int, created: bool, attempts: int) -> None:
        with self.lock:
            previous = self.acked.setdefault(key, report_id)
            if previous != report_id:
                self.refused.append(f"{key}: acknowledged as {previous} and as {report_id}")
            self.created[created] += 1
            self.retried += attempts > 1


class Platform:
    """A fake 12345 status interface on loopback that records every Idempotency-Key it got."""

    def __init__(self) -> None:
        self.keys: Counter[str] = Counter()
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != f"Bearer {PLATFORM_TOKEN}":
                    self.send_response(401)
                else:
                    with platform.lock:
                        platform.keys[self.headers.get("Idempotency-Key", "")] += 1
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Client(threading.Thread):
    """One channel system: pushes reports and retries each until it is acknowledged."""

    def __init__(
        self, n: int, stack: Stack, ledger: Ledger, stop_new: threading.Event, cfg: CrashConfig
    ) -> None:
        super().__init__(name=f"client-{n}", daemon=True)
        self.n = n
        self.stack = stack
        self.ledger = ledger
        self.stop_new = stop_new
        self.cfg = cfg
        self.give_up_at = float("inf")
        self.rng = random.Random(cfg.seed * 1000 + n)

    def run(self) -> None:
        with httpx2.Client(base_url=self.stack.base_url, timeout=10.0) as http:
            serial = 0
            while not self.stop_new.is_set():
                serial += 1
                channel = PUSH_CHANNELS[(self.n + serial) % len(PUSH_CHANNELS)]
                external = f"CL{self.n}-{serial}"
                body = payload(
                    channel,
                    external,
                    self.rng.choice(self.stack.places),
                    dt.datetime.now(dt.UTC) - dt.timedelta(seconds=30),
                    self.rng.choice(TEXTS),
                )
                self._deliver(http, channel, body, external)
                time.sleep(self.cfg.think_s)

    def _deliver(self, http: httpx2.Client, channel: str, body: dict[str, Any], ext: str) -> None:
        # The id the store keys the report by (an IoT reading's is made from device, kind, time).
        stored_id = adapter(channel).parse(body, received_at=dt.datetime.now(dt.UTC)).external_id
        key = (channel, stored_id)
        with self.ledger.lock:
            self.ledger.sent.add(key)
        headers = {"X-Api-Key": self.stack.keys[channel]}
        attempt = 0
        while time.monotonic() < self.give_up_at:
            attempt += 1
            try:
                answer = http.post(f"/api/v1/intake/{channel}", json=body, headers=headers)
            except httpx2.TransportError as exc:
                self.ledger.failures[type(exc).__name__] += 1
            else:
                if answer.status_code in (200, 201):
                    receipt = answer.json()
                    self.ledger.ack(key, receipt["report_id"], receipt["created"], attempt)
                    return
                if answer.status_code < 500 and answer.status_code != 429:
                    with self.ledger.lock:
                        self.ledger.refused.append(
                            f"{channel} {ext}: {answer.status_code} {answer.text[:200]}"
                        )
                    return
                self.ledger.failures[f"HTTP {answer.status_code}"] += 1
            time.sleep(min(2.0, 0.1 * 2 ** min(attempt, 5)) * self.rng.uniform(0.5, 1.0))


class SweepMonitor(threading.Thread):
    """Records the start (and duration) of every sweep run, read from the job's lease row."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(name="sweep-monitor", daemon=True)
        self.stack = stack
        self.starts: set[dt.datetime] = set()
        self.completed: set[dt.datetime] = set()  # starts of the runs that finished
        self.durations: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        engine = self.stack.runtime.engine
        seen: set[tuple[dt.datetime, dt.datetime]] = set()
        query = text(
            "select last_started_at, last_finished_at from job_leases where name = 'sweep'"
        )
        while not self.done.wait(0.05):
            try:
                with engine.connect() as conn:
                    row = conn.execute(query).one_or_none()
            except Exception:
                continue
            if row is None or row[0] is None:
                continue
            started = _aware(row[0])
            self.starts.add(started)
            if row[1] is not None:
                finished = _aware(row[1])
                if finished >= started and (started, finished) not in seen:
                    seen.add((started, finished))
                    self.completed.add(started)
                    self.durations.append((finished - started).total_seconds())

    def first_start_after(self, moment: dt.datetime) -> dt.datetime | None:
        later = [s for s in self.starts if s > moment]
        return min(later) if later else None

    def completed_after(self, moment: dt.datetime) -> bool:
        """Whether a sweep that started after `moment` has also finished (committed)."""
        return any(s > moment for s in self.completed)


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass
class CrashReport:
    config: CrashConfig
    seconds: float
    kills: list[Kill]
    pushes: int
    acked: int
    created: int
    answered_from_store: int
    retried: int
    refused: list[str]
    client_failures: dict[str, int]
    unacked: int
    missing: int
    duplicates: int
    wrong_id: int
    report_events_not_one: int
    stored_unacked: int
    half_open: int
    projection_mismatch: int
    orphan_reports: int
    sweep_behind: int
    hotline_lost: int
    hotline_redelivered: int
    hotline_pending_detail: list[str]
    deadlines: int
    deadlines_missed: int
    deadlines_early: int
    deadlines_doubled: int
    deadlines_late: int
    max_lateness_s: float
    max_excess_s: float
    allowed_excess_s: float
    audit_ok: bool
    audit_text: str
    worker_exit: int | None
    server_exit: int | None
    server_ready_s: list[float]
    worker_down_s: list[float]
    cases: int
    events: int

    @property
    def hotline_pending(self) -> int:
        return len(self.hotline_pending_detail)

    @property
    def stuck(self) -> int:
        return (
            self.half_open
            + self.projection_mismatch
            + self.orphan_reports
            + self.sweep_behind
            + self.hotline_pending
            + self.hotline_lost
        )

    @property
    def ok(self) -> bool:
        return (
            not self.refused
            and self.unacked == 0
            and self.missing == 0
            and self.duplicates == 0
            and self.wrong_id == 0
            and self.report_events_not_one == 0
            and self.stored_unacked == 0
            and self.stuck == 0
            and self.deadlines_missed == 0
            and self.deadlines_early == 0
            and self.deadlines_doubled == 0
            and self.deadlines_late == 0
            and self.audit_ok
            and self.worker_exit == 0
        )

    def lines(self) -> list[str]:
        kinds = Counter(k.target for k in self.kills)
        return [
            f"kills: {len(self.kills)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}) "
            f"in {self.seconds:.0f} s",
            f"pushes: {self.pushes:,} · acknowledged {self.acked:,} (201 new {self.created:,}, "
            f"200 answered from the store {self.answered_from_store:,}) · retried "
            f"{self.retried:,} · never acknowledged {self.unacked} · refused {len(self.refused)}",
            f"client errors retried: {dict(sorted(self.client_failures.items()))}",
            f"acknowledged reports: missing {self.missing} · duplicates {self.duplicates} · "
            f"other report id {self.wrong_id} · not exactly one report event "
            f"{self.report_events_not_one} · stored but never acknowledged {self.stored_unacked}",
            f"stuck: {self.stuck} (case without first event {self.half_open}, projection ≠ events "
            f"{self.projection_mismatch}, located report without case {self.orphan_reports}, "
            f"sweeper behind {self.sweep_behind}, 12345 pending {self.hotline_pending}, 12345 "
            f"marked delivered but not received {self.hotline_lost}); 12345 statuses sent again "
            f"under the same key: {self.hotline_redelivered}",
            *(f"  12345 pending: {d}" for d in self.hotline_pending_detail),
            f"deadlines: {self.deadlines} · missed {self.deadlines_missed} · early "
            f"{self.deadlines_early} · escalated twice {self.deadlines_doubled} · late beyond "
            f"downtime {self.deadlines_late} (max lateness {self.max_lateness_s:.2f} s, max beyond "
            f"downtime {self.max_excess_s:.2f} s, allowed {self.allowed_excess_s:.2f} s)",
            f"recovery: server restart → ready median {_median(self.server_ready_s)} s, max "
            f"{_max(self.server_ready_s)} s · sweeper down after a worker kill median "
            f"{_median(self.worker_down_s)} s, max {_max(self.worker_down_s)} s",
            f"audit: {self.audit_text} · worker exit on SIGTERM {self.worker_exit} · server exit "
            f"{self.server_exit} · {self.cases:,} cases, {self.events:,} events",
            f"verdict: {'OK' if self.ok else 'FAILED'}",
        ]


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f}" if values else "-"


def _max(values: list[float]) -> str:
    return f"{max(values):.2f}" if values else "-"


def run_crashes(cfg: CrashConfig, say: Callable[[str], None] = print) -> CrashReport:
    """Build the deployment, run the load with `cfg.kills` crashes, drain, check, tear down."""
    platform = Platform()
    settings = {
        "GRIDGOV_WORKER_SWEEP_SECONDS": str(cfg.sweep_s),
        "GRIDGOV_WORKER_LEASE_SECONDS": str(cfg.lease_s),
        "GRIDGOV_WORKER_POLL_SECONDS": "0.5",
        "GRIDGOV_WORKER_HOTLINE_NOTIFY_SECONDS": "1",
        "GRIDGOV_WORKER_RETRAIN_HOURS": "0",
        "GRIDGOV_HOTLINE_CALLBACK_URL": f"http://127.0.0.1:{platform.port}",
        "GRIDGOV_HOTLINE_CALLBACK_TOKEN": PLATFORM_TOKEN,
    }
    stack = Stack.build(scale=cfg.scale, settings=settings, say=say)
    try:
        return _run(stack, platform, cfg, say)
    finally:
        stack.close()
        platform.close()


def _run(
    stack: Stack, platform: Platform, cfg: CrashConfig, say: Callable[[str], None]
) -> CrashReport:
    rng = random.Random(cfg.seed)
    # Deadlines are seeded a few at a time before each kill, falling due around it, so that the
    # sweeper has escalations to do across the whole run, kills included.
    per_kill = -(-cfg.deadlines // (cfg.kills + 1))
    due = _seed_deadlines(stack, per_kill, 3.0, 10.0, serial=0)
    server, worker = stack.server(cfg.server_workers), stack.worker()
    server.start()
    worker_starts = [dt.datetime.now(dt.UTC)]
    worker.start()
    stack.wait_ready()
    monitor = SweepMonitor(stack)
    monitor.start()
    ledger, stop_new = Ledger(), threading.Event()
    clients = [Client(n, stack, ledger, stop_new, cfg) for n in range(cfg.clients)]
    for client in clients:
        client.start()
    started = time.perf_counter()
    kills: list[Kill] = []
    plan = list(cfg.targets or kill_plan(cfg.kills, rng, cfg.server_workers))
    for i, target in enumerate(plan):
        # Each crash hits a deployment under load: wait until reports flow again (every client
        # acknowledged once more, on average) since the last restart, then a random while.
        flowing = len(ledger.acked) + cfg.clients
        _wait_for(lambda n=flowing: len(ledger.acked) >= n, 120.0)
        gap = rng.uniform(*cfg.gap_s)
        if len(due) < cfg.deadlines:
            wanted = min(per_kill, cfg.deadlines - len(due))
            due |= _seed_deadlines(stack, wanted, 0.5, gap + cfg.down_s[1] + 2, serial=len(due))
        time.sleep(gap)
        kills.append(_crash(stack, server, worker, target, rng, cfg))
        say(f"kill {i + 1}/{len(plan)}: {kills[-1].target} · acknowledged {len(ledger.acked):,}")
    if not worker.running:
        worker_starts.append(dt.datetime.now(dt.UTC))
    _ensure_running(stack, server, worker)
    stop_new.set()
    give_up = time.monotonic() + cfg.drain_s
    for client in clients:
        client.give_up_at = give_up
    for client in clients:
        client.join(cfg.drain_s + 10)
    seconds = time.perf_counter() - started
    # A sweep after the traffic stopped, every deadline and the last worker start (so that SIGTERM
    # tests its shutdown rather than interrupting its start-up).
    drained = dt.datetime.now(dt.UTC)
    last = max(
        [drained, *due.values(), *worker_starts, *(k.at for k in kills if k.target == "worker")]
    )
    # Wait for that sweep to finish, not only to start: on a loaded machine a started sweep may
    # not have committed its escalations by the time the worker is stopped and the check reads.
    _wait_for(lambda: monitor.completed_after(last), cfg.drain_s)
    # A 12345 delivery the killed worker had claimed is sent again once its lease runs out.
    worker_kills = [k.at for k in kills if k.target == "worker"]
    lease_left = (
        (max(worker_kills) + DELIVERY_LEASE - dt.datetime.now(dt.UTC)).total_seconds()
        if worker_kills
        else 0.0
    )
    _wait_for(lambda: _hotline_drained(stack), max(cfg.drain_s, lease_left + 15))
    worker_exit = worker.terminate()
    server_exit = server.terminate()
    monitor.done.set()
    monitor.join()
    say("checking …")
    audit = stack.gridgov("audit", "verify")
    return _check(
        stack, platform, cfg, ledger, kills, due, monitor, seconds, audit, worker_exit,
        server_exit, worker_starts,
    )  # fmt: skip


def kill_plan(kills: int, rng: random.Random, server_workers: int) -> list[str]:
    """Which process each kill hits: 40 % the whole server, 40 % the background worker, 20 % one
    server process (when there are several); each kind at least once when there are enough."""
    kinds = ["server", "worker"] + (["server_process"] if server_workers > 1 else [])
    shares = {"server": 0.4, "worker": 0.4, "server_process": 0.2}
    plan = kinds[:kills]
    while len(plan) < kills:
        plan.append(rng.choices(kinds, weights=[shares[k] for k in kinds])[0])
    rng.shuffle(plan)
    return plan


def _crash(
    stack: Stack,
    server: Service,
    worker: Service,
    target: str,
    rng: random.Random,
    cfg: CrashConfig,
) -> Kill:
    now = dt.datetime.now(dt.UTC)
    if target == "server_process" and server.kill9_child() is not None:
        # uvicorn's supervisor starts a new process; the other one serves meanwhile.
        return Kill("server_process", now)
    if target != "worker":
        server.kill9()
        time.sleep(rng.uniform(*cfg.down_s))
        server.start()
        return Kill("server", now, stack.wait_ready())
    worker.kill9()
    time.sleep(rng.uniform(*cfg.down_s))
    worker.start()
    return Kill("worker", now)


def _ensure_running(stack: Stack, server: Service, worker: Service) -> None:
    if not server.running:
        server.start()
    if not worker.running:
        worker.start()
    stack.wait_ready()


def _wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def _hotline_drained(stack: Stack) -> bool:
    """Whether the worker has planned every event into 12345 deliveries and sent them all.

    Both halves matter: right after the last sweep's escalations nothing is pending yet only
    because the planner has not read those events.
    """
    with stack.runtime.sessions() as session:
        repo = HotlineDeliveryRepository(session)
        if repo.events_after(repo.checkpoint(), 1):
            return False
        query = select(func.count()).where(HotlineDeliveryRow.status == "pending")
        return not session.scalar(query)


def _seed_deadlines(
    stack: Stack, n: int, lead_s: float, span_s: float, *, serial: int
) -> dict[int, dt.datetime]:
    """Cases filed and dispatched now with accept deadlines spread from `lead_s` to `lead_s` +
    `span_s` from now; `serial` numbers their reports' external ids."""
    cases = stack.runtime.cases
    department = cases.responsibilities.departments[0].code
    now = dt.datetime.now(dt.UTC)
    due: dict[int, dt.datetime] = {}
    for i in range(n):
        place = stack.places[(serial + i) % len(stack.places)]
        report = NewReport(
            channel="grid_patrol",
            external_id=f"SEED-{serial + i}",
            text=f"巡查发现：{TEXTS[i % len(TEXTS)]}",
            reported_at=now,
            lon=place.lon,
            lat=place.lat,
            category_code="E0102",
        )
        _, case = cases.submit_report(report, INTAKE)
        case_id = int(case.id)
        cases.file(case_id, SHIFT)
        at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lead_s + span_s * (i + 0.5) / n)
        command = DispatchCase(
            department=department,
            accept_due=at,
            handle_due=at + dt.timedelta(hours=4),
            reason="crashlab",
        )
        cases.perform(case_id, command, DISPATCHER)
        due[case_id] = at
    return due


def _check(
    stack: Stack,
    platform: Platform,
    cfg: CrashConfig,
    ledger: Ledger,
    kills: list[Kill],
    due: dict[int, dt.datetime],
    monitor: SweepMonitor,
    seconds: float,
    audit: Any,
    worker_exit: int | None,
    server_exit: int | None,
    worker_starts: list[dt.datetime],
) -> CrashReport:
    with stack.runtime.sessions() as session:
        reports = session.execute(
            select(
                ReportRow.id,
                ReportRow.channel,
                ReportRow.external_id,
                ReportRow.case_id,
                ReportRow.location_status,
            )
        ).all()
        case_rows = session.execute(
            select(
                CaseRow.id, CaseRow.state, CaseRow.last_seq, CaseRow.owning_level,
                CaseRow.merged_into, CaseRow.sweep_at,
            )
        ).all()  # fmt: skip
        by_case = CaseRepository(session).events_of([c.id for c in case_rows])
        event_count = session.scalar(select(func.count()).select_from(CaseEventRow)) or 0
        deliveries = session.execute(
            select(
                HotlineDeliveryRow.order_id,
                HotlineDeliveryRow.global_seq,
                HotlineDeliveryRow.status,
                HotlineDeliveryRow.attempts,
                HotlineDeliveryRow.next_attempt_at,
                HotlineDeliveryRow.last_error,
            )
        ).all()
        sweep_row = session.execute(
            text("select last_started_at, last_finished_at from job_leases where name = 'sweep'")
        ).one()
    replayed = {cid: Case.replay(evs) for cid, evs in by_case.items() if evs}
    report_events = Counter(
        str(e.payload.get("report_id"))
        for evs in by_case.values()
        for e in evs
        if e.action is Action.REPORT
    )

    stored: dict[tuple[str, str], list[int]] = {}
    for r in reports:
        stored.setdefault((r.channel, r.external_id), []).append(r.id)
    ours = {k: v for k, v in stored.items() if k[1].startswith("CL")}
    missing = sum(1 for k in ledger.acked if k not in stored)
    duplicates = sum(1 for ids in stored.values() if len(ids) > 1)
    wrong_id = sum(1 for k, rid in ledger.acked.items() if k in stored and stored[k][0] != rid)
    located = {r.id for r in reports if r.location_status == LOCATED}
    not_one = sum(
        1 for k, rid in ledger.acked.items() if rid in located and report_events[str(rid)] != 1
    )
    stored_unacked = sum(1 for k in ours if k not in ledger.acked)

    half_open = sum(1 for c in case_rows if c.last_seq == 0)
    mismatch = 0
    for c in case_rows:
        case = replayed.get(c.id)
        if case is None:
            continue
        merged = int(case.merged_into) if case.merged_into else None
        if (c.state, c.last_seq, c.owning_level, c.merged_into) != (
            case.state.value, case.seq, case.owning_level.value, merged,
        ):  # fmt: skip
            mismatch += 1
    orphans = sum(
        1
        for r in reports
        if r.location_status == LOCATED and (r.case_id is None or r.case_id not in replayed)
    )
    last_sweep = _aware(sweep_row[0]) if sweep_row[0] is not None else None
    finished = (
        sweep_row[1] is not None and last_sweep is not None and _aware(sweep_row[1]) >= last_sweep
    )
    behind = 0
    if last_sweep is not None and finished:
        behind = sum(
            1
            for c in case_rows
            if c.state not in CLOSED_STATES
            and c.sweep_at is not None
            and _aware(c.sweep_at) <= last_sweep
        )
    checked = dt.datetime.now(dt.UTC)
    pending_detail = [
        f"attempts {d.attempts}, next in {(_aware(d.next_attempt_at) - checked).total_seconds():.0f} s"
        + (f", last error {d.last_error[:80]}" if d.last_error else "")
        for d in deliveries
        if d.status == "pending"
    ]
    lost = sum(
        1
        for d in deliveries
        if d.status == "delivered" and platform.keys[idempotency_key(d.order_id, d.global_seq)] == 0
    )
    redelivered = sum(1 for n in platform.keys.values() if n > 1)

    # The sweeper is down from a kill of the worker (or the first start) to the next sweep.
    down_from = sorted([worker_starts[0], *(k.at for k in kills if k.target == "worker")])
    outages: list[tuple[dt.datetime, dt.datetime]] = []
    for moment in down_from:
        back = monitor.first_start_after(moment)
        if back is not None:
            outages.append((moment, back))
    # The sweeper's own cadence, measured: the longest time between two sweep starts with no
    # outage in between (interval + run + however late the machine woke the thread). A deadline
    # missed by more than the downtime plus that was skipped by a sweep that ran after it.
    starts = sorted(monitor.starts)
    cadence = max(
        (
            (b - a).total_seconds()
            for a, b in itertools.pairwise(starts)
            if not any(_overlap(o, p, a, b) > 0 for o, p in outages)
        ),
        default=cfg.sweep_s,
    )
    allowed = cadence + SCHEDULING_SLACK_S
    missed = early = doubled = late = 0
    max_late = max_excess = 0.0
    for case_id, d in due.items():
        case = replayed[case_id]
        overdue = [e for e in case.escalations if e.grounds is EscalationReason.OVERDUE]
        if not overdue:
            missed += 1
            continue
        doubled += len(overdue) > 1
        at = overdue[0].at
        early += at <= d
        lateness = (at - d).total_seconds()
        down = sum(_overlap(a, b, d, at) for a, b in outages)
        max_late = max(max_late, lateness)
        max_excess = max(max_excess, lateness - down)
        late += lateness - down > allowed

    return CrashReport(
        config=cfg,
        seconds=seconds,
        kills=kills,
        pushes=len(ledger.sent),
        acked=len(ledger.acked),
        created=ledger.created[True],
        answered_from_store=ledger.created[False],
        retried=ledger.retried,
        refused=ledger.refused,
        client_failures=dict(ledger.failures),
        unacked=sum(1 for k in ledger.sent if k not in ledger.acked),
        missing=missing,
        duplicates=duplicates,
        wrong_id=wrong_id,
        report_events_not_one=not_one,
        stored_unacked=stored_unacked,
        half_open=half_open,
        projection_mismatch=mismatch,
        orphan_reports=orphans,
        sweep_behind=behind,
        hotline_lost=lost,
        hotline_redelivered=redelivered,
        hotline_pending_detail=pending_detail,
        deadlines=len(due),
        deadlines_missed=missed,
        deadlines_early=early,
        deadlines_doubled=doubled,
        deadlines_late=late,
        max_lateness_s=max_late,
        max_excess_s=max_excess,
        allowed_excess_s=allowed,
        audit_ok=audit.returncode == 0,
        audit_text=(audit.stdout or audit.stderr).strip().splitlines()[-1]
        if (audit.stdout or audit.stderr)
        else "",
        worker_exit=worker_exit,
        server_exit=server_exit,
        server_ready_s=[k.ready_after_start_s for k in kills if k.ready_after_start_s is not None],
        worker_down_s=[(b - a).total_seconds() for a, b in outages[1:]],
        cases=len(case_rows),
        events=event_count,
    )


def _overlap(a: dt.datetime, b: dt.datetime, c: dt.datetime, d: dt.datetime) -> float:
    return max(0.0, (min(b, d) - max(a, c)).total_seconds())
