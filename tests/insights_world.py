"""A runtime over the demo-coded sample city for the AI insight tests, and a hand-written fake of
an OpenAI-compatible chat-completions service (tests/fake_chat.py) for the model settings."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from PIL import Image

from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.store.migrate import upgrade
from gridgov.workflow.model import Actor, HandleCase, ReturnCase, Role
from tests.ai.photo_samples import jpeg, scene
from tests.case_world import (
    DISPATCHER,
    FRIDAY_AFTERNOON,
    HANDLER,
    INTAKE,
    PLAIN_POINT,
    SHIFT,
    CaseWorld,
    activate_demo_layer,
)
from tests.fake_chat import FakeChatService, chat_service, completion, error

API_KEY = "sk-test-insights"


def model_service() -> AbstractContextManager[FakeChatService]:
    """The fake chat-completions service; with nothing queued it fails, as a service would."""
    return chat_service(default=error(500, "nothing queued"))


def mock_transport(
    replies: list[tuple[int, str]], seen: list[dict[str, Any]] | None = None
) -> httpx2.MockTransport:
    """An httpx MockTransport answering chat completions from `replies` in order."""

    def handle(request: httpx2.Request) -> httpx2.Response:
        if seen is not None:
            seen.append(json.loads(request.content))
        status, content = replies.pop(0)
        body = completion(content).body if status == 200 else content.encode()
        return httpx2.Response(status, content=body, headers={"Content-Type": "application/json"})

    return httpx2.MockTransport(handle)


@dataclass
class InsightsWorld:
    runtime: Runtime
    clock: FixedClock
    cases: CaseWorld
    serial: int = 0

    def photo_report(
        self,
        image: Image.Image | None = None,
        *,
        point: tuple[float, float] = PLAIN_POINT,
        taken: datetime | None = None,
        text: str = "小区门口有暴露垃圾，没人清理，联系电话13812345678",
    ) -> int:
        """A resident's app report with a photo (EXIF GPS at `point`); returns its case id."""
        self.serial += 1
        local = (taken or self.clock.now() - timedelta(minutes=20)).astimezone(
            FRIDAY_AFTERNOON.tzinfo
        )
        photo = jpeg(image or scene(self.serial), gps=point, taken=local.replace(tzinfo=None))
        receipt = self.runtime.intake.receive(
            "citizen_app",
            {
                "submission_id": f"APP-{self.serial}",
                "submitted_at": self.clock.now().isoformat(),
                "text": text,
                "gps": {"lon": point[0], "lat": point[1], "crs": "wgs84"},
                "photos": [{"base64": base64.b64encode(photo).decode("ascii")}],
            },
        )
        assert receipt.case_id is not None
        return receipt.case_id

    def handled_with(self, case_id: int, evidence: list[str]) -> None:
        """File, dispatch, accept and handle a case with `evidence` (file ids or text)."""
        from gridgov.workflow.model import AcceptCase

        service = self.runtime.cases
        service.file(case_id, SHIFT, category_code="E0102")
        service.dispatch(case_id, DISPATCHER)
        self.clock.advance(timedelta(hours=1))
        service.perform(case_id, AcceptCase(), HANDLER)
        self.clock.advance(timedelta(hours=1))
        service.perform(case_id, HandleCase(evidence=tuple(evidence)), HANDLER)

    def dispatched_by_hand(
        self,
        category: str,
        department: str,
        *,
        returned: bool = False,
        point: tuple[float, float] = PLAIN_POINT,
    ) -> int:
        """A case of `category` filed and dispatched by hand to `department`, optionally returned."""
        service = self.runtime.cases
        _, case = service.submit_report(self.cases.report(point, category=category), INTAKE)
        case_id = int(case.id)
        service.file(case_id, SHIFT)
        service.dispatch(case_id, DISPATCHER, department=department)
        if returned:
            self.clock.advance(timedelta(minutes=5))
            service.perform(case_id, ReturnCase(reason="职能不符 / not ours"), HANDLER)
        self.clock.advance(timedelta(minutes=5))
        return case_id


CITY_LEADER = Actor("leader", Role.CENTRE_LEADER, "中心主任")


@contextmanager
def insights_world(
    db_url: str, data_dir: Path, start: datetime = FRIDAY_AFTERNOON, **settings: Any
) -> Iterator[InsightsWorld]:
    """A migrated store, a runtime built from settings (plus `settings`), the sample city active;
    the runtime's connections are closed on leaving."""
    upgrade(db_url)
    clock = FixedClock(start)
    runtime = build_runtime(
        load_settings(database_url=db_url, data_dir=data_dir, intake_places="", **settings),
        clock=clock,
    )
    layer_id = activate_demo_layer(runtime.grids)
    try:
        yield InsightsWorld(
            runtime, clock, CaseWorld(runtime.cases, clock, runtime.sessions, layer_id)
        )
    finally:
        runtime.close()
