"""``/api/v1/events``: events, ticket types, lists, gates, keys, attendees, the signed catalog, badges.

Handlers are thin: they open a tenant transaction (row-level security
applies) and call a service; bodies are msgspec structs, which is what the
OpenAPI schema at ``/schema/openapi.json`` is generated from.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.api.deps import DEPS, bearer, provide_principal, provide_state
from hub.catalog import events as event_service
from hub.catalog.distribution import build_bundle
from hub.catalog.keys import create_key
from hub.catalog.roster import cancel_attendee, import_attendees
from hub.catalog.search import search
from hub.devices import enrolment
from hub.peer.notices import announce_cancellation
from hub.schedule.queries import child_events
from hub.state import HubState
from hub.tenants import audit
from hub.tenants.accounts import OrgRole, Principal
from konferenco.catalog.badge_csv import BadgeRow
from konferenco.catalog.badge_csv import badge_csv as badge_csv_text
from konferenco.edge_input import INT64_MAX, Int64
from konferenco.errors import Forbidden

#: Largest attendee import accepted in one request (180,000 rows of a ticket shop export ≈ 40 MB).
MAX_IMPORT_BYTES = 128 * 1024 * 1024


class EventCreate(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    id: str | None = None
    timezone: str = "UTC"
    starts_at: Int64 = 0
    ends_at: Int64 = 0
    parent_id: str | None = None


class TicketTypeCreate(msgspec.Struct, frozen=True):
    id: str
    name: str


class CheckinListPut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    ticket_types: list[str] | None = None  # None: every ticket type of the event
    room_id: str | None = None  # a room of the schedule: who is inside on this list is in that room
    capacity: Annotated[int, msgspec.Meta(ge=1)] | None = None  # when the room has none


class GatePut(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    default_list: str


@get("/api/v1/events", dependencies=DEPS)
async def list_events(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal]
) -> list[dict[str, Any]]:
    async with hub.db.tenant(principal.org_id) as conn:
        return [_event_body(e) for e in await event_service.list_events(conn)]


@post("/api/v1/events", dependencies=DEPS, status_code=201)
async def create_event(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], data: JSONBody[EventCreate]
) -> dict[str, Any]:
    async with hub.db.tenant(principal.org_id) as conn:
        event_id = await event_service.create_event(
            conn,
            hub.sealer,
            principal,
            data.name,
            timezone=data.timezone,
            starts_at=data.starts_at,
            ends_at=data.ends_at,
            parent_id=data.parent_id,
            event_id=data.id,
        )
        event = await event_service.get_event(conn, event_id)
    return _event_body(event)


def _event_body(event: event_service.EventRow) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "timezone": event.timezone,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "parent_id": event.parent_id,
        "catalog_revision": event.catalog_revision,
        "kind": event.kind,
    }


@get(
    "/api/v1/events/{event_id:str}",
    dependencies=DEPS,
    summary="An event, with its grassroots child events (`children`: approved grassroots sessions)",
)
async def get_event(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> dict[str, Any]:
    async with hub.db.tenant(principal.org_id) as conn:
        body = _event_body(await event_service.get_event(conn, event_id))
        body["children"] = msgspec.to_builtins(await child_events(conn, event_id))
    return body


@post("/api/v1/events/{event_id:str}/ticket-types", dependencies=DEPS, status_code=201)
async def add_ticket_type(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    data: JSONBody[TicketTypeCreate],
) -> dict[str, str]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.add_ticket_type(conn, principal, event_id, data.id, data.name)
        return await event_service.ticket_types(conn, event_id)


@post(
    "/api/v1/events/{event_id:str}/lists",
    dependencies=DEPS,
    status_code=201,
    summary="Add or change a check-in list",
)
async def put_list(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    data: JSONBody[CheckinListPut],
) -> dict[str, Any]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.put_list(
            conn,
            principal,
            event_id,
            data.id,
            data.name,
            data.ticket_types,
            room_id=data.room_id,
            capacity=data.capacity,
        )
        return _event_body(await event_service.get_event(conn, event_id))


@post(
    "/api/v1/events/{event_id:str}/gates", dependencies=DEPS, status_code=201, summary="Add or change a gate"
)
async def put_gate(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    data: JSONBody[GatePut],
) -> dict[str, Any]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.put_gate(conn, principal, event_id, data.id, data.name, data.default_list)
        return _event_body(await event_service.get_event(conn, event_id))


@post(
    "/api/v1/events/{event_id:str}/keys", dependencies=DEPS, status_code=201, summary="Rotate the badge key"
)
async def rotate_key(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> dict[str, str]:
    principal.require(OrgRole.ORGANIZER)
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        kid = await create_key(conn, hub.sealer, principal.org_id, event_id)
    return {"kid": kid}


@post(
    "/api/v1/events/{event_id:str}/attendees/import",
    dependencies=DEPS,
    status_code=200,
    request_max_body_size=MAX_IMPORT_BYTES,
    summary="Import attendees (CSV or JSON body); all or nothing, with a per-row report",
)
async def import_roster(
    request: Request[Any, Any, Any],
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    format: Annotated[Literal["csv", "json"], QueryParameter()] = "csv",
    ticket_type: Annotated[str | None, QueryParameter()] = None,
) -> dict[str, Any]:
    body = await request.body()
    async with hub.db.tenant(principal.org_id) as conn:
        result = await import_attendees(
            conn, hub.sealer, principal, event_id, body, format, default_ticket_type=ticket_type
        )
        # In the import's own transaction, as the console's upload does.
        details = {"rows": result.rows, "added": result.added, "updated": result.updated, "via": "api"}
        await audit.record(
            conn, principal, "catalog.import", f"{format} body", event_id=event_id, details=details
        )
    return {
        "rows": result.rows,
        "added": result.added,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "revision": result.revision,
    }


@get("/api/v1/events/{event_id:str}/attendees", dependencies=DEPS)
async def search_attendees(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    q: Annotated[str, QueryParameter()] = "",
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        return await search(conn, event_id, q, limit)


@post(
    "/api/v1/events/{event_id:str}/attendees/{attendee_id:str}/cancel",
    dependencies=DEPS,
    status_code=200,
    summary="Cancel a ticket: its badge is refused at every door",
)
async def cancel(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    attendee_id: FromPath[str],
) -> dict[str, str]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        changed = await cancel_attendee(conn, principal, event_id, attendee_id)
    if changed:
        await announce_cancellation(hub, event_id, attendee_id, principal.account_id)
    return {"attendee_id": attendee_id, "status": "cancelled"}


@get(
    "/api/v1/events/{event_id:str}/catalog",
    summary="Signed catalog bundle (snapshot, or delta with ?since=REV) for appliances",
    dependencies={"hub": Provide(provide_state)},
    responses={
        200: ResponseSpec(data_container=dict[str, Any], description="the signed catalog bundle (JSON)"),
        304: ResponseSpec(data_container=None, description="`since` is the current revision: nothing new"),
    },
)
async def get_catalog(
    request: Request[Any, Any, Any],
    hub: NamedDependency[HubState],
    event_id: FromPath[str],
    since: Annotated[int | None, QueryParameter(ge=0, le=INT64_MAX)] = None,
) -> Response[bytes]:
    token = bearer(request) or ""
    if token.startswith(enrolment.CREDENTIAL_PREFIX):
        identity, org_id = await hub.devices.device(token)
        if not identity.in_event(event_id):
            raise Forbidden(f"this device is enrolled for event {identity.events[0]}, not {event_id}")
    else:
        principal = await provide_principal(request)
        org_id = principal.org_id
    async with hub.db.tenant(org_id) as conn:
        current = (await event_service.get_event(conn, event_id)).catalog_revision
        if since is not None and since == current:  # the common poll: nothing to send
            return Response(b"", status_code=304, headers={"X-Catalog-Revision": str(current)})
        body, revision = await build_bundle(conn, hub.secrets.catalog_key, event_id, since)
    return Response(
        body,
        media_type="application/json",
        headers={"X-Catalog-Revision": str(revision), "Cache-Control": "no-store"},
    )


@get(
    "/api/v1/events/{event_id:str}/badges.csv",
    dependencies=DEPS,
    summary="Badge codes for printing elsewhere (the appliance's columns: attendee_id, badge_code, name, …)",
    media_type="text/csv",
)
async def export_badges(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> Response[str]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        text_ = await badge_csv(conn, event_id)
    return Response(
        text_,
        media_type="text/csv",  # Litestar adds "; charset=utf-8"
        headers={"Content-Disposition": f'attachment; filename="{event_id}-badges.csv"'},
    )


async def badge_csv(conn: AsyncConnection, event_id: str) -> str:
    """Every badge, in the format the appliance writes too (:mod:`konferenco.catalog.badge_csv`)."""
    rows = await conn.execute(
        text(
            "SELECT a.id, a.badge_code, a.name, a.company, coalesce(t.name, a.ticket_type_id) AS ticket_type,"
            " a.order_ref, a.nfc_uid, a.status"
            " FROM attendee a LEFT JOIN ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id"
            " WHERE a.event_id = :e ORDER BY a.name, a.id"
        ),
        {"e": event_id},
    )
    return badge_csv_text(BadgeRow(*r) for r in rows)


ROUTES = [
    list_events,
    create_event,
    get_event,
    add_ticket_type,
    put_list,
    put_gate,
    rotate_key,
    import_roster,
    search_attendees,
    cancel,
    get_catalog,
    export_badges,
]
