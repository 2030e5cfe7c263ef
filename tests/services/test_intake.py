"""The intake pipeline on both stores: every channel's sample to an opened case, exactly once."""

from __future__ import annotations

import base64
import copy
import io
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import Suggestion
from gridgov.config import load_settings
from gridgov.core.errors import InvalidInput
from gridgov.grids.model import Grid, GridLevel
from gridgov.services.intake import IntakeOptions, IntakeReceipt
from gridgov.services.intake_keys import IntakeKeys, InvalidApiKey
from gridgov.sim.city import generate_city
from gridgov.workflow.model import Action, CaseState
from tests.case_world import INTAKE, LEADER
from tests.intake.channel_samples import CHANNELS, DELETE, broken, sample
from tests.intake_world import IntakeWorld, build_intake_world

ADDRESS_ONLY = ("hotline_12345", "heating")


@pytest.fixture(scope="module")
def grids() -> list[Grid]:
    return generate_city(scale=0.02)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("intake-index")


@pytest.fixture
def world(
    sessions: sessionmaker[Session], tmp_path: Path, index_dir: Path, grids: list[Grid]
) -> IntakeWorld:
    return build_intake_world(sessions, tmp_path, index_dir, grids)


def compound_address(grids: list[Grid], n: int = 0) -> tuple[str, Grid]:
    """A full written address of the n-th compound: district, street, community, compound."""
    by_code = {g.code: g for g in grids}
    compound = [g for g in grids if g.level is GridLevel.COMPOUND][n]
    community = by_code[compound.parent_code or ""]
    street = by_code[community.parent_code or ""]
    district = by_code[street.parent_code or ""]
    return f"郑州市{district.name}{street.name}{community.name}{compound.name}3号楼", compound


def locatable(channel: str, grids: list[Grid]) -> dict[str, Any]:
    """The channel's sample; the address-only ones get an address this small city has."""
    payload = sample(channel)
    if channel in ADDRESS_ONLY:
        payload["address"] = compound_address(grids)[0]
    return payload


def jpeg(size: tuple[int, int] = (64, 48)) -> str:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_channel_sample_becomes_an_opened_case_once_however_often_it_is_sent(
    world: IntakeWorld, grids: list[Grid], channel: str
) -> None:
    receipt = world.service.receive(channel, locatable(channel, grids))
    assert receipt.created and receipt.case_id is not None
    before = world.counts()
    again = world.service.receive(channel, locatable(channel, grids))
    assert (again.report_id, again.case_id, again.created) == (
        receipt.report_id,
        receipt.case_id,
        False,
    )
    assert world.counts() == before
    case = world.cases.case(receipt.case_id, LEADER)
    assert case.report_ids == (str(receipt.report_id),)
    assert set(case.grid_codes) >= {"city", "district", "street", "community", "compound"}
    assert case.grid_codes["district"].startswith("4101")
    assert case.category_code == receipt.category_code
    shown = world.service.report(receipt.report_id, may_see_personal_data=False)
    full = world.service.report(receipt.report_id, may_see_personal_data=True)
    assert shown["intake"]["grid_codes"] == dict(case.grid_codes)
    if channel == "hotline_12345":
        assert "13812345678" in full["text"] and "13812345678" not in shown["text"]
        assert "138****5678" in shown["text"]
        assert shown["reporter_name"] == "王**" and "payload" not in shown


def test_trusted_channels_are_dispatched_and_the_others_wait_for_an_operator(
    world: IntakeWorld, grids: list[Grid]
) -> None:
    patrol = world.service.receive("grid_patrol", sample("grid_patrol"))
    citizen = world.service.receive("citizen_app", sample("citizen_app"))
    assert patrol.case_id is not None and citizen.case_id is not None
    dispatched = world.cases.case(patrol.case_id, LEADER)
    assert dispatched.state is CaseState.DISPATCHED and dispatched.assignee_department
    assert world.cases.case(citizen.case_id, LEADER).state is CaseState.REPORTED
    routing = world.service.report(citizen.report_id, may_see_personal_data=False)["intake"]
    assert "routing" in routing


