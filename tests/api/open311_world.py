"""A running app over the demo-coded city, a citizen_app key, and helpers to file and close cases."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from gridgov.api.app import create_app
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.store.migrate import upgrade
from gridgov.store.tables import CaseEventRow, CaseRow, ReportRow
from gridgov.workflow.model import AcceptCase, CloseCase, HandleCase, PassVerification
from tests.case_world import (
    DISPATCHER,
    FRIDAY_AFTERNOON,
    HANDLER,
    PLAIN_POINT,
    SHIFT,
    WORKER,
    activate_demo_layer,
)

PHONE = "13912345678"
FIRST, LAST = "小明", "王"
LON, LAT = PLAIN_POINT


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    clock: FixedClock
    key: str

    def counts(self) -> tuple[int, int, int]:
        """(reports, cases, events) stored."""
        with self.runtime.sessions() as session:
            return tuple(  # type: ignore[return-value]
                session.scalar(select(func.count()).select_from(t)) or 0
                for t in (ReportRow, CaseRow, CaseEventRow)
            )

    def form(self, **changes: Any) -> dict[str, Any]:
        """A complete POST form; a change of None leaves the field out."""
        fields: dict[str, Any] = {
            "api_key": self.key,
            "service_code": "E0102",
            "lat": str(LAT),
            "long": str(LON),
            "description": "小区门口垃圾堆了三天没人清运",
            "first_name": FIRST,
            "last_name": LAST,
            "phone": PHONE,
            "email": "xiaoming@example.cn",
            "media_url": "https://photos.example.cn/p/1.jpg",
        }
        fields.update(changes)
        return {k: v for k, v in fields.items() if v is not None}

    def file(self, **changes: Any) -> int:
        response = self.client.post("/open311/v2/requests.json", data=self.form(**changes))
        assert response.status_code == 201, response.text
        return int(response.json()[0]["service_request_id"])

    def close(self, case_id: int) -> None:
        """Drive a filed report to 结案 through the services, as the city's staff would."""
        cases = self.runtime.cases
        cases.file(case_id, SHIFT)
        cases.dispatch(case_id, DISPATCHER)
        cases.perform(case_id, AcceptCase(), HANDLER)
        cases.perform(case_id, HandleCase(evidence=("photo-1.jpg",), reason="已清运"), HANDLER)
        cases.perform(case_id, PassVerification(), WORKER)
        cases.perform(case_id, CloseCase(reason="垃圾已清运 13912345678"), SHIFT)


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(out, "JPEG")
    return out.getvalue()


def open_world(db_url: str, tmp_path: Path) -> Iterator[World]:
    upgrade(db_url)
    settings = load_settings(database_url=db_url, data_dir=tmp_path / "var", intake_places="")
    clock = FixedClock(FRIDAY_AFTERNOON)
    runtime = build_runtime(settings, clock=clock)
    activate_demo_layer(runtime.grids)
    key = runtime.intake.keys.create("citizen_app", label="街道随手拍 App").token
    with TestClient(create_app(runtime)) as client:
        yield World(client, runtime, clock, key)
    runtime.close()
