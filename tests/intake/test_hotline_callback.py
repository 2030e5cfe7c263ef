"""Status updates reach the 12345 platform, retried within bounds; tested against a fake platform."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx2
import pytest

from gridgov.intake.hotline_callback import (
    HotlineCallback,
    HotlineCallbackRejected,
    HotlineCallbackUnavailable,
    HotlineStatus,
    HttpHotlineCallback,
)

AT = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
ORDER = "ZZ12345-20261127-000123"
TOKEN = "test-token-0001"


@dataclass
class Fake12345:
    """A hand-written stand-in for the municipal 12345 platform's status interface."""

    answers: list[int | type[httpx2.RequestError]] = field(default_factory=list)
    received: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.received.append(request)
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx2.Response(401, json={"code": 401, "msg": "token无效"})
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, type):
            raise answer("the platform did not answer in time", request=request)
        if answer == 200:
            return httpx2.Response(200, json={"code": 0, "msg": "成功"})
        return httpx2.Response(answer, json={"code": answer, "msg": "系统繁忙"})

    def bodies(self) -> list[dict[str, object]]:
        return [json.loads(r.content) for r in self.received]


@pytest.fixture
def platform() -> Fake12345:
    return Fake12345()


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def client(platform: Fake12345, slept: list[float]) -> Iterator[HttpHotlineCallback]:
    with HttpHotlineCallback(
        "https://12345.zhengzhou.example/api/",
        TOKEN,
        transport=httpx2.MockTransport(platform),
        sleep=slept.append,
    ) as callback:
        yield callback


def test_a_status_is_posted_as_json_with_china_time_and_the_token(
    client: HttpHotlineCallback, platform: Fake12345
) -> None:
    client.send_status(ORDER, HotlineStatus.HANDLED, "井盖已更换，已电话回复诉求人", AT)
    (request,) = platform.received
    assert request.method == "POST"
    assert str(request.url) == f"https://12345.zhengzhou.example/api/orders/{ORDER}/status"
    assert platform.bodies() == [
        {
            "order_no": ORDER,
            "status": "handled",
            "status_zh": "办结反馈",
            "note": "井盖已更换，已电话回复诉求人",
            "at": "2026-11-28T09:30:00+08:00",
        }
    ]
    assert len(request.headers["Idempotency-Key"]) == 64


def test_an_order_number_cannot_escape_the_status_path(
    client: HttpHotlineCallback, platform: Fake12345
) -> None:
    client.send_status("../admin?x=1", HotlineStatus.ACCEPTED, "", AT)
    assert platform.received[0].url.raw_path == b"/api/orders/..%2Fadmin%3Fx%3D1/status"


@pytest.mark.parametrize("failure", [503, 502, 429, httpx2.ReadTimeout, httpx2.ConnectError])
def test_a_passing_failure_is_retried_with_the_same_idempotency_key(
    client: HttpHotlineCallback,
    platform: Fake12345,
    slept: list[float],
    failure: int | type[httpx2.RequestError],
) -> None:
    platform.answers = [failure, failure]
    client.send_status(ORDER, HotlineStatus.ACCEPTED, "已签收", AT)
    assert len(platform.received) == 3
    assert len({r.headers["Idempotency-Key"] for r in platform.received}) == 1
    assert platform.bodies()[0] == platform.bodies()[2]
    assert slept == [0.5, 1.0]


def test_the_platform_down_on_every_attempt_gives_a_clear_error_after_a_bounded_number(
    client: HttpHotlineCallback, platform: Fake12345, slept: list[float]
) -> None:
    platform.answers = [500] * 10
    with pytest.raises(HotlineCallbackUnavailable) as err:
        client.send_status(ORDER, HotlineStatus.HANDLED, "已办结", AT)
    assert len(platform.received) == 3 == err.value.attempts
    assert ORDER in str(err.value) and "HTTP 500" in str(err.value)
    assert len(slept) == 2


@pytest.mark.parametrize("status", [400, 404, 409])
def test_a_refusal_is_not_retried(
    client: HttpHotlineCallback, platform: Fake12345, status: int
) -> None:
    platform.answers = [status]
    with pytest.raises(HotlineCallbackRejected) as err:
        client.send_status(ORDER, HotlineStatus.RETURNED, "属地不符", AT)
    assert len(platform.received) == 1
    assert err.value.status_code == status and "系统繁忙" in err.value.body


def test_a_wrong_token_is_a_refusal(platform: Fake12345) -> None:
    with (
        HttpHotlineCallback(
            "https://12345.zhengzhou.example/api", "stale", transport=httpx2.MockTransport(platform)
        ) as client,
        pytest.raises(HotlineCallbackRejected) as err,
    ):
        client.send_status(ORDER, HotlineStatus.ACCEPTED, "", AT)
    assert err.value.status_code == 401


def test_a_naive_time_is_refused_before_anything_is_sent(
    client: HttpHotlineCallback, platform: Fake12345
) -> None:
    with pytest.raises(ValueError):
        client.send_status(ORDER, HotlineStatus.ACCEPTED, "", AT.replace(tzinfo=None))
    assert platform.received == []


def test_the_http_client_satisfies_the_callback_protocol(client: HttpHotlineCallback) -> None:
    callback: HotlineCallback = client
    assert callback is client
