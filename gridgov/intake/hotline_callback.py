"""Status back to the municipal 12345 platform (办理状态回传) for the orders it pushed to us.

GridGovError
└── HotlineCallbackError           the status did not reach the platform
    ├── HotlineCallbackRejected    the platform answered 4xx: retrying the same request is futile
    └── HotlineCallbackUnavailable 5xx, 429 or no answer, on every one of the bounded attempts
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Protocol
from urllib.parse import quote

import httpx2

from gridgov.core.errors import GridGovError

_CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


class HotlineStatus(StrEnum):
    """The order states the 12345 platform tracks, with the words its operators read."""

    RECEIVED = "received"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    EXTENSION_REQUESTED = "extension_requested"
    HANDLED = "handled"
    EVALUATED = "evaluated"
    REOPENED = "reopened"

    @property
    def label_zh(self) -> str:
        return _LABELS[self]


_LABELS = {
    HotlineStatus.RECEIVED: "已接收",
    HotlineStatus.ACCEPTED: "已签收",
    HotlineStatus.RETURNED: "退单",
    HotlineStatus.EXTENSION_REQUESTED: "申请延期",
    HotlineStatus.HANDLED: "办结反馈",
    HotlineStatus.EVALUATED: "回访",
    HotlineStatus.REOPENED: "重办",
}


class HotlineCallback(Protocol):
    def send_status(
        self,
        order_id: str,
        status: HotlineStatus,
        note: str,
        at: datetime,
        *,
        idempotency_key: str | None = None,
    ) -> None:
        """Tell the platform the order's new status; raises HotlineCallbackError if it did not."""


class HotlineCallbackError(GridGovError):
    def __init__(self, order_id: str, message: str) -> None:
        self.order_id = order_id
        super().__init__(f"12345 order {order_id}: {message}")


class HotlineCallbackRejected(HotlineCallbackError):
    def __init__(self, order_id: str, status_code: int, body: str) -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(
            order_id, f"the 12345 platform refused the status (HTTP {status_code}): {body}"
        )


class HotlineCallbackUnavailable(HotlineCallbackError):
    def __init__(self, order_id: str, attempts: int, last_error: str) -> None:
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(
            order_id,
            f"the 12345 platform did not take the status after {attempts} attempts: {last_error}",
        )


class HttpHotlineCallback:
    """Posts JSON to {base_url}/orders/{order_id}/status with a bearer token.

    Only the configured base_url is ever called: a callback URL that arrived inside a pushed
    payload is never followed, so our token cannot be sent to a host someone else chose.
    Each status carries an Idempotency-Key, so a retry after a timeout that did reach the platform
    is recognisable there as the same update: the caller's key if given (the notifier derives one
    from the order and the event's place in the log), else one derived from (order, status, time).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        transport: httpx2.BaseTransport | None = None,
        *,
        attempts: int = 3,
        backoff: float = 0.5,
        timeout: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._client = httpx2.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=timeout,
        )
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpHotlineCallback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send_status(
        self,
        order_id: str,
        status: HotlineStatus,
        note: str,
        at: datetime,
        *,
        idempotency_key: str | None = None,
    ) -> None:
        if at.tzinfo is None:
            raise ValueError("at must be an aware datetime")
        local = at.astimezone(_CHINA_TZ).isoformat(timespec="seconds")
        body = {
            "order_no": order_id,
            "status": status.value,
            "status_zh": status.label_zh,
            "note": note,
            "at": local,
        }
        key = (
            idempotency_key
            or hashlib.sha256(f"{order_id}\n{status.value}\n{local}".encode()).hexdigest()
        )
        url = f"/orders/{quote(order_id, safe='')}/status"
        last_error = ""
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(url, json=body, headers={"Idempotency-Key": key})
            except (httpx2.TimeoutException, httpx2.NetworkError) as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    return
                if response.status_code < 500 and response.status_code != 429:
                    raise HotlineCallbackRejected(order_id, response.status_code, response.text)
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
            if attempt < self._attempts:
                self._sleep(self._backoff * 2 ** (attempt - 1))
        raise HotlineCallbackUnavailable(order_id, self._attempts, last_error)