class Calibrated:
    """A classifier of the test's own: one leaf at a set confidence, and the threshold its
    training calibrated (None: never calibrated, like the keyword list)."""

    name = "calibrated"

    def __init__(self, confidence: float, threshold: float | None) -> None:
        self.confidence = confidence
        self.threshold = threshold

    def suggest(
        self, text: str, *, channel: str | None = None, hint: str | None = None, k: int = 3
    ) -> list[Suggestion]:
        return [Suggestion("E0201", self.confidence, "test")][:k]

    def auto_file_threshold(self, channel: str | None = None) -> float | None:
        return self.threshold


@pytest.mark.parametrize(
    ("confidence", "calibrated", "configured", "filed"),
    [
        (0.85, 0.9, None, False),
        (0.92, 0.9, None, True),
        (0.85, 0.9, 0.8, True),  # the setting, when given, overrides the calibration
        (0.92, 0.9, 0.95, False),
        (0.85, None, None, True),  # uncalibrated: 0.8
        (0.75, None, None, False),
    ],
)
def test_a_trusted_report_is_filed_unaided_only_as_sure_as_the_classifier_was_calibrated(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    index_dir: Path,
    grids: list[Grid],
    confidence: float,
    calibrated: float | None,
    configured: float | None,
    filed: bool,
) -> None:
    world = build_intake_world(
        sessions,
        tmp_path,
        index_dir,
        grids,
        options=IntakeOptions(auto_file_min_confidence=configured),
        classifier=Calibrated(confidence, calibrated),
    )
    payload = sample("grid_patrol")
    del payload["category_code"]  # the classifier decides, not the worker
    preview = world.service.preview("grid_patrol", payload)
    assert preview["decisions"]["auto_file_at"] == calibrated
    assert preview["decisions"]["auto_file"] is filed
    receipt = world.service.receive("grid_patrol", payload)
    assert receipt.case_id is not None and receipt.category_code == "E0201"
    state = world.cases.case(receipt.case_id, LEADER).state
    assert (state is not CaseState.REPORTED) is filed
    stored = world.service.report(receipt.report_id, may_see_personal_data=False)["intake"]
    assert stored["auto_file_at"] == calibrated


@pytest.mark.parametrize(("given", "read"), [("", None), ("  ", None), ("0.9", 0.9), ("1", 1.0)])
def test_the_auto_filing_setting_left_empty_means_the_classifiers_own_threshold(
    monkeypatch: pytest.MonkeyPatch, given: str, read: float | None
) -> None:
    monkeypatch.setenv("GRIDGOV_INTAKE_AUTO_FILE_MIN_CONFIDENCE", given)
    assert load_settings().intake_auto_file_min_confidence == read


@pytest.mark.parametrize("given", ["1.5", "-0.1", "sure"])
def test_an_auto_filing_setting_that_is_no_confidence_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("GRIDGOV_INTAKE_AUTO_FILE_MIN_CONFIDENCE", given)
    with pytest.raises(ValidationError, match="intake_auto_file_min_confidence"):
        load_settings()


def test_an_address_only_order_is_located_by_the_gazetteer(
    world: IntakeWorld, grids: list[Grid]
) -> None:
    address, compound = compound_address(grids, 7)
    payload = {**sample("hotline_12345"), "address": address}
    receipt = world.service.receive("hotline_12345", payload)
    assert receipt.located_by == "address"
    assert receipt.location_confidence is not None and receipt.location_confidence >= 0.6
    assert receipt.case_id is not None
    case = world.cases.case(receipt.case_id, LEADER)
    assert case.grid_codes["community"] == compound.parent_code
    explained = world.service.report(receipt.report_id, may_see_personal_data=True)["intake"]
    assert explained["location_explanation"] and explained["located_by"] == "address"


