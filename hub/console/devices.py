"""An event's devices: the list with live status, enrolling a new one (QR code), revoking one."""

from __future__ import annotations

import datetime as dt
import shlex
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from hub.api.devices import device_bodies
from hub.console.auth import OrgAccess, is_htmx
from hub.console.event import EVENT, base_context, event_scope
from hub.console.render import qr_svg, render, see_other
from hub.devices import enrolment
from hub.devices.refusals import recent_refusals
from hub.peer.notices import announce_revocation
from hub.state import state_of
from konferenco.errors import KonferencoError, NotFound
from sync.permissions import Capability

#: How long an enrolment token may wait for its device, as offered in the form (hours).
TTL_CHOICES = (1, 24, 72, 168)
CAPABILITY_HELP = {
    "scanner": "checks badges in at a door",
    "kiosk": "self-service check-in and walk-in registration",
    "printer": "prints badges",
    "organizer": "may change the schedule and settings on site",
}


def enrol_command(hub_url: str, token: str) -> str:
    """What a technician types on the appliance (DIR: its empty data folder)."""
    return f"konferenco appliance enroll --data DIR --hub {shlex.quote(hub_url)} --token {shlex.quote(token)}"


async def _devices_context(request: Request[Any, Any, Any], access: OrgAccess, event: str) -> dict[str, Any]:
    state = state_of(request)
    async with event_scope(request, access, event) as (conn, row):
        listed = await enrolment.list_devices(conn, row.id)
        refusals = await recent_refusals(conn, row.id)
    devices = await device_bodies(state, row.id, listed)
    return {
        **base_context(access, row, "devices"),
        "devices": devices,
        "refusals": refusals,
        "capabilities": [c.value for c in Capability],
        "capability_help": CAPABILITY_HELP,
        "ttl_choices": TTL_CHOICES,
        "form": {"name": "", "capabilities": ["scanner"], "ttl_hours": 24},
    }


@get(f"{EVENT}/devices", include_in_schema=False)
async def devices_page(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    return render("event/devices.html", await _devices_context(request, access, event))


@get(f"{EVENT}/devices/rows", include_in_schema=False)
async def device_rows(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    """The table's rows alone: the page polls them, so 'online' and 'last seen' stay current."""
    return render("partials/device_rows.html", await _devices_context(request, access, event))


@post(f"{EVENT}/enrolments", include_in_schema=False, status_code=201)
async def enrol(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    """A one-time enrolment token, shown as a QR code, as text and as the command to type."""
    access.require_editor()
    state = state_of(request)
    form = await request.form()
    capabilities = [c for c in form.getall("capabilities", []) if isinstance(c, str)]
    name_value = form.get("name", "")
    name = name_value.strip() if isinstance(name_value, str) else ""
    try:
        ttl_hours = int(form.get("ttl_hours", 24))
    except (TypeError, ValueError):
        ttl_hours = 24
    ttl_hours = min(max(ttl_hours, 1), 24 * 30)
    outcome: dict[str, Any] = {}
    status = 201
    try:
        async with event_scope(request, access, event) as (conn, row):
            created = await enrolment.create_enrolment(
                conn,
                access.principal,
                row.id,
                capabilities,
                state.settings.public_url,
                name=name[:100],
                ttl=dt.timedelta(hours=ttl_hours),
            )
        outcome = {
            "enrolment": created,
            "name": name,
            "qr": qr_svg(created.uri),
            "command": enrol_command(state.settings.public_url, created.token),
        }
    except KonferencoError as exc:
        if exc.status in (403, 404):
            raise
        outcome = {"error": exc.message}
        status = exc.status
    if is_htmx(request):
        context = {**base_context(access, row, "devices"), "outcome": outcome}
        return render("partials/enrolment.html", context, status=status)
    context = await _devices_context(request, access, event)
    if "error" in outcome:
        context["form"] = {"name": name, "capabilities": capabilities, "ttl_hours": ttl_hours}
    return render("event/devices.html", {**context, "outcome": outcome}, status=status)


@post(f"{EVENT}/devices/{{device:str}}/revoke", include_in_schema=False, status_code=200)
async def revoke(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    device: FromPath[str],
) -> Response[Any]:
    """Revoke a device: refused from its next connection, disconnected now, announced to the venue."""
    access.require_editor()
    state = state_of(request)
    async with event_scope(request, access, event) as (conn, row):
        if not any(d.id == device for d in await enrolment.list_devices(conn, row.id)):
            raise NotFound(f"no device {device!r} in event {row.name}")
        await enrolment.revoke_device(conn, access.principal, device)
    await announce_revocation(state, row.id, device, access.principal.account_id)
    if not is_htmx(request):
        return see_other(f"/console/{access.membership.slug}/events/{row.id}/devices")
    async with event_scope(request, access, event) as (conn, row):
        current = next(d for d in await enrolment.list_devices(conn, row.id) if d.id == device)
    (body,) = await device_bodies(state, row.id, [current])
    context = {**base_context(access, row, "devices"), "device": body}
    return render("partials/device_row.html", context)


DEVICE_ROUTES = [devices_page, device_rows, enrol, revoke]
