"""`gridgov hotline` in-process against a real store, on both dialects."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from gridgov.cli.hotline import hotline
from gridgov.intake.hotline_callback import HttpHotlineCallback
from gridgov.services.hotline_notify import HotlineNotifier
from gridgov.store.db import make_engine, session_factory
from gridgov.store.migrate import upgrade
from tests.case_world import DISPATCHER, INTAKE, SHIFT, CaseWorld, build_world

Invoke = Callable[..., Result]
TOKEN = "cli-token-0001"


@pytest.fixture
def store(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def world(store: Engine, tmp_path: Path) -> CaseWorld:
    world = build_world(session_factory(store), tmp_path)
    _, case = world.service.submit_report(world.report(external_id="ZZ-CLI-1"), INTAKE)
    world.service.file(int(case.id), SHIFT)
    world.service.dispatch(int(case.id), DISPATCHER)
    return world


def runner_for(db_url: str, tmp_path: Path, **env: str) -> Invoke:
    runner = CliRunner(
        env={
            "GRIDGOV_DATABASE_URL": db_url,
            "GRIDGOV_DATA_DIR": str(tmp_path / "var"),
            "GRIDGOV_INTAKE_PLACES": "",
            **env,
        }
    )

    def invoke(*args: str) -> Result:
        return runner.invoke(hotline, list(args), catch_exceptions=False)

    return invoke


def test_notify_previews_what_would_be_sent_without_sending(
    world: CaseWorld, db_url: str, tmp_path: Path
) -> None:
    run = runner_for(db_url, tmp_path)
    preview = run("notify")
    assert preview.exit_code == 0 and "--commit" in preview.output
    lines = [line for line in preview.output.splitlines() if line.startswith("ZZ-CLI-1")]
    assert [line.split()[1] for line in lines] == ["received", "accepted"]
    assert "已签收" in lines[1]
    assert "pending 0" in run("failures").output  # the preview planned nothing


def test_notify_refuses_to_send_without_the_platform_configured(
    world: CaseWorld, db_url: str, tmp_path: Path
) -> None:
    runner = CliRunner(
        env={"GRIDGOV_DATABASE_URL": db_url, "GRIDGOV_DATA_DIR": str(tmp_path / "var")}
    )
    refused = runner.invoke(hotline, ["notify", "--once", "--commit"])
    assert refused.exit_code == 2
    assert "GRIDGOV_HOTLINE_CALLBACK_URL" in refused.output


def test_failures_lists_what_the_platform_refused(
    world: CaseWorld, db_url: str, tmp_path: Path
) -> None:
    run = runner_for(db_url, tmp_path)
    assert "no refused statuses" in run("failures").output

    def refuse(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(404, json={"code": 404, "msg": "工单不存在"})

    with HttpHotlineCallback(
        "https://12345.example/api", TOKEN, transport=httpx2.MockTransport(refuse)
    ) as callback:
        HotlineNotifier(world.sessions, callback, world.clock).run_once()
    listed = run("failures").output
    assert [line.split()[1] for line in listed.splitlines() if line.startswith("ZZ-CLI-1")] == [
        "received",
        "accepted",
    ]
    assert "HTTP 404" in listed and "工单不存在" in listed
    assert "failed 2" in listed


class _Platform(BaseHTTPRequestHandler):
    """The 12345 platform's status interface on 127.0.0.1, for the one test that goes over HTTP."""

    received: list[dict[str, object]]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = self.headers["Authorization"] == f"Bearer {TOKEN}"
        if ok:
            type(self).received.append(body)
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"code": 0}')

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_notify_once_sends_to_the_configured_platform_and_then_has_nothing_left(
    world: CaseWorld, db_url: str, tmp_path: Path
) -> None:
    _Platform.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        run = runner_for(
            db_url,
            tmp_path,
            GRIDGOV_HOTLINE_CALLBACK_URL=f"http://127.0.0.1:{server.server_address[1]}/api",
            GRIDGOV_HOTLINE_CALLBACK_TOKEN=TOKEN,
        )
        sent = run("notify", "--once", "--commit")
        assert "delivered 2" in sent.output
        assert "delivered 0" in run("notify", "--once", "--commit").output
    finally:
        server.shutdown()
        server.server_close()
    assert [b["status"] for b in _Platform.received] == ["received", "accepted"]
    assert "nothing to send" in run("notify").output