def test_an_unlocatable_order_waits_in_the_manual_queue_until_located_by_hand(
    world: IntakeWorld, grids: list[Grid]
) -> None:
    payload = {**sample("hotline_12345"), "address": "老地方那边，大树旁边"}
    receipt = world.service.receive("hotline_12345", payload)
    assert receipt.case_id is None and receipt.located_by == "manual"
    queue = world.service.manual_queue()
    assert [r["id"] for r in queue] == [receipt.report_id]
    assert "13812345678" not in queue[0]["text"]
    lon, lat = grids[-1].geometry.representative_point().coords[0]
    located = world.service.locate_manually(receipt.report_id, lon, lat, INTAKE)
    assert located.case_id is not None and located.report_id == receipt.report_id
    case = world.cases.case(located.case_id, LEADER)
    assert case.state is CaseState.REPORTED and case.report_ids == (str(receipt.report_id),)
    assert world.cases.events(located.case_id, LEADER)[0].actor_id == INTAKE.id
    assert world.service.manual_queue() == []
    retry = world.service.receive("hotline_12345", payload)
    assert retry.case_id == located.case_id and not retry.created


def test_the_same_problem_on_two_channels_joins_one_case_and_a_near_distractor_stays_apart(
    world: IntakeWorld,
) -> None:
    text = "金水路与文化路交叉口东北角人行道上井盖破损塌陷，行人容易绊倒"
    where = {"lon": 113.6621, "lat": 34.7842, "crs": "wgs84"}
    app = copy.deepcopy(sample("citizen_app"))
    app.update(text=text, gps=where, photos=[])
    first = world.service.receive("citizen_app", app)
    police = copy.deepcopy(sample("police_110"))
    police.update(summary=text, location={**where, "lon": 113.66215})
    second = world.service.receive("police_110", police)
    assert first.case_id is not None and second.case_id is not None
    assert second.duplicate_of == first.case_id
    joined = world.cases.case(first.case_id, LEADER)
    assert str(second.report_id) in joined.report_ids
    merged = world.cases.case(second.case_id, LEADER)
    assert merged.state is CaseState.MERGED and merged.merged_into == str(first.case_id)
    assert world.cases.events(first.case_id, LEADER)[-1].action is Action.ABSORB
    assert world.cases.events(second.case_id, LEADER)[-1].action is Action.MERGE
    # Another pothole 40 m east, on the other corner: its own case.
    other = copy.deepcopy(app)
    other.update(
        submission_id="APP-other",
        text="金水路与文化路交叉口西南角人行道上井盖破损塌陷，行人容易绊倒",
        gps={**where, "lon": 113.6626},
    )
    third = world.service.receive("citizen_app", other)
    assert third.duplicate_of is None and third.case_id not in (first.case_id, None)


BAD_PAYLOADS = [
    ("police_110", "incident_no", DELETE, "payload.incident_no"),
    ("citizen_app", "text", 42, "payload.text"),
    ("city_management", "location.lat", 134.0, "payload.location.lat"),
    ("grid_patrol", "gps.lon", "east", "payload.gps.lon"),
    ("iot_sensor", "measured_at", "yesterday", "payload.measured_at"),
]


@pytest.mark.parametrize(("channel", "key", "value", "field"), BAD_PAYLOADS)
def test_a_bad_payload_is_refused_naming_the_field_and_stores_nothing(
    world: IntakeWorld, channel: str, key: str, value: object, field: str
) -> None:
    payload, _ = broken(channel, key, value)
    before = world.counts()
    with pytest.raises(InvalidInput) as refused:
        world.service.receive(channel, payload)
    assert refused.value.field == field
    assert world.counts() == before


