"""A throwaway PostgreSQL 15 + PostGIS 3 cluster in a temp dir on a loopback port.

Tests and benchmarks start one with `TempCluster.start()`; it is torn down with `stop()`. Debian's
binaries are used as installed by `scripts/install-debian-packages`. Runs as root on CI machines,
so the cluster is owned by the `postgres` system user when we are root (initdb refuses root).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")
# Tests clone their databases from this one, which already has the postgis extension: cloning
# takes a fraction of the time `create extension postgis` does.
POSTGIS_TEMPLATE = "gridgov_template"


class ClusterUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner_cmd(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@dataclass
class TempCluster:
    directory: Path
    port: int
    user: str

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={database}"

    def url_for(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, *, settings: dict[str, str] | None = None) -> TempCluster:
        if not (PG_BIN / "initdb").exists() or not POSTGIS_CONTROL.exists():
            raise ClusterUnavailable(
                "PostgreSQL 15 + PostGIS 3 not installed; run scripts/install-debian-packages"
            )
        directory = Path(tempfile.mkdtemp(prefix="gridgov-pg-"))
        user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        data = directory / "data"
        subprocess.run(
            _as_owner_cmd(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        port = _free_port()
        opts = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{directory}'",
            # Throwaway test clusters only: durability is not what we test here.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "jit": "off",
            **(settings or {}),
        }
        with open(data / "postgresql.conf", "a") as conf:
            for key, value in opts.items():
                conf.write(f"{key} = {value}\n")
        subprocess.run(
            _as_owner_cmd(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(directory / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        cluster = cls(directory=directory, port=port, user=user)
        cluster._wait_ready()
        return cluster

    def _wait_ready(self) -> None:
        for _ in range(100):
            ok = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
            )
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise ClusterUnavailable(f"cluster on port {self.port} did not become ready")

    def create_database(self, name: str, *, postgis: bool = True) -> str:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        if postgis:
            with psycopg.connect(self.dsn(name), autocommit=True) as conn:
                conn.execute("create extension if not exists postgis")
        return self.url_for(name)

    def clone_database(self, template: str = POSTGIS_TEMPLATE) -> str:
        """A new database copied from `template`; returns its name."""
        import uuid

        import psycopg

        name = f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'create database "{name}" template "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')

    def stop(self) -> None:
        subprocess.run(
            _as_owner_cmd(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.directory / "data"),
                    "-m",
                    "immediate",
                    "stop",
                ]
            ),
            capture_output=True,
        )
        shutil.rmtree(self.directory, ignore_errors=True)
