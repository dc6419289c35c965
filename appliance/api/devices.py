"""Devices and badge printing: what is attached, and the print queue staff work with."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from appliance.api.auth import ALL_ROLES, roles
from appliance.box import EventScope
from appliance.checkin.service import CheckinService
from appliance.config import ApplianceConfig
from appliance.desk import require_attendee
from appliance.devices import DeviceManager
from appliance.printing.queue import PrintError, PrintJob, PrintQueue
from appliance.staff import StaffRole
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


class PrintRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    attendee_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    printer: str | None = None  # default: the first printer configured
    event: str | None = None


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


def _queue(prints: NamedDependency[PrintQueue]) -> PrintQueue:
    if not prints.printers:
        raise PrintError("no_printer", "no printer is configured on this appliance")
    return prints


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


@get("/api/v1/print-jobs", summary="Badge print jobs, newest first", tags=["printing"], opt=roles(*ALL_ROLES))
async def list_print_jobs(
    prints: NamedDependency[PrintQueue], status: FromQuery[str | None] = None
) -> list[PrintJob]:
    return _queue(prints).jobs(status)


@post(
    "/api/v1/print-jobs",
    summary="Print an attendee's badge",
    tags=["printing"],
    status_code=202,
    opt=roles(*DESK),
)
async def create_print_job(
    data: JSONBody[PrintRequest],
    prints: NamedDependency[PrintQueue],
    checkin: NamedDependency[CheckinService],
    events: NamedDependency[EventScope],
) -> PrintJob:
    queue = _queue(prints)
    event = events.resolve(data.event)
    require_attendee(checkin.conn, event, data.attendee_id)
    printer = data.printer or next(iter(queue.printers))
    job = await queue.enqueue(event, data.attendee_id, printer, "request")
    assert job is not None
    return job


@post(
    "/api/v1/print-jobs/{job_id:str}/reprint",
    summary="Print a finished job's badge again (a new job)",
    tags=["printing"],
    status_code=202,
    opt=roles(*DESK),
)
async def reprint(job_id: FromPath[str], prints: NamedDependency[PrintQueue]) -> PrintJob:
    return await _queue(prints).reprint(job_id)


@post(
    "/api/v1/print-jobs/{job_id:str}/cancel",
    summary="Cancel a job that is still waiting",
    tags=["printing"],
    status_code=200,
    opt=roles(*DESK),
)
async def cancel(job_id: FromPath[str], prints: NamedDependency[PrintQueue]) -> PrintJob:
    return await _queue(prints).cancel(job_id)


ROUTES = [list_devices, discovered, list_print_jobs, create_print_job, reprint, cancel]
