"""Case status back to the 12345 platform, read from the event log (the log is the outbox).

Two steps, each safe to run in several processes at once:

- `plan` turns the events past the checkpoint into pending deliveries, one per (event, order),
  for the cases that hold a 12345 report (their own, or one merged into them);
- `deliver` sends them in log order per order. A platform that is down (`HotlineCallbackUnavailable`)
  postpones the delivery with a growing backoff and holds back only the later statuses of the same
  order; a refusal (`HotlineCallbackRejected`) marks it failed for an operator to look at
  (`failures`), and is not tried again.

A delivery is marked delivered only after the callback returned, so a crash in between sends it
again: at least once, under an Idempotency-Key derived from (order, global_seq) that the platform
recognises as the same update.

Which case events the platform hears, and as what, is `notices` (docs/intake.md, "Status back to
12345"). Internal steps — a department returning a case to the dispatcher, re-dispatch, handling
before verification — are not 12345 statuses: telling the platform 退单 for an internal return
would make it re-dispatch an order we are still handling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.intake.hotline_callback import (
    HotlineCallback,
    HotlineCallbackRejected,
    HotlineCallbackUnavailable,
    HotlineStatus,
)
from gridgov.store.cases import CaseRepository
from gridgov.store.hotline_notify import Delivery, HotlineDeliveryRepository, PlannedDelivery
from gridgov.workflow.events import CaseEvent
from gridgov.workflow.model import Action, Case, Satisfaction
from gridgov.workflow.replay import apply

HOTLINE_CHANNEL = "hotline_12345"

__all__ = [
    "HOTLINE_CHANNEL",
    "Delivery",
    "DeliveryResult",
    "HotlineNotifier",
    "Notice",
    "PlanResult",
    "notices",
]


@dataclass(frozen=True, slots=True)
class Notice:
    """One status the orders of some reports must hear because of one event."""

    status: HotlineStatus
    note: str
    report_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PlanResult:
    events: int
    planned: int
    checkpoint: int


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    delivered: int = 0
    postponed: int = 0
    failed: int = 0


def notices(
    before: Case | None, event: CaseEvent, after: Case, history: Sequence[CaseEvent], tz: ZoneInfo
) -> list[Notice]:
    """What the 12345 orders of `after` hear about `event`; `history` is the case's earlier events.

    A case's orders are those of its reports when the event happened, so an order merged in later
    does not hear the statuses from before it joined.
    """
    reports = after.report_ids
    p = event.payload
    match event.action:
        case Action.REPORT:
            note = f"已接收，立为工单 {after.id} / received as case {after.id}"
            return [Notice(HotlineStatus.RECEIVED, note, reports)]
        case Action.REJECT:
            # 不予立案 is our refusal to take the order on: for the platform, a 退单 with reason.
            note = f"退单：{event.reason} / returned: {event.reason}"
            return [Notice(HotlineStatus.RETURNED, note, reports)]
        case Action.DISPATCH if not any(e.action is Action.DISPATCH for e in history):
            # The first dispatch is when the centre takes the order on (签收); a re-dispatch after
            # an internal return is our own business.
            due = _local(p.get("handle_due"), tz)
            note = f"已签收，派遣至 {p.get('department')}，处置时限 {due} / accepted, dispatched"
            return [Notice(HotlineStatus.ACCEPTED, note, reports)]
        case Action.ABSORB:
            assert before is not None
            joined = tuple(r for r in after.report_ids if r not in before.report_ids)
            if not any(e.action is Action.DISPATCH for e in history):
                return []  # they hear 签收 with the case's own first dispatch
            note = f"已并入工单 {after.id} 一并办理 / merged into case {after.id}, handled together"
            return [Notice(HotlineStatus.ACCEPTED, note, joined)] if joined else []
        case Action.APPROVE_EXTENSION:
            assert before is not None
            asked = before.pending_extension.reason if before.pending_extension else event.reason
            until = _local(p.get("handle_due"), tz)
            note = f"申请延期至 {until}：{asked} / extension to {until}"
            return [Notice(HotlineStatus.EXTENSION_REQUESTED, note, reports)]
        case Action.CLOSE:
            handled = next((e for e in reversed(history) if e.action is Action.HANDLE), None)
            words = [w for w in (handled.reason if handled else "", event.reason) if w]
            note = "办结：" + ("；".join(words) or "已处置完毕") + " / closed"
            return [Notice(HotlineStatus.HANDLED, note, reports)]
        case Action.EVALUATE:
            satisfaction = Satisfaction(str(p.get("satisfaction")))
            note = f"回访：{satisfaction.label_zh} / {satisfaction.value}"
            if event.reason:
                note += f"；{event.reason}"
            return [Notice(HotlineStatus.EVALUATED, note, reports)]
        case Action.REOPEN:
            note = f"重办：{event.reason} / reopened"
            return [Notice(HotlineStatus.REOPENED, note, reports)]
    return []


def idempotency_key(order_id: str, global_seq: int) -> str:
    """The same for every send of one event's status to one order, different for any other."""
    return hashlib.sha256(f"gridgov-12345\n{order_id}\n{global_seq}".encode()).hexdigest()


