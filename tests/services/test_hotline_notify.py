"""Case status reaches the 12345 platform from the event log: in order, once, through outages."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from sqlalchemy.orm import Session, sessionmaker

from gridgov.intake.hotline_callback import HttpHotlineCallback
from gridgov.services.hotline_notify import HotlineNotifier, idempotency_key
from gridgov.store.db import make_engine, session_factory
from gridgov.store.migrate import upgrade
from gridgov.workflow.model import (
    AcceptCase,
    ApproveExtension,
    CloseCase,
    EvaluateCase,
    HandleCase,
    MergeCase,
    PassVerification,
    RejectCase,
    ReopenCase,
    RequestExtension,
    ReturnCase,
)
from tests.case_world import (
    CITIZEN,
    DISPATCHER,
    HANDLER,
    INTAKE,
    LEADER,
    SHANGHAI,
    SHIFT,
    WORKER,
    CaseWorld,
    build_world,
)

TOKEN = "test-token-0001"
BASE_URL = "https://12345.zhengzhou.example/api"

Answer = int | type[httpx2.RequestError] | type[BaseException]


class Killed(BaseException):
    """The notifier's process dies here (not an error anything should catch)."""


@dataclass
class Fake12345:
    """A hand-written stand-in for the 12345 platform's status interface.

    `answers[order]` scripts the next answers for one order (an HTTP status, or an exception the
    transport raises); afterwards it answers 200. Like the real platform, it applies an update
    once per Idempotency-Key, however often it is sent.
    """

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    received: list[httpx2.Request] = field(default_factory=list)
    applied: dict[str, dict[str, object]] = field(default_factory=dict)
    delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        if self.delay:
            time.sleep(self.delay)
        body = json.loads(request.content)
        with self._lock:
            self.received.append(request)
            script = self.answers.get(body["order_no"], [])
            answer = script.pop(0) if script else 200
        if isinstance(answer, type) and issubclass(answer, httpx2.RequestError):
            raise answer("the platform did not answer in time", request=request)
        if isinstance(answer, type):
            with self._lock:
                self.applied.setdefault(request.headers["Idempotency-Key"], body)
            raise answer()
        if answer != 200:
            return httpx2.Response(answer, json={"code": answer, "msg": "工单状态不允许"})
        with self._lock:
            self.applied.setdefault(request.headers["Idempotency-Key"], body)
        return httpx2.Response(200, json={"code": 0, "msg": "成功"})

    def sent(self, order: str | None = None) -> list[str]:
        """The statuses sent, in order, optionally to one order."""
        bodies = [json.loads(r.content) for r in self.received]
        return [b["status"] for b in bodies if order is None or b["order_no"] == order]

    def notes(self, order: str) -> list[str]:
        bodies = [json.loads(r.content) for r in self.received]
        return [b["note"] for b in bodies if b["order_no"] == order]


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    return build_world(sessions, tmp_path)


@pytest.fixture
def platform() -> Fake12345:
    return Fake12345()


@pytest.fixture
def callback(platform: Fake12345) -> Iterator[HttpHotlineCallback]:
    # One attempt per call: the notifier's own backoff is what these tests look at.
    with HttpHotlineCallback(
        BASE_URL, TOKEN, transport=httpx2.MockTransport(platform), attempts=1
    ) as client:
        yield client


@pytest.fixture
def notifier(world: CaseWorld, callback: HttpHotlineCallback) -> HotlineNotifier:
    return HotlineNotifier(world.sessions, callback, world.clock, batch=7)


def hotline_case(world: CaseWorld, order: str, *, channel: str = "hotline_12345") -> int:
    _, case = world.service.submit_report(world.report(external_id=order, channel=channel), INTAKE)
    return int(case.id)


def to_dispatch(world: CaseWorld, case_id: int) -> None:
    world.service.file(case_id, SHIFT)
    world.service.dispatch(case_id, DISPATCHER)


