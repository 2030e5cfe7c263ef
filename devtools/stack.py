"""A whole gridgov deployment on this machine, for the load and crash tools.

A throwaway PostgreSQL + PostGIS cluster, migrated, with the demo city active, an API key per
pushing channel, and `gridgov serve` / `gridgov worker` as real subprocesses (each in its own
process group, so that a crash can be simulated with one `kill -9` of the group). Everything
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx2

from devtools.pg_cluster import TempCluster
from devtools.traffic import PUSH_CHANNELS, Place, places
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.sim.city import generate_city
from gridgov.store.migrate import upgrade


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Service:
    """One gridgov command run as a subprocess in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        if self._log is None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - kept open across restarts
        self._log.write(f"\n=== start {self.name} at {time.time():.3f}\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts += 1

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole process group (the command and every process it started)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def kill9_child(self) -> int | None:
        """SIGKILL one process the command started (a uvicorn worker); returns its pid."""
        children = self.children()
        if not children:
            return None
        pid = children[0]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return pid

    def children(self) -> list[int]:
        """The command's direct child processes that serve (not multiprocessing's helpers)."""
        if self.proc is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid and "resource_tracker" not in cmdline:
                found.append(int(entry.name))
        return sorted(found)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; the exit status, or None if it had to be killed after `timeout`."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            return None

    def close(self) -> None:
        if self.running:
            self.kill9()
        elif self.proc is not None:
            # The command may be gone while processes it started live on in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Stack:
    cluster: TempCluster
    url: str
    directory: Path
    env: dict[str, str]
    runtime: Runtime
    keys: dict[str, str]
    places: list[Place]
    grid_count: int
    port: int
    services: list[Service] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def build(
        cls,
        *,
        scale: float,
        settings: dict[str, str] | None = None,
        pg_settings: dict[str, str] | None = None,
        say: Any = print,
    ) -> Stack:
        """Cluster, schema, demo city (active, its locate index cached on disk), channel keys."""
        directory = Path(tempfile.mkdtemp(prefix="gridgov-stack-"))
        cluster = TempCluster.start(settings=pg_settings)
        try:
            url = cluster.create_database("gridgov", postgis=True)
            upgrade(url)
            env = {
                **os.environ,
                "PYTHONUNBUFFERED": "1",
                "GRIDGOV_DATABASE_URL": url,
                "GRIDGOV_DATA_DIR": str(directory / "var"),
                **(settings or {}),
            }
            overrides = {
                k.removeprefix("GRIDGOV_").lower(): v
                for k, v in env.items()
                if k.startswith("GRIDGOV_")
            }
            runtime = build_runtime(load_settings(**_settings_fields(overrides)))
            started = time.perf_counter()
            grids = generate_city(scale=scale)
            layer = runtime.grids.import_grids(grids, name="demo", source="stack", commit=True)
            assert layer.layer is not None
            runtime.grids.activate(layer.layer.id, commit=True)
            found = places(grids)
            # Build and cache the locate index once, so that every process started later loads it.
            runtime.locating.locate(found[0].lon, found[0].lat)
            say(
                f"demo city scale {scale}: {len(grids):,} grids in {time.perf_counter() - started:.1f} s"
            )
            keys = {c: runtime.intake.keys.create(c, label="stack").token for c in PUSH_CHANNELS}
        except BaseException:
            cluster.stop()
            shutil.rmtree(directory, ignore_errors=True)
            raise
        return cls(cluster, url, directory, env, runtime, keys, found, len(grids), free_port())

    def server(self, workers: int, *, extra: list[str] | None = None) -> Service:
        argv = [sys.executable, "-m", "gridgov", "serve", "--port", str(self.port)]
        argv += ["--workers", str(workers), "--no-access-log", *(extra or [])]
        service = Service("server", argv, self.env, self.directory / "server.log")
        self.services.append(service)
        return service

    def worker(self) -> Service:
        argv = [sys.executable, "-m", "gridgov", "worker"]
        service = Service("worker", argv, self.env, self.directory / "worker.log")
        self.services.append(service)
        return service

    def wait_ready(self, timeout: float = 120.0) -> float:
        """Seconds until /healthz answered 200; raises after `timeout`."""
        started = time.perf_counter()
        with httpx2.Client(base_url=self.base_url, timeout=1.0) as client:
            while time.perf_counter() - started < timeout:
                try:
                    if client.get("/healthz").status_code == 200:
                        return time.perf_counter() - started
                except httpx2.TransportError:
                    pass
                time.sleep(0.05)
        raise TimeoutError(f"gridgov serve on {self.base_url} not ready after {timeout:.0f} s")

    def gridgov(self, *args: str, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
        """Run one gridgov command against this deployment and return what it printed."""
        return subprocess.run(
            [sys.executable, "-m", "gridgov", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def close(self) -> None:
        for service in self.services:
            service.close()
        self.runtime.close()
        self.cluster.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _settings_fields(values: dict[str, str]) -> dict[str, str]:
    from gridgov.config import Settings

    return {k: v for k, v in values.items() if k in Settings.model_fields}
