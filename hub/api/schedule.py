"""``/api/v1/events/{event_id}/…``: the schedule on the hub — rooms, sessions, rules, slots, import, exports.

Thin handlers over :mod:`hub.schedule.service`, which checks that the
caller's organization owns the event (row-level security) and writes
through the same edit layer as an organizer appliance.  Reads need a member
of the organization (any role); writes the organizer role.  The exports are
also served without signing in once the organizer published the schedule
(``settings.public``), because conference apps fetch ``schedule.xml``
anonymously.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal

from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from hub.api.deps import DEPS, bearer, provide_principal, provide_state
from hub.api.schedule_bodies import (
    FindingsView,
    ImportAnswer,
    OccupancyAnswer,
    RoomBody,
    RoomList,
    RoomView,
    ScheduleAnswer,
    SessionAnswer,
    SessionBody,
    SessionView,
    SettingsAnswer,
    SettingsBody,
    SlotList,
    room_view,
    session_view,
    settings_view,
)
from hub.schedule import service
from hub.state import HubState
from hub.tenants.accounts import Principal
from konferenco.errors import Invalid
from konferenco.schedule.bodies import query_moment, query_words
from konferenco.schedule.model import MINUTE, ScheduleSettings
from konferenco.schedule.rules import DEFAULT_SEVERITY, FIXED
from konferenco.schedule.slots import SlotQuery
from konferenco.types import new_id, now_ms

TAGS = ["schedule"]
_EVENT = "/api/v1/events/{event_id:str}"
_DOC = "/api/v1/events/{event_id}"
#: The largest schedule file accepted (the biggest real exports are a few MB; 5,000 sessions ≈ 10 MB).
MAX_SCHEDULE_BYTES = 20 * 1024 * 1024

#: The specific error codes of each route, for the OpenAPI document (merged in ``hub.api.errors``).
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    f"GET {_DOC}/schedule": ("invalid",),
    f"GET {_DOC}/rooms/{{room_id}}": ("unknown_room",),
    f"PUT {_DOC}/rooms/{{room_id}}": ("invalid",),
    f"DELETE {_DOC}/rooms/{{room_id}}": ("unknown_room", "conflict"),
    f"POST {_DOC}/sessions": ("invalid", "schedule_conflict"),
    f"GET {_DOC}/sessions/{{session_id}}": ("unknown_session",),
    f"PUT {_DOC}/sessions/{{session_id}}": ("unknown_session", "invalid", "schedule_conflict"),
    f"DELETE {_DOC}/sessions/{{session_id}}": ("unknown_session", "conflict"),
    f"POST {_DOC}/sessions/{{session_id}}/cancel": ("unknown_session",),
    f"GET {_DOC}/slots": ("invalid",),
    f"PUT {_DOC}/schedule/settings": ("invalid",),
    f"POST {_DOC}/schedule/import": ("invalid", "schedule_rejected", "schedule_conflict"),
    f"GET {_DOC}/schedule.ics": ("unauthorized", "forbidden"),
    f"GET {_DOC}/schedule.xml": ("unauthorized", "forbidden"),
    f"GET {_DOC}/schedule.json": ("unauthorized", "forbidden"),
}

_EDIT_RULES = (
    "Checked by the schedule's rules: a `block` finding refuses the change with `409 schedule_conflict` "
    "(`details.findings`, each with its sentence) and nothing is written; `warn` findings come back in "
    "`warnings`. Two sessions in one room at once always block, unless `overlap_reason` approves that "
    "overlap explicitly: the approval is recorded on the session with the organizer's e-mail."
)


# --- the schedule ------------------------------------------------------------------------------


@get(
    f"{_EVENT}/schedule",
    dependencies=DEPS,
    tags=TAGS,
    summary="The event's schedule: rooms, sessions, settings, findings and grassroots conflicts",
    description=(
        "`day` (YYYY-MM-DD, in the event's time zone) keeps the sessions that take place on that day; "
        "`days` lists the event's days. Cancelled sessions are in it with `status: cancelled`; the "
        "titles and descriptions are as grassroots hosts edited them at a kiosk."
    ),
)
async def get_schedule(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    day: Annotated[str | None, QueryParameter(max_length=10)] = None,
) -> ScheduleAnswer:
    view = await service.schedule_view(hub, principal, event_id, day=day)
    return ScheduleAnswer(
        event=event_id,
        frame=view.frame,
        day=view.day,
        days=view.days,
        rooms=[room_view(r) for r in view.rooms],
        sessions=[session_view(s) for s in view.sessions],
        settings=settings_view(view.settings),
        findings=view.findings,
        conflicts=view.conflicts,
    )


@get(
    f"{_EVENT}/schedule/findings",
    dependencies=DEPS,
    tags=TAGS,
    summary="Every current finding of the rules, and the grassroots decisions that conflict",
    description=(
        "Double bookings, short changeovers, speakers in two places, closed or too small rooms "
        "(`findings`: rule, severity, sessions, sentence), and grassroots decisions made on a replica "
        "that could not see an earlier one (`conflicts`: decided twice, slot already taken). Nothing "
        "is moved or dropped automatically."
    ),
)
async def get_findings(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> FindingsView:
    found, conflicts = await service.findings(hub, principal, event_id)
    return FindingsView(
        event=event_id,
        count=len(found),
        blocking=sum(1 for f in found if f.severity == "block"),
        findings=found,
        conflicts=conflicts,
    )


def _settings_answer(event_id: str, settings: ScheduleSettings) -> SettingsAnswer:
    return SettingsAnswer(
        event=event_id, settings=settings_view(settings), rules=dict(DEFAULT_SEVERITY), fixed=sorted(FIXED)
    )


@get(
    f"{_EVENT}/schedule/settings",
    dependencies=DEPS,
    tags=TAGS,
    summary="The schedule settings: severity per rule, grassroots proposals, published or not",
)
async def get_settings(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> SettingsAnswer:
    return _settings_answer(event_id, await service.schedule_settings(hub, principal, event_id))


@put(
    f"{_EVENT}/schedule/settings",
    dependencies=DEPS,
    tags=TAGS,
    summary="Change the schedule settings (organizer)",
    description=(
        "Replaces the settings. `severities` sets `block`, `warn` or `ignore` per rule (listed by `GET`); "
        "`room_overlap` and `bad_time` always block. `grassroots` turns proposals on and bounds them "
        "(window, rooms, durations, open proposals per attendee). `public: true` publishes the schedule: "
        "the exports are then served without signing in."
    ),
)
async def put_settings(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    data: JSONBody[SettingsBody],
) -> SettingsAnswer:
    return _settings_answer(event_id, await service.save_settings(hub, principal, event_id, data.settings()))


@get(
    f"{_EVENT}/schedule/occupancy",
    dependencies=DEPS,
    tags=TAGS,
    summary="How full each room is now, with the session on in it",
    description=(
        "Per room: the session on now (null between sessions), how many are inside (check-in lists tied "
        "to the room: `room_id` of a list), the capacity (the room's, else its list's), the fill ratio "
        "and `open`, `nearly_full` (from 90 %), `full` or `unknown` (no capacity)."
    ),
)
async def get_occupancy(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> OccupancyAnswer:
    at = now_ms()
    return OccupancyAnswer(
        event=event_id, at=at, rooms=await service.occupancy(hub, principal, event_id, at=at)
    )


@get(
    f"{_EVENT}/slots",
    dependencies=DEPS,
    tags=TAGS,
    summary="Free slots for a session, ranked, each passing every blocking rule",
    description=(
        "`duration` in minutes; `from`/`to` in ms or ISO date-times (no offset: the event's zone); "
        "`features` and `rooms` as comma-separated lists; `grassroots=true` keeps rooms open to "
        "grassroots sessions. Ranked by fit of capacity, then least fragmentation, then the earliest; "
        "each slot carries its `warn` findings."
    ),
)
async def get_slots(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    duration: Annotated[int, QueryParameter(ge=5, le=24 * 60)],
    attendance: Annotated[int | None, QueryParameter(ge=0, le=1_000_000)] = None,
    from_: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
    to: Annotated[str | None, QueryParameter(max_length=40)] = None,
    features: Annotated[str | None, QueryParameter(max_length=500)] = None,
    rooms: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    grassroots: FromQuery[bool] = False,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
) -> SlotList:
    frame = await service.event_frame(hub, principal, event_id)
    query = SlotQuery(
        duration_ms=duration * MINUTE,
        attendance=attendance,
        window_from=query_moment(from_, frame.zone, "from"),
        window_to=query_moment(to, frame.zone, "to"),
        features=tuple(query_words(features)),
        rooms=tuple(query_words(rooms)),
        grassroots=grassroots,
        limit=limit,
    )
    return SlotList(event=event_id, slots=await service.slots(hub, principal, event_id, query))


# --- rooms -------------------------------------------------------------------------------------


@get(f"{_EVENT}/rooms", dependencies=DEPS, tags=TAGS, summary="The event's rooms, by position and name")
async def list_rooms(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> RoomList:
    view = await service.schedule_view(hub, principal, event_id)
    return RoomList(event=event_id, rooms=[room_view(r) for r in view.rooms])


@get(f"{_EVENT}/rooms/{{room_id:str}}", dependencies=DEPS, tags=TAGS, summary="One room")
async def get_room(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    room_id: FromPath[str],
) -> RoomView:
    return room_view(await service.get_room(hub, principal, event_id, room_id))


@put(
    f"{_EVENT}/rooms/{{room_id:str}}",
    dependencies=DEPS,
    tags=TAGS,
    summary="Create or change a room (organizer)",
    description=(
        "The room's id is the path's (letters, digits, `_.:-`). `hours` are opening hours per day in the "
        "event's time zone (none: open whenever the event runs); `grassroots` opens the room to "
        "grassroots sessions; `buffer_min` is the changeover needed between two sessions."
    ),
)
async def put_room(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    room_id: FromPath[str],
    data: JSONBody[RoomBody],
) -> RoomView:
    return room_view(await service.save_room(hub, principal, event_id, data.room(room_id)))


@delete(
    f"{_EVENT}/rooms/{{room_id:str}}",
    dependencies=DEPS,
    tags=TAGS,
    summary="Remove a room that no scheduled session uses",
    description="Move or cancel its sessions first (`409 conflict` lists them): nothing vanishes with it.",
)
async def delete_room(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    room_id: FromPath[str],
) -> None:
    await service.delete_room(hub, principal, event_id, room_id)


# --- sessions ----------------------------------------------------------------------------------


@post(
    f"{_EVENT}/sessions",
    dependencies=DEPS,
    tags=TAGS,
    status_code=201,
    summary="Add a session (organizer); its id is made here",
    description=_EDIT_RULES,
)
async def create_session(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    data: JSONBody[SessionBody],
) -> SessionAnswer:
    session = data.session(f"s-{new_id().lower()}")
    saved, found = await service.save_session(
        hub, principal, event_id, session, overlap_reason=data.overlap_reason
    )
    return SessionAnswer(session=session_view(saved), warnings=found)


@get(
    f"{_EVENT}/sessions/{{session_id:str}}",
    dependencies=DEPS,
    tags=TAGS,
    summary="One session (as its grassroots host edited it, if they did)",
)
async def get_session(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    session_id: FromPath[str],
) -> SessionView:
    return session_view(await service.get_session(hub, principal, event_id, session_id))


@put(
    f"{_EVENT}/sessions/{{session_id:str}}",
    dependencies=DEPS,
    tags=TAGS,
    summary="Change a session (organizer): the body replaces what an editor sets",
    description=_EDIT_RULES
    + " Where the session came from (proposal, approval, import) is kept. Moving a session drops an "
    "earlier overlap approval; keeping its room and times keeps it.",
)
async def put_session(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    session_id: FromPath[str],
    data: JSONBody[SessionBody],
) -> SessionAnswer:
    await service.get_session(hub, principal, event_id, session_id)  # 404 before anything else
    saved, found = await service.save_session(
        hub, principal, event_id, data.session(session_id), overlap_reason=data.overlap_reason
    )
    return SessionAnswer(session=session_view(saved), warnings=found)


@post(
    f"{_EVENT}/sessions/{{session_id:str}}/cancel",
    dependencies=DEPS,
    tags=TAGS,
    status_code=200,
    summary="Cancel a session: it stays in the schedule, marked cancelled, and frees its room",
)
async def cancel_session(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    session_id: FromPath[str],
) -> SessionView:
    return session_view(await service.cancel_session(hub, principal, event_id, session_id))


@delete(
    f"{_EVENT}/sessions/{{session_id:str}}",
    dependencies=DEPS,
    tags=TAGS,
    summary="Remove a session entered by mistake (cancel one that was announced)",
    description=(
        "A session placed by a grassroots approval is not removed (`409 conflict`): withdraw the "
        "approval instead, so the proposer learns why."
    ),
)
async def delete_session(
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    session_id: FromPath[str],
) -> None:
    await service.delete_session(hub, principal, event_id, session_id)


# --- import and export -------------------------------------------------------------------------


def _filename(request: Request[Any, Any, Any], given: str | None) -> str:
    if given:
        return given
    disposition = request.headers.get("content-disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key.lower() == "filename" and value:
            return value.strip().strip('"')
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return "schedule.xml" if kind.endswith("xml") else "schedule.json"


@post(
    f"{_EVENT}/schedule/import",
    dependencies=DEPS,
    tags=TAGS,
    status_code=200,
    request_max_body_size=MAX_SCHEDULE_BYTES,
    summary="Import a pretalx/frab schedule JSON or frab schedule.xml (the body is the file)",
    description=(
        "Rooms and sessions are created or updated by their stable ids (re-importing the same file "
        "changes nothing); nothing is deleted. The report says what was created, updated, unchanged "
        "and skipped, and why. A file that cannot be read is refused whole with `422 schedule_rejected` "
        "(`details.problems`: each with its line or JSON path and id); a result a blocking rule refuses "
        "is `409 schedule_conflict`. `dry_run=true` reports without writing. At most 20 MB (`413`). "
        "`approve_overlaps=REASON` approves, for the whole file, the room overlaps among its own "
        "sessions (recorded on each with who and why); overlaps with sessions already here still refuse."
    ),
)
async def import_schedule(
    request: Request[Any, Any, Any],
    hub: NamedDependency[HubState],
    principal: NamedDependency[Principal],
    event_id: FromPath[str],
    dry_run: FromQuery[bool] = False,
    filename: Annotated[str | None, QueryParameter(max_length=200)] = None,
    approve_overlaps: Annotated[str | None, QueryParameter(min_length=1, max_length=500)] = None,
) -> ImportAnswer:
    body = await request.body()
    if not body:
        raise Invalid("send the schedule file as the request body", field="body")
    outcome = await service.import_schedule(
        hub, principal, event_id, _filename(request, filename), body, dry_run=dry_run,
        overlap_reason=approve_overlaps,
    )  # fmt: skip
    return ImportAnswer(event=event_id, outcome=outcome)


MEDIA = {
    "ics": "text/calendar; charset=utf-8",
    "xml": "application/xml",
    "json": "application/json",
}


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


async def _export(
    request: Request[Any, Any, Any],
    hub: HubState,
    event_id: str,
    kind: Literal["ics", "xml", "json"],
    room: str | None = None,
    speaker: str | None = None,
) -> Response[bytes]:
    principal = await provide_principal(request) if bearer(request) else None
    body = await service.export_schedule(hub, principal, event_id, kind, room=room, speaker=speaker)
    etag = etag_of(body)
    headers = {
        "ETag": etag,
        "Cache-Control": ("private" if principal else "public") + ", no-cache",
        "Vary": "Authorization",
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    suffix = f"-{room}" if room else ""
    headers["Content-Disposition"] = f'inline; filename="{event_id}{suffix}.{kind}"'
    return Response(body, media_type=MEDIA[kind], headers=headers)


_EXPORT_DOC = (
    "Every scheduled session, grassroots ones included (cancelled ones are left out). Signed in: any "
    "member of the organization. Without signing in: only once the schedule is published "
    "(`settings.public`), else `401`. `ETag` + `If-None-Match` answer `304` when nothing changed."
)
_EXPORT_RESPONSES = {
    304: ResponseSpec(data_container=None, description="`If-None-Match` holds the current ETag: nothing new")
}
_STATE = {"hub": Provide(provide_state)}


@get(
    f"{_EVENT}/schedule.ics",
    dependencies=_STATE,
    tags=TAGS,
    summary="The schedule as iCalendar (RFC 5545), whole, per room (`room`) or per speaker (`speaker`)",
    description=_EXPORT_DOC,
    media_type="text/calendar",
    responses=_EXPORT_RESPONSES,
)
async def export_ics(
    request: Request[Any, Any, Any],
    hub: NamedDependency[HubState],
    event_id: FromPath[str],
    room: Annotated[str | None, QueryParameter(max_length=64)] = None,
    speaker: Annotated[str | None, QueryParameter(max_length=120)] = None,
) -> Response[bytes]:
    return await _export(request, hub, event_id, "ics", room=room, speaker=speaker)


@get(
    f"{_EVENT}/schedule.xml",
    dependencies=_STATE,
    tags=TAGS,
    summary="The schedule as frab schedule.xml (valid against the frab XSD)",
    description=_EXPORT_DOC,
    media_type="application/xml",
    responses=_EXPORT_RESPONSES,
)
async def export_xml(
    request: Request[Any, Any, Any], hub: NamedDependency[HubState], event_id: FromPath[str]
) -> Response[bytes]:
    return await _export(request, hub, event_id, "xml")


@get(
    f"{_EVENT}/schedule.json",
    dependencies=_STATE,
    tags=TAGS,
    summary="The schedule as schedule JSON (the CCC/voc schema pretalx and frab export)",
    description=_EXPORT_DOC,
    media_type="application/json",
    responses={
        200: ResponseSpec(data_container=dict[str, Any], description="the schedule JSON document"),
        **_EXPORT_RESPONSES,
    },
)
async def export_json(
    request: Request[Any, Any, Any], hub: NamedDependency[HubState], event_id: FromPath[str]
) -> Response[bytes]:
    return await _export(request, hub, event_id, "json")


ROUTES = [
    get_schedule,
    get_findings,
    get_settings,
    put_settings,
    get_occupancy,
    get_slots,
    list_rooms,
    get_room,
    put_room,
    delete_room,
    create_session,
    get_session,
    put_session,
    cancel_session,
    delete_session,
    import_schedule,
    export_ics,
    export_xml,
    export_json,
]
