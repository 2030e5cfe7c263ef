"""Intake batches on both stores: many reports per transaction, the per-process duplicate index
rebuilt from the store and following other processes, merges refused by a case that closed
meanwhile, two processes racing."""

from __future__ import annotations

import copy
import gc
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import KeywordClassifier
from gridgov.ai.duplicates import DuplicateFinder
from gridgov.bootstrap import build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.core.errors import InvalidInput, NotFound
from gridgov.grids.model import Grid
from gridgov.intake.channels import adapter
from gridgov.services.intake import IntakeReceipt, IntakeService
from gridgov.services.intake_locate import Placer
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.sim.city import generate_city
from gridgov.store.files import FileStore
from gridgov.store.migrate import upgrade
from gridgov.workflow.model import CaseState, RejectCase
from tests.case_world import FRIDAY_AFTERNOON, SHIFT, case_service
from tests.intake.channel_samples import sample
from tests.intake_world import IntakeWorld, build_intake_world

TEXT = "金水路与文化路交叉口东北角人行道上井盖破损塌陷，行人容易绊倒"
WHERE = {"lon": 113.6621, "lat": 34.7842, "crs": "wgs84"}


@pytest.fixture(scope="module")
def grids() -> list[Grid]:
    return generate_city(scale=0.02)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("intake-batch-index")


@pytest.fixture
def world(
    sessions: sessionmaker[Session], tmp_path: Path, index_dir: Path, grids: list[Grid]
) -> IntakeWorld:
    return build_intake_world(sessions, tmp_path, index_dir, grids)


def intake_over(
    sessions: sessionmaker[Session], clock: FixedClock, index_dir: Path, files: Path
) -> IntakeService:
    """An intake over a store as another process would build it: its own locate index,
    duplicate index and case service."""
    locating = GridLocating(sessions, parameters=IndexParameters(), cache_dir=index_dir)
    cases = case_service(sessions, locating, clock)
    return IntakeService(
        sessions,
        cases,
        Placer(locating, threshold=0.6, places=None),
        clock,
        classifier=KeywordClassifier.from_file(taxonomy=cases.taxonomy),
        finder=DuplicateFinder(taxonomy=cases.taxonomy),
        files=FileStore(files),
    )


def another_process(world: IntakeWorld, index_dir: Path, tmp_path: Path) -> IntakeService:
    return intake_over(world.sessions, world.clock, index_dir, tmp_path / "other-files")


def app_report(n: int, **changes: Any) -> dict[str, Any]:
    payload = copy.deepcopy(sample("citizen_app"))
    payload.update({"submission_id": f"APP-{n}", "text": TEXT, "gps": WHERE, "photos": []})
    payload.update(changes)
    return payload


def police_report(n: int) -> dict[str, Any]:
    payload = copy.deepcopy(sample("police_110"))
    payload.update(incident_no=f"P-{n}", summary=TEXT, location={**WHERE, "lon": 113.66215})
    return payload


def test_parsed_reports_are_stored_many_at_a_time_each_answered_in_its_slot(
    world: IntakeWorld,
) -> None:
    parser = adapter("grid_patrol")
    now = world.clock.now()
    reports = []
    for n in range(4):
        payload = copy.deepcopy(sample("grid_patrol"))
        payload.update(report_id=f"G-{n}", gps={**WHERE, "lon": 113.60 + n * 0.01}, photos=[])
        reports.append(parser.parse(payload, received_at=now))
    photo = copy.deepcopy(sample("grid_patrol"))
    photo.update(report_id="G-bad", photos=[{"base64": "bm90IGFuIGltYWdl"}])
    reports.insert(2, parser.parse(photo, received_at=now))
    reports.append(reports[0])  # a repeat inside the batch

    answers = world.service.submit_many(reports)

    assert isinstance(answers[2], InvalidInput) and answers[2].field.startswith("[2].payload")
    stored = [a for a in answers if isinstance(a, IntakeReceipt)]
    assert [a.created for a in stored] == [True, True, True, True, False]
    assert stored[-1].report_id == stored[0].report_id
    assert len({a.case_id for a in stored}) == 4
    assert world.counts()[0] == 4
    again = world.service.submit_many([r for r in reports if r.external_id != "G-bad"])
    assert all(isinstance(a, IntakeReceipt) and not a.created for a in again)
    assert world.counts()[0] == 4
    assert world.cases.verify_audit().intact


def test_a_restarted_intake_rebuilds_its_duplicate_index_from_the_store(
    world: IntakeWorld, index_dir: Path, tmp_path: Path
) -> None:
    first = world.service.receive("citizen_app", app_report(1))
    restarted = another_process(world, index_dir, tmp_path)
    second = restarted.receive("police_110", police_report(1))
    assert first.case_id is not None
    assert second.duplicate_of == first.case_id


def test_a_duplicate_of_a_case_rejected_meanwhile_keeps_its_own_case_and_says_why(
    world: IntakeWorld,
) -> None:
    first = world.service.receive("citizen_app", app_report(1))
    assert first.case_id is not None
    world.cases.perform(first.case_id, RejectCase(reason="职能不符 / not ours"), SHIFT)

    second = world.service.receive("police_110", police_report(1))

    assert second.duplicate_of is None
    assert second.case_id not in (None, first.case_id)
    assert any(w.startswith("merge_refused") for w in second.warnings)
    assert world.service.receipt(second.report_id).warnings == second.warnings
    assert world.cases.case(second.case_id, SHIFT).state is CaseState.REPORTED
    assert world.cases.verify_audit().intact