def to_close(world: CaseWorld, case_id: int) -> None:
    world.service.perform(case_id, AcceptCase(), HANDLER)
    world.service.perform(
        case_id, HandleCase(evidence=("photo-1.jpg",), reason="垃圾已清运"), HANDLER
    )
    world.service.perform(case_id, PassVerification(), WORKER)
    world.service.perform(case_id, CloseCase(), SHIFT)


def test_an_order_hears_received_accepted_handled_and_evaluated_once_each(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-001")
    to_dispatch(world, case_id)
    to_close(world, case_id)
    world.service.perform(case_id, EvaluateCase(satisfaction="satisfied"), CITIZEN)

    plan, sent = notifier.run_once()
    assert plan.events == 8 and plan.planned == 4
    assert sent.delivered == 4
    assert platform.sent() == ["received", "accepted", "handled", "evaluated"]
    notes = platform.notes("ZZ-001")
    assert "urban_management" in notes[1] and "处置时限" in notes[1]
    assert "垃圾已清运" in notes[2]
    assert notes[3].startswith("回访：满意")
    assert notifier.run_once()[1].delivered == 0
    assert len(platform.received) == 4
    assert notifier.counts() == {"pending": 0, "delivered": 4, "failed": 0}


def test_cases_from_other_channels_send_nothing(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "APP-1", channel="citizen_app")
    to_dispatch(world, case_id)
    plan, _ = notifier.run_once()
    assert plan.events == 3 and plan.planned == 0
    assert platform.received == []


def test_a_report_we_do_not_take_on_is_returned_to_the_platform_with_the_reason(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-002")
    world.service.perform(case_id, RejectCase(reason="属地不符，不在本市辖区"), SHIFT)
    notifier.run_once()
    assert platform.sent() == ["received", "returned"]
    assert "属地不符" in platform.notes("ZZ-002")[1]


def test_an_internal_return_and_redispatch_is_not_told_to_the_platform(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-003")
    to_dispatch(world, case_id)
    world.service.perform(case_id, ReturnCase(reason="不属本部门"), HANDLER)
    world.service.dispatch(case_id, DISPATCHER)
    notifier.run_once()
    # A 退单 would make the platform re-dispatch an order we are still handling.
    assert platform.sent() == ["received", "accepted"]


def test_an_extension_is_asked_of_the_platform_only_once_the_centre_approved_it(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-004")
    to_dispatch(world, case_id)
    world.service.perform(case_id, AcceptCase(), HANDLER)
    until = datetime(2026, 12, 3, 17, 0, tzinfo=SHANGHAI)
    world.service.perform(case_id, RequestExtension(until=until, reason="需协调物业"), HANDLER)
    notifier.run_once()
    assert platform.sent() == ["received", "accepted"]
    granted = datetime(2026, 12, 2, 17, 0, tzinfo=SHANGHAI)
    world.service.perform(case_id, ApproveExtension(handle_due=granted), SHIFT)
    notifier.run_once()
    assert platform.sent()[-1] == "extension_requested"
    assert platform.notes("ZZ-004")[-1].startswith("申请延期至 2026-12-02 17:00：需协调物业")


def test_a_dissatisfied_evaluation_reopens_and_the_second_close_is_sent_again(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-005")
    to_dispatch(world, case_id)
    to_close(world, case_id)
    world.service.perform(case_id, EvaluateCase(satisfaction="dissatisfied"), CITIZEN)
    world.service.perform(case_id, ReopenCase(reason="群众反映仍有垃圾"), LEADER)
    world.service.dispatch(case_id, DISPATCHER)
    to_close(world, case_id)
    notifier.run_once()
    assert platform.sent() == [
        "received", "accepted", "handled", "evaluated", "reopened", "handled",
    ]  # fmt: skip
    keys = [r.headers["Idempotency-Key"] for r in platform.received]
    assert len(set(keys)) == 6


def test_a_merged_case_tells_every_order_it_holds(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    target = hotline_case(world, "ZZ-010")
    to_dispatch(world, target)
    duplicate = hotline_case(world, "ZZ-011")
    into = world.service.case(target, LEADER)
    world.service.perform(duplicate, MergeCase(into=into), INTAKE)
    other = hotline_case(world, "ZZ-012")
    notifier.run_once()
    assert platform.sent("ZZ-010") == ["received", "accepted"]
    assert platform.sent("ZZ-011") == ["received", "accepted"]
    assert "并入工单" in platform.notes("ZZ-011")[1]
    to_close(world, target)
    world.service.perform(other, RejectCase(reason="重复诉求"), SHIFT)
    notifier.run_once()
    assert platform.sent("ZZ-010")[-1] == platform.sent("ZZ-011")[-1] == "handled"
    assert platform.sent("ZZ-012") == ["received", "returned"]


def test_orders_merged_before_the_first_dispatch_hear_it_with_the_case(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    target = hotline_case(world, "ZZ-020")
    duplicate = hotline_case(world, "ZZ-021")
    world.service.perform(duplicate, MergeCase(into=world.service.case(target, LEADER)), INTAKE)
    to_dispatch(world, target)
    notifier.run_once()
    assert platform.sent("ZZ-020") == platform.sent("ZZ-021") == ["received", "accepted"]
    assert "派遣至" in platform.notes("ZZ-021")[1]


def test_a_platform_outage_holds_back_only_the_later_statuses_of_that_order(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    down, fine = hotline_case(world, "ZZ-030"), hotline_case(world, "ZZ-031")
    to_dispatch(world, down)
    to_dispatch(world, fine)
    platform.answers["ZZ-030"] = [503]
    _, sent = notifier.run_once()
    assert sent.postponed == 1 and sent.delivered == 2
    assert platform.sent("ZZ-030") == ["received"]  # its 签收 waits behind it
    assert platform.sent("ZZ-031") == ["received", "accepted"]
    (waiting, _) = notifier.deliveries(order_id="ZZ-030")
    assert waiting.status == "pending" and "HTTP 503" in (waiting.last_error or "")

    assert notifier.deliver().delivered == 0  # still backing off
    world.clock.advance(timedelta(seconds=31))
    assert notifier.deliver().delivered == 2
    assert platform.sent("ZZ-030") == ["received", "received", "accepted"]


def test_backoff_grows_with_each_failure_up_to_a_limit(
    world: CaseWorld, callback: HttpHotlineCallback, platform: Fake12345
) -> None:
    notifier = HotlineNotifier(
        world.sessions,
        callback,
        world.clock,
        backoff=timedelta(seconds=10),
        max_backoff=timedelta(seconds=40),
    )
    hotline_case(world, "ZZ-040")
    platform.answers["ZZ-040"] = [502] * 5
    waits = []
    notifier.plan()
    for _ in range(5):
        start = world.clock.now()
        notifier.deliver()
        (delivery,) = notifier.deliveries(order_id="ZZ-040")
        waits.append((delivery.next_attempt_at - start).total_seconds())
        world.clock.advance(delivery.next_attempt_at - start)
    assert waits == [10, 20, 40, 40, 40]
    assert notifier.deliver().delivered == 1


def test_a_refusal_is_recorded_as_failed_listed_and_not_sent_again(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-050")
    platform.answers["ZZ-050"] = [409]
    _, sent = notifier.run_once()
    assert sent.failed == 1
    (failure,) = notifier.failures()
    assert failure.order_id == "ZZ-050" and failure.hotline_status == "received"
    assert "HTTP 409" in (failure.last_error or "") and "工单状态不允许" in (
        failure.last_error or ""
    )
    world.clock.advance(timedelta(days=1))
    to_dispatch(world, case_id)
    notifier.run_once()
    # Not retried, and it holds nothing back: the order's next status still goes.
    assert platform.sent("ZZ-050") == ["received", "accepted"]


def test_a_timeout_is_retried_later_under_the_same_key_derived_from_order_and_log_position(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    hotline_case(world, "ZZ-060")
    platform.answers["ZZ-060"] = [httpx2.ReadTimeout]
    notifier.run_once()
    world.clock.advance(timedelta(minutes=1))
    notifier.run_once()
    first, again = platform.received
    (delivery,) = notifier.deliveries(order_id="ZZ-060")
    assert delivery.status == "delivered" and delivery.attempts == 2
    expected = idempotency_key("ZZ-060", delivery.global_seq)
    assert first.headers["Idempotency-Key"] == again.headers["Idempotency-Key"] == expected


def test_a_notifier_killed_mid_send_sends_again_after_the_lease_and_the_platform_applies_once(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    hotline_case(world, "ZZ-070")
    platform.answers["ZZ-070"] = [Killed]
    with pytest.raises(Killed):
        notifier.run_once()
    (delivery,) = notifier.deliveries(order_id="ZZ-070")
    assert delivery.status == "pending"  # never marked before the callback returned
    assert notifier.deliver().delivered == 0  # another notifier waits out the lease
    world.clock.advance(timedelta(minutes=2))
    assert notifier.deliver().delivered == 1
    assert platform.sent() == ["received", "received"]
    assert len(platform.applied) == 1


def test_preview_lists_what_would_be_sent_and_writes_nothing(
    world: CaseWorld, notifier: HotlineNotifier, platform: Fake12345
) -> None:
    case_id = hotline_case(world, "ZZ-080")
    to_dispatch(world, case_id)
    preview = notifier.preview()
    assert [(p.order_id, p.hotline_status) for p in preview] == [
        ("ZZ-080", "received"),
        ("ZZ-080", "accepted"),
    ]
    assert notifier.counts() == {"pending": 0, "delivered": 0, "failed": 0}
    assert platform.received == []
    assert notifier.run_once()[1].delivered == 2


def test_two_notifiers_at_once_send_each_status_exactly_once_in_order_per_order(
    world: CaseWorld, platform: Fake12345, db_url: str
) -> None:
    orders = [f"ZZ-1{n:02}" for n in range(8)]
    for order in orders:
        case_id = hotline_case(world, order)
        to_dispatch(world, case_id)
        to_close(world, case_id)
    platform.delay = 0.002
    errors: list[BaseException] = []
    delivered: list[int] = []
    barrier = threading.Barrier(2)

    def notify() -> None:
        engine = make_engine(db_url)
        try:
            with HttpHotlineCallback(
                BASE_URL, TOKEN, transport=httpx2.MockTransport(platform), attempts=1
            ) as client:
                notifier = HotlineNotifier(session_factory(engine), client, world.clock, batch=5)
                barrier.wait()
                delivered.append(notifier.run_once()[1].delivered)
        except BaseException as exc:  # reported to the test thread below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=notify) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(delivered) == 3 * len(orders)
    keys = [r.headers["Idempotency-Key"] for r in platform.received]
    assert len(keys) == len(set(keys)) == 3 * len(orders)
    for order in orders:
        assert platform.sent(order) == ["received", "accepted", "handled"]


def test_a_database_with_history_starts_notifying_from_the_current_head(
    db_url: str, tmp_path: Path, platform: Fake12345, callback: HttpHotlineCallback
) -> None:
    upgrade(db_url, "0004")
    engine = make_engine(db_url)
    try:
        sessions = session_factory(engine)
        world = build_world(sessions, tmp_path)
        old = hotline_case(world, "ZZ-OLD")
        upgrade(db_url)
        notifier = HotlineNotifier(sessions, callback, world.clock)
        to_dispatch(world, old)
        notifier.run_once()
    finally:
        engine.dispose()
    # The report from before the upgrade is not replayed to the platform; what follows is sent.
    assert platform.sent("ZZ-OLD") == ["accepted"]
