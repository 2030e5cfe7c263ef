"""The app served for real (uvicorn on a loopback port) over the demo-coded sample city, with staff
accounts, a few cases, people on duty, and Debian's Chromium driven by Playwright.

Cases: one dispatched in street 1 (`inside`), one in street 2 of the same district (`next_door`)
and one in the other district (`far`). Accounts sign in with `PASSWORD`.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright

from gridgov.api.app import create_app
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.grids.people import AssignmentRole
from gridgov.services.accounts import AccountRole
from gridgov.store.migrate import upgrade
from tests.api.staff_world import DEPARTMENT, PASSWORD, fast_accounts
from tests.case_world import (
    COMMUNITY_1,
    ERQI_POINT,
    FRIDAY_AFTERNOON,
    PLAIN_POINT,
    STREET_1,
    ZHONGYUAN,
    CaseWorld,
    activate_demo_layer,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STREET_2 = "410102002000"
NEXT_DOOR_POINT = (113.61, 34.80)  # street 2, the same district as street 1
# Where the resident of the whole-loop test stands: street 1, community 1, far from `inside`.
RESIDENT_POINT = (113.625, 34.755)
PHONE = "13912345678"
DESKTOP = {"width": 1366, "height": 900}
PHONE_VIEW = {"width": 390, "height": 844}

# username → (role, scope, department)
ACCOUNTS: dict[str, tuple[AccountRole, str | None, str | None]] = {
    "city.admin": (AccountRole.CITY_ADMIN, None, None),
    "district.operator": (AccountRole.DISTRICT_OPERATOR, ZHONGYUAN, None),
    "street.operator": (AccountRole.STREET_OPERATOR, STREET_1, None),
    "grid.worker": (AccountRole.GRID_WORKER, COMMUNITY_1, None),
    "department.handler": (AccountRole.DEPARTMENT_HANDLER, None, DEPARTMENT),
    "auditor": (AccountRole.AUDITOR, ZHONGYUAN, None),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class LiveServer:
    """The app on 127.0.0.1:`port` in a background thread; stop and start it again at will."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            # Event streams never end by themselves; stopping cuts them after a second.
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the app did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._server = None
        self._thread = None


@dataclass
class WebWorld:
    runtime: Runtime
    clock: FixedClock
    app: FastAPI
    server: LiveServer
    cases: CaseWorld
    inside: int
    next_door: int
    far: int
    photo: Path
    second_photo: Path
    not_a_photo: Path
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url


def jpeg(path: Path, colour: tuple[int, int, int]) -> Path:
    image = Image.new("RGB", (320, 240), colour)
    # A darker band, so the thumbnails show that these are two different photos.
    for x in range(320):
        for y in range(100, 140):
            image.putpixel((x, y), tuple(c // 2 for c in colour))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    path.write_bytes(out.getvalue())
    return path


def build_web_world(data_dir: Path) -> Iterator[WebWorld]:
    db_url = f"sqlite:///{data_dir / 'gridgov.db'}"
    upgrade(db_url)
    clock = FixedClock(FRIDAY_AFTERNOON)
    settings = load_settings(
        database_url=db_url,
        data_dir=data_dir / "var",
        intake_places="",
        # The tests file more than a resident would in ten minutes.
        open311_posts_per_10_minutes=100,
    )
    runtime = build_runtime(settings, clock=clock)
    runtime.accounts = fast_accounts(runtime, clock)
    layer_id = activate_demo_layer(runtime.grids)
    cases = CaseWorld(runtime.cases, clock, runtime.sessions, layer_id)
    inside = cases.dispatched_case(PLAIN_POINT)
    next_door = cases.dispatched_case(NEXT_DOOR_POINT)
    far = cases.dispatched_case(ERQI_POINT)
    for username, (role, scope, department) in ACCOUNTS.items():
        runtime.accounts.create(
            username,
            PASSWORD,
            role,
            scope_code=scope,
            department_code=department,
            display_name=username.replace(".", " ").title(),
        )
    worker = runtime.people.add_person("王网格", phone="13700001111")
    runtime.people.assign(worker.id, COMMUNITY_1, AssignmentRole.GRID_WORKER)
    app = create_app(runtime)
    server = LiveServer(app).start()
    photos = data_dir / "photos"
    photos.mkdir(exist_ok=True)
    not_a_photo = photos / "notes.jpg"
    not_a_photo.write_text("这不是照片 / not a photo", encoding="utf-8")
    try:
        yield WebWorld(
            runtime,
            clock,
            app,
            server,
            cases,
            inside,
            next_door,
            far,
            jpeg(photos / "garbage.jpg", (150, 120, 60)),
            jpeg(photos / "cleaned.jpg", (90, 170, 90)),
            not_a_photo,
        )
    finally:
        server.stop()
        runtime.close()


class ConsoleErrors:
    """Errors a page logs (console.error, uncaught exceptions, failed loads), for asserting none."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"{message.text} @ {message.location.get('url')}")


def launch(playwright: Playwright) -> Browser:
    # Each launch runs in a fresh temporary profile (user-data dir) that Playwright removes.
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def sign_in(page: Page, url: str, username: str, *, next_path: str | None = None) -> None:
    target = f"{url}/signin" + (f"?next={next_path}" if next_path else "")
    page.goto(target)
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_url(lambda u: "/signin" not in u)


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
