"""The appliance's devices: building drivers from its settings, running them, reporting them.

Each configured device (``appliance.json`` → ``devices``) becomes a driver
from ``drivers/<domain>/``.  Scanners and NFC readers get the sink the
composition root hands over (``Door.device_sink``: the same path as
``POST /api/v1/scans``); printers are put into the print queue's printer
table as they connect.  Outputs start before inputs, so the first badge a
reader sees already has its printer.  A device that is absent or fails is
reported, never fatal: the box keeps checking people in with whatever else
it has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from appliance.config import ApplianceConfig, DeviceConfig
from drivers.base import DeviceState, Driver, ScanEvent, ScanSink
from konferenco.types import now_ms

log = logging.getLogger(__name__)

#: (domain, kind) -> build(device, sink, appliance) for each supported device; see :func:`_builders`.
Builder = Callable[[DeviceConfig, ScanSink, ApplianceConfig], Driver]


class LanPresence:
    """Discovery as one device: this box announced on the LAN, and what it hears there.

    Announces ``_konferenco._tcp.local.`` (event, device id, API port) and
    browses for peer appliances and network printers, on the configured
    interfaces only (``drivers.discovery``).
    """

    def __init__(self, device: DeviceConfig, appliance: ApplianceConfig) -> None:
        from drivers.discovery import Advertiser, Browser, DiscoverySettings, manifest

        self.manifest = manifest
        settings = DiscoverySettings.from_dict(device.settings)
        self.advertiser = Advertiser(
            settings, event_id=appliance.events[0], device_id=appliance.device_id, role="appliance"
        )
        self.browser = Browser(settings, exclude_device_id=appliance.device_id)
        self._id = f"discovery:{appliance.device_id}"

    @property
    def unique_id(self) -> str:
        return self._id

    async def connect(self) -> None:
        await self.advertiser.connect()
        await self.browser.connect()

    async def disconnect(self) -> None:
        await self.browser.disconnect()
        await self.advertiser.disconnect()  # sends the goodbye: peers drop us at once

    def state(self) -> DeviceState:
        announced, browsing = self.advertiser.state(), self.browser.state()
        worst = announced if announced.state != "connected" else browsing
        return DeviceState(
            unique_id=self._id,
            domain="discovery",
            name="LAN discovery",
            state=worst.state,
            detail=worst.detail,
        )

    def discovered(self) -> list[Any]:
        return list(self.browser.discovered())


def _builders() -> dict[tuple[str, str], Builder]:
    """One builder per (domain, kind) the drivers' manifests declare (``drivers.registry``).

    A family is imported when its first device is built: a box without a
    scanner needs no evdev, one without NFC no pyscard.  Discovery is this
    box's own :class:`LanPresence`, which announces it with its identity.
    """
    from drivers.registry import DriverRegistry

    registry = DriverRegistry.load()

    def build(config: DeviceConfig, sink: ScanSink, appliance: ApplianceConfig) -> Driver:
        return registry.create(config.domain, config.kind, config.settings, sink, name=config.name)

    out: dict[tuple[str, str], Builder] = dict.fromkeys(registry.kinds(), build)
    out[("discovery", "")] = lambda config, sink, appliance: LanPresence(config, appliance)
    return out


#: What the manager asks the composition root for: the sink of one scanner or reader.
SinkFactory = Callable[[DeviceConfig], ScanSink]

#: Families that produce scans start last, once every output they may need is up.
_INPUTS = ("scanner", "rfid")


class DeviceManager:
    def __init__(
        self,
        appliance: ApplianceConfig,
        sink_for: SinkFactory,
        printers: dict[str, Any],
        builders: dict[tuple[str, str], Builder] | None = None,
    ) -> None:
        self.appliance = appliance
        self.configs = appliance.devices
        self.sink_for = sink_for
        self.printer_table = printers  # shared with the print queue: filled as printers connect
        self.builders = builders if builders is not None else _builders()
        self.drivers: dict[str, Driver] = {}
        self.problems: dict[str, str] = {}  # device id -> why it could not be built
        self.scans_seen: dict[str, int] = {}

    async def start(self) -> None:
        outputs_first = sorted(self.configs, key=lambda c: c.domain in _INPUTS)
        for config in outputs_first:
            builder = self.builders.get((config.domain, config.kind))
            if builder is None:
                self.problems[config.id] = f"no driver for {config.domain}/{config.kind or '(no kind)'}"
                continue
            try:
                driver = builder(config, self._sink(config), self.appliance)
                await driver.connect()
            except Exception as exc:  # bad settings, missing library: report it, run without it
                log.error("device %s could not start: %s", config.id, exc)
                self.problems[config.id] = str(exc)
                continue
            self.drivers[config.id] = driver
            if config.domain == "printer":
                self.printer_table[config.id] = driver

    async def stop(self) -> None:
        for device_id, driver in reversed(list(self.drivers.items())):
            self.printer_table.pop(device_id, None)
            try:
                await driver.disconnect()
            except Exception:
                log.exception("device %s did not stop cleanly", device_id)
        self.drivers.clear()

    def _sink(self, config: DeviceConfig) -> ScanSink:
        inner = self.sink_for(config)

        async def sink(event: ScanEvent) -> None:
            self.scans_seen[config.id] = self.scans_seen.get(config.id, 0) + 1
            await inner(event)

        return sink

    def signs(self) -> list[Driver]:
        """The signage publishers that started (the composition root gives each a feed)."""
        return [self.drivers[c.id] for c in self.configs if c.domain == "signage" and c.id in self.drivers]

    def discovered(self) -> list[Any]:
        """Peers and printers heard on the LAN, if discovery is configured."""
        found: list[Any] = []
        for driver in self.drivers.values():
            if isinstance(driver, LanPresence):
                found += driver.discovered()
        return found

    def state_of(self, config: DeviceConfig) -> DeviceState:
        driver = self.drivers.get(config.id)
        if driver is not None:
            return driver.state()
        return DeviceState(
            unique_id=config.id,
            domain=config.domain,
            name=config.name or config.id,
            state="error",
            detail=self.problems.get(config.id, "not started"),
            since=now_ms(),
        )
