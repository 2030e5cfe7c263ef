"""`gridgov sensors`: the MQTT bridge for IoT sensors."""

from __future__ import annotations

import click

from gridgov.api.mqtt import TOPIC, SensorBridge
from gridgov.cli.common import reports_errors, runtime_from


@click.group()
def sensors() -> None:
    """物联感知 · IoT sensors: readings over MQTT become reports."""


@sensors.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="MQTT broker address.")
@click.option("--port", type=int, default=1883, show_default=True, help="MQTT broker port.")
@click.option("--topic", default=TOPIC, show_default=True, help="Topic filter to subscribe to.")
@click.pass_context
@reports_errors
def listen(ctx: click.Context, host: str, port: int, topic: str) -> None:
    """Subscribe to sensor readings and turn threshold crossings into reports (runs until stopped)."""
    bridge = SensorBridge(runtime_from(ctx).intake, host=host, port=port, topic=topic)
    click.echo(f"订阅 / listening on mqtt://{host}:{port}/{topic}")
    try:
        bridge.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        c = bridge.counts
        click.echo(
            f"消息 messages {c.messages:,} · 上报 reports {c.reports:,} · 拒收 rejected {c.rejected:,}"
        )
