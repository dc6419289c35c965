"""Devices and badge printing: what is attached, and the print queue staff work with."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get
from litestar.di import NamedDependency

from appliance.config import ApplianceConfig
from appliance.devices.manager import DeviceManager
from appliance.staff.guard import ALL_ROLES, roles
from appliance.staff.service import StaffRole
from drivers.base import DeviceState

DESK = (StaffRole.DESK, StaffRole.KIOSK, StaffRole.ORGANIZER)


class DeviceView(msgspec.Struct, kw_only=True):
    id: str
    domain: str
    kind: str
    name: str
    gate: str | None
    state: DeviceState
    scans: int = 0


def devices_of(config_: ApplianceConfig, manager: DeviceManager | None) -> list[DeviceView]:
    out = []
    for config in config_.devices:
        out.append(
            DeviceView(
                id=config.id,
                domain=config.domain,
                kind=config.kind,
                name=config.name or config.id,
                gate=config.gate,
                state=manager.state_of(config)
                if manager
                else DeviceState(
                    unique_id=config.id,
                    domain=config.domain,
                    name=config.name or config.id,
                    state="unknown",
                    detail="the appliance is not serving",
                ),
                scans=manager.scans_seen.get(config.id, 0) if manager else 0,
            )
        )
    return out


@get("/api/v1/devices", summary="Configured devices and their state", tags=["devices"], opt=roles(*ALL_ROLES))
async def list_devices(
    config: NamedDependency[ApplianceConfig], devices: NamedDependency[DeviceManager]
) -> list[DeviceView]:
    return devices_of(config, devices)


@get(
    "/api/v1/devices/discovered",
    summary="Peer appliances and network printers heard on the LAN (zeroconf)",
    tags=["devices"],
    opt=roles(*ALL_ROLES),
)
async def discovered(devices: NamedDependency[DeviceManager]) -> list[Any]:
    return devices.discovered()


ROUTES = [list_devices, discovered]