def test_a_case_that_many_reports_merge_into_is_read_again_whenever_it_moved_on(
    world: IntakeWorld, index_dir: Path, tmp_path: Path
) -> None:
    """The merge targets' states kept between batches must never stand in for a newer one: a
    merge decided on a stale state would be refused by the store, or merge into a closed case."""
    first = world.service.receive("citizen_app", app_report(1))
    assert first.case_id is not None
    kept = world.service.receive("police_110", police_report(1))  # this process keeps its state
    other = another_process(world, index_dir, tmp_path)
    elsewhere = other.receive("police_110", police_report(2))  # moved on in another process
    again = world.service.receive("citizen_app", app_report(2))
    assert [r.duplicate_of for r in (kept, elsewhere, again)] == [first.case_id] * 3
    world.cases.perform(first.case_id, RejectCase(reason="职能不符 / not ours"), SHIFT)

    late = world.service.receive("police_110", police_report(3))

    assert late.duplicate_of is None and late.case_id != first.case_id
    assert any(w.startswith("merge_refused") for w in late.warnings)
    assert world.cases.case(first.case_id, SHIFT).state is CaseState.REJECTED
    assert world.cases.verify_audit().intact


def test_two_processes_racing_on_one_report_store_it_once(
    world: IntakeWorld, index_dir: Path, tmp_path: Path
) -> None:
    other = warm_other_process(world, index_dir, tmp_path)
    deliveries = [(s, "citizen_app", app_report(7)) for s in [world.service, other] * 2]

    receipts = deliver_at_once(deliveries)

    assert len(receipts) == 4
    assert len({r.report_id for r in receipts}) == 1
    assert len({r.case_id for r in receipts}) == 1
    assert sum(r.created for r in receipts) == 1
    assert world.counts() == (1, 1, 1)
    assert world.cases.verify_audit().intact


def test_a_duplicate_stored_by_another_running_process_is_merged_here(
    world: IntakeWorld, index_dir: Path, tmp_path: Path
) -> None:
    other = warm_other_process(world, index_dir, tmp_path)

    first = other.receive("citizen_app", app_report(1))
    second = world.service.receive("police_110", police_report(1))

    assert first.case_id is not None
    # Decided before the turn without the other's report, then again in it, with it.
    assert second.duplicate_of == first.case_id
    assert world.service.batches_decided_again == 1
    # And back: the other process sees this one's report too (no second case for a third).
    third = other.receive("citizen_app", app_report(2, text=TEXT + "，已经好几天了"))
    assert third.duplicate_of == first.case_id
    assert other.batches_decided_again == 1
    assert world.cases.verify_audit().intact


def test_a_report_stored_meanwhile_far_away_leaves_the_decisions_taken_before_the_turn(
    world: IntakeWorld, index_dir: Path, tmp_path: Path
) -> None:
    other = warm_other_process(world, index_dir, tmp_path)
    here = world.service.receive("citizen_app", app_report(1))

    far = other.receive("citizen_app", app_report(2, gps={**WHERE, "lon": 113.70}))
    again = world.service.receive("police_110", police_report(1))
    far_again = world.service.receive(
        "citizen_app", app_report(3, gps={**WHERE, "lon": 113.70}, text=TEXT + "，已经好几天了")
    )

    assert far.duplicate_of is None and again.duplicate_of == here.case_id
    assert far_again.duplicate_of == far.case_id  # caught up, though not decided again
    assert world.service.batches_decided_again == 0
    assert world.cases.verify_audit().intact


def test_the_same_problem_delivered_to_two_processes_at_once_opens_one_case(
    world: IntakeWorld, index_dir: Path, tmp_path: Path
) -> None:
    other = warm_other_process(world, index_dir, tmp_path)
    deliveries = [
        (world.service, "citizen_app", app_report(3)),
        (other, "police_110", police_report(3)),
    ]

    receipts = deliver_at_once(deliveries)

    assert len(receipts) == 2
    first, second = sorted(receipts, key=lambda r: r.report_id)
    assert first.duplicate_of is None
    assert second.duplicate_of == first.case_id
    assert world.cases.verify_audit().intact


def warm_other_process(world: IntakeWorld, index_dir: Path, tmp_path: Path) -> IntakeService:
    """Another process's intake, both it and this world's built before any report arrives."""
    other = another_process(world, index_dir, tmp_path)
    other.warm_up()
    world.service.warm_up()
    return other


def deliver_at_once(
    deliveries: list[tuple[IntakeService, str, dict[str, Any]]],
) -> list[IntakeReceipt]:
    """Each (service, channel, payload) received from its own thread, all released together."""
    receipts: list[IntakeReceipt] = []
    start = threading.Barrier(len(deliveries))

    def deliver(service: IntakeService, channel: str, payload: dict[str, Any]) -> None:
        start.wait()
        receipts.append(service.receive(channel, payload))

    threads = [threading.Thread(target=deliver, args=d) for d in deliveries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return receipts


def test_warming_up_without_an_active_layer_says_there_is_none(
    sessions: sessionmaker[Session], tmp_path: Path, index_dir: Path
) -> None:
    service = intake_over(sessions, FixedClock(FRIDAY_AFTERNOON), index_dir, tmp_path / "files")
    with pytest.raises(NotFound, match="active grid layer"):
        service.warm_up()


def test_a_runtime_warmed_up_for_serving_collects_garbage_less_often(
    db_url: str, tmp_path: Path
) -> None:
    upgrade(db_url)
    runtime = build_runtime(
        load_settings(database_url=db_url, data_dir=tmp_path / "var", gc_young_threshold=12_345)
    )
    before = gc.get_threshold()
    try:
        with pytest.raises(NotFound, match="active grid layer"):
            runtime.warm_up()  # no layer yet: nothing to index, but the collector is set
        assert gc.get_threshold() == (12_345, 2, before[2])
    finally:
        gc.set_threshold(*before)
        runtime.close()
