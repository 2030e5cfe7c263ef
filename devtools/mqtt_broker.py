"""A throwaway mosquitto broker on a loopback port, for tests of the IoT sensor channel."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = Path("/usr/sbin/mosquitto")


class BrokerUnavailable(RuntimeError):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TempBroker:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls) -> TempBroker:
        if not MOSQUITTO.exists():
            raise BrokerUnavailable(
                "mosquitto is not installed; run scripts/install-debian-packages"
            )
        directory = Path(tempfile.mkdtemp(prefix="gridgov-mqtt-"))
        port = _free_port()
        config = directory / "mosquitto.conf"
        config.write_text(
            f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"log_dest file {directory / 'log'}\n",
            encoding="utf-8",
        )
        process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        broker = cls(directory=directory, port=port, process=process)
        broker._wait_ready()
        return broker

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerUnavailable(f"mosquitto exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerUnavailable(f"mosquitto did not listen on port {self.port}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)