def _local(iso: object, tz: ZoneInfo) -> str:
    if not isinstance(iso, str):
        return "-"
    return datetime.fromisoformat(iso).astimezone(tz).strftime("%Y-%m-%d %H:%M")


# How long a claimed delivery is the claimer's; a notifier that died holding one delays it so long.
DELIVERY_LEASE = timedelta(minutes=2)


class HotlineNotifier:
    """Sends case status to the 12345 platform; `run_once` plans then delivers.

    `lease` must outlast one callback (all its own retries and timeouts): another notifier takes
    a delivery over when the lease runs out, and would send it a second time if the first is
    still waiting for the platform.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        callback: HotlineCallback | None,
        clock: Clock,
        *,
        channel: str = HOTLINE_CHANNEL,
        batch: int = 500,
        lease: timedelta = DELIVERY_LEASE,
        backoff: timedelta = timedelta(seconds=30),
        max_backoff: timedelta = timedelta(hours=1),
        timezone: str = "Asia/Shanghai",
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self._sessions = sessions
        self._callback = callback
        self._clock = clock
        self._channel = channel
        self._batch = batch
        self._lease = lease
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._tz = ZoneInfo(timezone)

    def run_once(self) -> tuple[PlanResult, DeliveryResult]:
        """Plan every event recorded so far, then send what is due."""
        return self.plan(), self.deliver()

    # Planning

    def plan(self) -> PlanResult:
        """Turn the events past the checkpoint into pending deliveries, batch by batch."""
        events = planned = 0
        while True:
            with self._sessions.begin() as session:
                repo = HotlineDeliveryRepository(session)
                checkpoint = repo.lock_checkpoint()
                seen, deliveries, moved_to = self._plan_batch(session, checkpoint)
                repo.add_deliveries(deliveries, self._clock.now())
                repo.move_checkpoint(moved_to)
            events += seen
            planned += len(deliveries)
            if seen < self._batch:
                return PlanResult(events=events, planned=planned, checkpoint=moved_to)

    def preview(self, limit: int = 1000) -> list[PlannedDelivery | Delivery]:
        """What a run now would send, without writing: due pending deliveries, then new ones."""
        with self._sessions() as session:
            repo = HotlineDeliveryRepository(session)
            now = self._clock.now()
            due = [d for d in repo.deliveries(statuses=["pending"]) if d.next_attempt_at <= now]
            _, fresh, _ = self._plan_batch(session, repo.checkpoint(), limit=limit)
            session.rollback()
        shown: list[PlannedDelivery | Delivery] = [*due, *fresh]
        return shown[:limit]

    def _plan_batch(
        self, session: Session, checkpoint: int, *, limit: int | None = None
    ) -> tuple[int, list[PlannedDelivery], int]:
        """(events read, deliveries they give, the new checkpoint) for the next batch."""
        repo = HotlineDeliveryRepository(session)
        batch = repo.events_after(checkpoint, limit or self._batch)
        if not batch:
            return 0, [], checkpoint
        last = batch[-1][0]
        hotline_cases = sorted(repo.cases_with_channel({c for _, c in batch}, self._channel))
        histories = CaseRepository(session).events_of(hotline_cases)
        found: list[tuple[CaseEvent, Notice]] = []
        for case_id in hotline_cases:
            found.extend(self._notices_of(histories[case_id], checkpoint, last))
        wanted = {int(r) for _, n in found for r in n.report_ids}
        orders = repo.orders(wanted, self._channel)
        planned = {
            (event.global_seq, orders[int(r)]): PlannedDelivery(
                global_seq=event.global_seq,
                order_id=orders[int(r)],
                case_id=int(event.case_id),
                hotline_status=notice.status.value,
                note=notice.note,
                at=event.at,
            )
            for event, notice in found
            for r in notice.report_ids
            if int(r) in orders
        }
        ordered = sorted(planned.values(), key=lambda d: (d.global_seq, d.order_id))
        return len(batch), ordered, last

    def _notices_of(
        self, history: list[CaseEvent], after_seq: int, up_to: int
    ) -> list[tuple[CaseEvent, Notice]]:
        found = []
        case: Case | None = None
        for i, event in enumerate(history):
            if event.global_seq > up_to:
                break
            before, case = case, apply(case, event)
            if event.global_seq > after_seq:
                for notice in notices(before, event, case, history[:i], self._tz):
                    found.append((event, notice))
        return found

    # Sending

    def deliver(self) -> DeliveryResult:
        """Send every due delivery, each order's in log order, until none is due."""
        if self._callback is None:
            raise ValueError("no 12345 callback is configured")
        delivered = postponed = failed = 0
        while True:
            now = self._clock.now()
            with self._sessions.begin() as session:
                claimed = HotlineDeliveryRepository(session).claim_next(now, now + self._lease)
            if claimed is None:
                return DeliveryResult(delivered=delivered, postponed=postponed, failed=failed)
            outcome = self._send(claimed)
            if outcome == "delivered":
                delivered += 1
            elif outcome == "failed":
                failed += 1
            else:
                postponed += 1

    def _send(self, delivery: Delivery) -> str:
        assert self._callback is not None
        try:
            self._callback.send_status(
                delivery.order_id,
                HotlineStatus(delivery.hotline_status),
                delivery.note,
                delivery.at,
                idempotency_key=idempotency_key(delivery.order_id, delivery.global_seq),
            )
        except HotlineCallbackRejected as exc:
            with self._sessions.begin() as session:
                HotlineDeliveryRepository(session).mark_failed(delivery.id, str(exc))
            return "failed"
        except HotlineCallbackUnavailable as exc:
            wait = min(self._backoff * 2 ** (delivery.attempts - 1), self._max_backoff)
            with self._sessions.begin() as session:
                HotlineDeliveryRepository(session).postpone(
                    delivery.id, self._clock.now() + wait, str(exc)
                )
            return "postponed"
        with self._sessions.begin() as session:
            HotlineDeliveryRepository(session).mark_delivered(delivery.id, self._clock.now())
        return "delivered"

    # Reading

    def failures(self, limit: int = 100) -> list[Delivery]:
        """Deliveries the platform refused, oldest first, for an operator to follow up."""
        with self._sessions() as session:
            return HotlineDeliveryRepository(session).deliveries(statuses=["failed"], limit=limit)

    def deliveries(self, *, order_id: str | None = None, limit: int = 1000) -> list[Delivery]:
        """Every delivery (or one order's), in log order."""
        with self._sessions() as session:
            return HotlineDeliveryRepository(session).deliveries(order_id=order_id, limit=limit)

    def counts(self) -> dict[str, int]:
        """Deliveries per status (pending, delivered, failed)."""
        with self._sessions() as session:
            return HotlineDeliveryRepository(session).counts()
