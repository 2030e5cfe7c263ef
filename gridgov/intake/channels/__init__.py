"""Channel adapters and their registry; ours are registered exactly as a third party's would be."""

from __future__ import annotations

import re

from gridgov.core.errors import InvalidInput
from gridgov.intake.channels.base import ChannelAdapter
from gridgov.intake.channels.citizen_app import CitizenApp
from gridgov.intake.channels.city_management import CityManagement
from gridgov.intake.channels.civilization import Civilization
from gridgov.intake.channels.grid_patrol import GridPatrol
from gridgov.intake.channels.heating import Heating
from gridgov.intake.channels.hotline_12345 import Hotline12345
from gridgov.intake.channels.iot_sensor import IotSensor
from gridgov.intake.channels.police_110 import Police110

__all__ = ["ChannelAdapter", "ChannelRegistry", "adapter", "adapters", "register"]

_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


class ChannelRegistry:
    """Adapters by channel name."""

    def __init__(self) -> None:
        self._adapters: dict[str, ChannelAdapter] = {}

    def register(self, adapter: ChannelAdapter) -> ChannelAdapter:
        if not isinstance(adapter, ChannelAdapter):
            raise TypeError(f"{adapter!r} lacks name, label_zh or parse")
        if not _NAME.fullmatch(adapter.name):
            raise ValueError(f"channel name {adapter.name!r}: lower-case letters, digits and _")
        known = self._adapters.get(adapter.name)
        if known is not None and known is not adapter:
            raise ValueError(f"channel {adapter.name!r} is already registered to {known!r}")
        self._adapters[adapter.name] = adapter
        return adapter

    def adapter(self, name: str) -> ChannelAdapter:
        found = self._adapters.get(name)
        if found is None:
            known = ", ".join(sorted(self._adapters))
            raise InvalidInput("channel", f"unknown channel {name!r}; known channels: {known}")
        return found

    def adapters(self) -> tuple[ChannelAdapter, ...]:
        return tuple(self._adapters.values())


_registry = ChannelRegistry()
register = _registry.register
adapter = _registry.adapter
adapters = _registry.adapters

for _builtin in (
    Hotline12345(),
    Police110(),
    CityManagement(),
    Civilization(),
    Heating(),
    CitizenApp(),
    GridPatrol(),
    IotSensor(),
):
    register(_builtin)
