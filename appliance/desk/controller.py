"""Attendee search, walk-in registration and roster corrections."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from appliance.checkin.service import CheckinService
from appliance.checkin.structs import AttendeeView
from appliance.config import EventScope
from appliance.desk.record import AttendeeRecord, attendee_record
from appliance.desk.service import (
    Amend,
    Desk,
    LinkTag,
    RevokeRequest,
    WalkInAnswer,
    WalkInRequest,
    find_attendees,
    require_attendee,
)
from appliance.read_pool import ReadPool
from appliance.staff.guard import roles, staff_of
from appliance.staff.service import StaffRole


@get(
    "/api/v1/attendees",
    summary="Search attendees by name, company, e-mail or order (2+ letters, diacritics ignored)",
    description=(
        "Ranked by relevance, then name. `matches` counts every match; above 10,000 (a query such as "
        "`ord` that every order code matches) the answer is the first `limit` matches by name, "
        "unranked (`ranked: false`): type more to narrow it."
    ),
    tags=["desk"],
    opt=roles(StaffRole.DESK, StaffRole.KIOSK),
)
async def search_attendees(
    request: Request[Any, Any, Any],
    q: Annotated[str, QueryParameter(max_length=200)],
    events: NamedDependency[EventScope],
    reads: NamedDependency[ReadPool],
    limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
    event: FromQuery[str | None] = None,
) -> dict[str, Any]:
    event_id = events.resolve(event)
    private = staff_of(request).role != StaffRole.KIOSK  # a kiosk shows no e-mail or order to the public
    async with reads.connection() as conn:
        found = await find_attendees(conn, event_id, q, limit=limit, private=private)
    return {
        "event": event_id,
        "query": q,
        "count": len(found.hits),
        "matches": found.matches,
        "ranked": found.ranked,
        "attendees": found.hits,
    }


@get("/api/v1/attendees/{attendee_id:str}", summary="One attendee", tags=["desk"], opt=roles(StaffRole.DESK))
async def get_attendee(
    attendee_id: FromPath[str],
    checkin: NamedDependency[CheckinService],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> AttendeeView:
    event_id = events.resolve(event)
    require_attendee(checkin.conn, event_id, attendee_id)
    return checkin.attendee_view(event_id, attendee_id)


@get(
    "/api/v1/attendees/{attendee_id:str}/record",
    summary="One attendee's whole record: tickets, check-ins on every device, prints, corrections",
    description=(
        "What the help desk reads to answer an attendee: the roster entry (with e-mail, order and "
        "NFC tags), every check-in of every device this appliance has synced (newest first, annulled "
        "ones marked), badge print jobs made here (with the reason of a reprint), the organizers' "
        "corrections, duplicate admissions and revocations. Lists hold at most 200 entries each."
    ),
    tags=["desk"],
    opt=roles(StaffRole.DESK),
)
async def get_attendee_record(
    attendee_id: FromPath[str],
    events: NamedDependency[EventScope],
    reads: NamedDependency[ReadPool],
    event: FromQuery[str | None] = None,
) -> AttendeeRecord:
    event_id = events.resolve(event)
    async with reads.connection() as conn:
        return await attendee_record(conn, event_id, attendee_id)


@post(
    "/api/v1/attendees",
    summary="Register a walk-in and sign their badge",
    tags=["desk"],
    opt=roles(StaffRole.DESK),
)
async def register_walk_in(
    request: Request[Any, Any, Any],
    data: JSONBody[WalkInRequest],
    desk: NamedDependency[Desk],
    checkin: NamedDependency[CheckinService],
    events: NamedDependency[EventScope],
) -> WalkInAnswer:
    return await desk.walk_in(checkin.conn, events.resolve(data.event), data, staff_of(request).sub)


@patch(
    "/api/v1/attendees/{attendee_id:str}",
    summary="Correct an attendee's name, company or e-mail (organizer-capable appliance)",
    tags=["desk"],
    opt=roles(StaffRole.DESK),
)
async def amend_attendee(
    request: Request[Any, Any, Any],
    attendee_id: FromPath[str],
    data: JSONBody[Amend],
    desk: NamedDependency[Desk],
    checkin: NamedDependency[CheckinService],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> AttendeeView:
    event_id = events.resolve(event)
    await desk.amend(checkin.conn, event_id, attendee_id, data, staff_of(request).sub)
    return checkin.attendee_view(event_id, attendee_id)


@post(
    "/api/v1/attendees/{attendee_id:str}/tag",
    summary="Hand an NFC tag (wristband, card) to an attendee",
    tags=["desk"],
    status_code=200,
    opt=roles(StaffRole.DESK),
)
async def link_tag(
    request: Request[Any, Any, Any],
    attendee_id: FromPath[str],
    data: JSONBody[LinkTag],
    desk: NamedDependency[Desk],
    checkin: NamedDependency[CheckinService],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> AttendeeView:
    event_id = events.resolve(event)
    await desk.link_tag(checkin.conn, event_id, attendee_id, data, staff_of(request).sub)
    return checkin.attendee_view(event_id, attendee_id)


class Revoked(msgspec.Struct):
    id: str
    target: str
    value: str
    at: int


@post(
    "/api/v1/revocations",
    summary="Revoke a badge (attendee:serial), an attendee or a signing key, on every appliance",
    tags=["check-in"],
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
)
async def revoke(
    request: Request[Any, Any, Any],
    data: JSONBody[RevokeRequest],
    desk: NamedDependency[Desk],
    events: NamedDependency[EventScope],
) -> Revoked:
    record = await desk.revoke(events.resolve(data.event), data, staff_of(request).sub)
    return Revoked(record.id, record.target, record.value, record.at)


ROUTES = [
    search_attendees,
    get_attendee,
    get_attendee_record,
    register_walk_in,
    amend_attendee,
    link_tag,
    revoke,
]
