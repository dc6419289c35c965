"""Enrolment and devices: one-time tokens, the exchange for a credential, rolling and revoking."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody

from hub.api.deps import DEPS, bearer, provide_state
from hub.catalog import events as event_service
from hub.devices import enrolment
from hub.peer import presence
from hub.peer.notices import announce_revocation
from hub.state import HubState
from hub.tenants.accounts import Principal
from konferenco.errors import Unauthorized


class EnrolmentCreate(msgspec.Struct, frozen=True, kw_only=True):
    capabilities: list[str]
    name: str = ""
    ttl_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 30)] = 24


@post("/api/v1/events/{event_id:str}/enrolments", dependencies=DEPS, status_code=201)
async def create_enrolment(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    data: JSONBody[EnrolmentCreate],
) -> enrolment.Enrolment:
    async with hub.db.tenant(principal.org_id) as conn:
        return await enrolment.create_enrolment(
            conn,
            principal,
            event_id,
            data.capabilities,
            hub.settings.public_url,
            name=data.name,
            ttl=dt.timedelta(hours=data.ttl_hours),
        )


@post(
    "/api/v1/enrol",
    summary="A device exchanges its one-time enrolment token",
    status_code=201,
    dependencies={"hub": Provide(provide_state)},
)
async def enrol(hub: NamedDependency[HubState], data: JSONBody[enrolment.EnrolRequest]) -> enrolment.Grant:
    return await enrolment.redeem(hub.db, hub.sealer, hub.catalog_public_key, data)


@post(
    "/api/v1/device/credential",
    summary="A device rolls its own credential",
    status_code=201,
    dependencies={"hub": Provide(provide_state)},
)
async def roll_credential(request: Request[Any, Any, Any], hub: NamedDependency[HubState]) -> dict[str, str]:
    token = bearer(request)
    if not token:
        raise Unauthorized("send the current credential as Authorization: Bearer kd1_…")
    return {"credential": await enrolment.roll_credential(hub.db, token)}


@get("/api/v1/events/{event_id:str}/devices", dependencies=DEPS)
async def list_devices(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> list[dict[str, Any]]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        devices = await enrolment.list_devices(conn, event_id)
    return await device_bodies(hub, event_id, devices)


async def device_bodies(
    hub: HubState, event_id: str, devices: list[enrolment.DeviceRow]
) -> list[dict[str, Any]]:
    """Devices with their sync state as all workers see it (``hub.peer.presence``)."""
    ids = [d.id for d in devices]
    pending: dict[str, int] = {}
    online: set[str] = set()
    if hub.pool is not None and ids:
        pending = await presence.unacknowledged(hub.pool, event_id, ids)
        online = await presence.connected(hub.pool, ids)
    out = []
    for device in devices:
        body: dict[str, Any] = msgspec.structs.asdict(device)
        body["unacknowledged"] = pending.get(device.id, 0)
        body["connected"] = device.id in online
        out.append(body)
    return out


@post("/api/v1/devices/{device_id:str}/revoke", dependencies=DEPS, status_code=200)
async def revoke_device(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], device_id: FromPath[str]
) -> dict[str, str]:
    async with hub.db.tenant(principal.org_id) as conn:
        event_id = await enrolment.revoke_device(conn, principal, device_id)
    await announce_revocation(hub, event_id, device_id, principal.account_id)
    return {"device_id": device_id, "status": "revoked"}


ROUTES = [create_enrolment, enrol, roll_credential, list_devices, revoke_device]
