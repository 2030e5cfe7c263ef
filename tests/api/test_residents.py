"""A resident follows and rates their case by its number and their phone's last four digits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.open311_world import FIRST, PHONE, World, open_world
from tests.case_world import LEADER


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    yield from open_world(db_url, tmp_path)


def follow(world: World, case_id: int, digits: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = world.client.post(
        f"/api/v1/residents/cases/{case_id}/follow", json={"phone_last4": digits}
    )
    return response.status_code, response.json()


def test_the_reporter_follows_the_public_timeline_without_personal_data(world: World) -> None:
    case_id = world.file()
    world.close(case_id)
    status, view = follow(world, case_id, PHONE[-4:])
    assert status == 200
    assert view["status"] == "closed" and view["may_rate"] is True
    steps = [e["action"] for e in view["timeline"]]
    assert steps == ["report", "file", "dispatch", "accept", "handle", "verify_pass", "close"]
    dispatched = view["timeline"][2]
    assert dispatched["state"] == "dispatched" and "城市管理" in (dispatched["department"] or "")
    # The closing note is the resident's to read, with the number in it masked; the handler's
    # working note on `handle` is not shown.
    assert view["timeline"][-1]["note"] == "垃圾已清运 139****5678"
    assert view["timeline"][4]["note"] is None
    body = str(view)
    assert PHONE not in body and FIRST not in body


@pytest.mark.parametrize("digits", ["0000", "5679"])
def test_wrong_digits_or_an_unknown_case_are_the_same_404(world: World, digits: str) -> None:
    case_id = world.file()
    wrong, _ = follow(world, case_id, digits)
    missing, _ = follow(world, 99999, PHONE[-4:])
    assert wrong == missing == 404


def test_five_wrong_attempts_on_a_case_lock_it_for_everyone_with_429(world: World) -> None:
    case_id = world.file()
    assert [follow(world, case_id, f"{n:04d}")[0] for n in range(5)] == [404] * 5
    status, body = follow(world, case_id, PHONE[-4:])
    assert status == 429 and "retry" in body["error"]["problem"]


@pytest.mark.parametrize("digits", ["123", "12a4", "12345", ""])
def test_digits_that_are_not_four_digits_are_refused_naming_the_field(
    world: World, digits: str
) -> None:
    status, body = follow(world, world.file(), digits)
    assert status == 422 and body["error"]["field"] == "phone_last4"


def test_the_reporter_rates_a_closed_case_once(world: World) -> None:
    case_id = world.file()
    url = f"/api/v1/residents/cases/{case_id}/rating"
    rating = {"phone_last4": PHONE[-4:], "satisfaction": "basically_satisfied", "comment": "还行"}
    early = world.client.post(url, json=rating)
    assert early.status_code == 409  # not closed yet
    world.close(case_id)
    before = world.counts()
    bad = world.client.post(url, json={**rating, "satisfaction": "great"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "satisfaction"
    wrong = world.client.post(url, json={**rating, "phone_last4": "0000"})
    assert wrong.status_code == 404
    assert world.counts() == before
    rated = world.client.post(url, json=rating)
    assert rated.status_code == 200, rated.text
    assert rated.json()["satisfaction"] == "basically_satisfied"
    assert rated.json()["state"] == "evaluated"
    again = world.client.post(url, json=rating)
    assert again.status_code == 409
    [last] = world.runtime.cases.events(case_id, LEADER)[-1:]
    assert last.action.value == "evaluate" and last.role.value == "reporter"
    assert last.reason == "还行"