@pytest.mark.parametrize(
    ("photo", "problem"),
    [
        (base64.b64encode(b"%PDF-1.4 not an image").decode(), "JPEG"),
        ("A" * (50 * 1024 * 1024 * 4 // 3), "too large"),
    ],
    ids=["not-an-image", "50-MB"],
)
def test_a_bad_photo_refuses_the_whole_report(world: IntakeWorld, photo: str, problem: str) -> None:
    payload = sample("citizen_app")
    payload["photos"] = [{"base64": jpeg()}, {"base64": photo}]
    before = world.counts()
    with pytest.raises(InvalidInput) as refused:
        world.service.receive("citizen_app", payload)
    assert refused.value.field == "payload.photos[1]" and problem in refused.value.problem
    assert world.counts() == before


def test_an_inline_photo_is_stored_with_a_public_copy_and_thumbnail(world: IntakeWorld) -> None:
    payload = sample("citizen_app")
    payload["photos"] = [{"base64": jpeg((800, 600))}]
    receipt = world.service.receive("citizen_app", payload)
    full = world.service.report(receipt.report_id, may_see_personal_data=True)
    (photo,) = full["intake"]["photos"]
    for role in ("original", "public", "thumbnail"):
        assert world.files.exists(photo[role])
    with Image.open(world.files.path(photo["thumbnail"])) as thumb:
        assert max(thumb.size) <= 320
    assert "base64" not in str(full["payload"])


def test_an_unknown_channel_is_refused(world: IntakeWorld) -> None:
    with pytest.raises(InvalidInput) as refused:
        world.service.receive("fax", {"text": "x"})
    assert refused.value.field == "channel"


def test_api_keys_open_only_their_own_channel_until_revoked(world: IntakeWorld) -> None:
    key = world.service.keys.create("hotline_12345")
    world.service.check_key("hotline_12345", key.token)
    for channel, token in [
        ("hotline_12345", "ggk_guessed"),
        ("hotline_12345", None),
        ("police_110", key.token),
    ]:
        with pytest.raises(InvalidApiKey):
            world.service.check_key(channel, token)
    world.service.keys.revoke(key.id)
    with pytest.raises(InvalidApiKey, match="revoked"):
        world.service.check_key("hotline_12345", key.token)
    assert [k.revoked_at is not None for k in world.service.keys.list()] == [True]


def test_a_key_revoked_in_another_process_stops_working_once_the_remembered_check_expires(
    world: IntakeWorld,
) -> None:
    here = IntakeKeys(world.sessions, world.clock, cache_s=0.3)
    elsewhere = IntakeKeys(world.sessions, world.clock)
    key = elsewhere.create("police_110")
    here.check("police_110", key.token)  # found valid: remembered for 0.3 s
    elsewhere.revoke(key.id)

    here.check("police_110", key.token)  # still remembered
    with pytest.raises(InvalidApiKey, match="revoked"):
        here.check("hotline_12345", key.token)  # another channel is checked in the store
    time.sleep(0.35)
    with pytest.raises(InvalidApiKey, match="revoked"):
        here.check("police_110", key.token)
    with pytest.raises(InvalidApiKey, match="revoked"):
        elsewhere.check("police_110", key.token)  # revoked here: at once


def test_a_batch_stores_the_good_payloads_and_answers_the_bad_one_in_its_slot(
    world: IntakeWorld,
) -> None:
    payloads = []
    for n in range(5):
        payload = sample("iot_sensor")
        payload["measured_at"] = f"2026-11-27T0{n}:14:05+08:00"
        payloads.append(payload)
    payloads[2] = broken("iot_sensor", "device_id", DELETE)[0]
    payloads.append(payloads[0])
    answers = world.service.receive_many("iot_sensor", payloads)
    assert isinstance(answers[2], InvalidInput) and answers[2].field == "[2].payload.device_id"
    stored = [a for a in answers if isinstance(a, IntakeReceipt)]
    assert len(stored) == 5 and stored[-1].report_id == stored[0].report_id
    assert not stored[-1].created
    assert world.counts()[0] == 4


def test_two_concurrent_first_deliveries_store_one_report(
    sessions: sessionmaker[Session], tmp_path: Path, index_dir: Path, grids: list[Grid]
) -> None:
    world = build_intake_world(sessions, tmp_path, index_dir, grids)
    receipts: list[IntakeReceipt] = []
    payload = sample("grid_patrol")

    def deliver() -> None:
        receipts.append(world.service.receive("grid_patrol", payload))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.report_id for r in receipts}) == 1
    assert sum(r.created for r in receipts) == 1
    assert world.counts()[0] == 1
