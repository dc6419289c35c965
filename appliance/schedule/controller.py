"""The schedule's HTTP API: rooms, sessions, findings, free slots, settings and occupancy.

Reading the schedule is public (attendees, signs and kiosks read it, and a
conference app fetches it without an account); editing it needs an organizer
on an organizer-capable appliance.  Every path takes ``?event=`` like the
other appliance routes (default: the box's first event).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from appliance.config import EventScope
from appliance.schedule.occupancy import occupancy
from appliance.schedule.service import ScheduleService
from appliance.schedule.structs import (
    FindingsView,
    OccupancyView,
    RoomBody,
    RoomList,
    RoomView,
    ScheduleView,
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
from appliance.staff.guard import ALL_ROLES, roles, staff_of
from appliance.staff.service import StaffRole
from konferenco.errors import Invalid
from konferenco.schedule.bodies import check_settings, query_moment, query_words
from konferenco.schedule.grassroots import proposal_states, slot_conflicts
from konferenco.schedule.model import MINUTE, ScheduleSettings, at_local
from konferenco.schedule.rules import DEFAULT_SEVERITY, FIXED
from konferenco.schedule.slots import SlotQuery, find_slots
from konferenco.types import new_id, now_ms

TAGS = ["schedule"]
ORGANIZER = roles(StaffRole.ORGANIZER)
_ROOM = "/api/v1/rooms/{room_id:str}"
_SESSION = "/api/v1/sessions/{session_id:str}"
_ROOM_DOC = "/api/v1/rooms/{room_id}"  # the path as the OpenAPI document writes it
_SESSION_DOC = "/api/v1/sessions/{session_id}"
_EVENT = ("unknown_event",)
_SIGNED = ("token_expired", *_EVENT)

#: The specific error codes of each route, for the OpenAPI document (``appliance.errors``).
ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    "GET /api/v1/schedule": (*_EVENT, "invalid"),
    "GET /api/v1/schedule/findings": _SIGNED,
    "GET /api/v1/schedule/settings": _SIGNED,
    "PUT /api/v1/schedule/settings": (*_SIGNED, "invalid"),
    "GET /api/v1/schedule/occupancy": _EVENT,
    "GET /api/v1/rooms": _EVENT,
    f"GET {_ROOM_DOC}": (*_EVENT, "unknown_room"),
    f"PUT {_ROOM_DOC}": (*_SIGNED, "invalid"),
    f"DELETE {_ROOM_DOC}": (*_SIGNED, "unknown_room", "conflict"),
    "POST /api/v1/sessions": (*_SIGNED, "invalid", "schedule_conflict"),
    f"GET {_SESSION_DOC}": (*_EVENT, "unknown_session"),
    f"PUT {_SESSION_DOC}": (*_SIGNED, "unknown_session", "invalid", "schedule_conflict"),
    f"DELETE {_SESSION_DOC}": (*_SIGNED, "unknown_session", "conflict"),
    f"POST {_SESSION_DOC}/cancel": (*_SIGNED, "unknown_session"),
    "GET /api/v1/slots": (*_SIGNED, "invalid"),
}

Event = FromQuery[str | None]


def _day_window(day: str, zone: ZoneInfo) -> tuple[int, int]:
    try:
        datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        raise Invalid(f"day: give a date as YYYY-MM-DD, not {day!r}", field="day") from None
    return at_local(day, "00:00", zone), at_local(day, "24:00", zone)


# --- the schedule ------------------------------------------------------------------------------


@get(
    "/api/v1/schedule",
    summary="The event's schedule: rooms, sessions, settings and findings (public)",
    description=(
        "Public: attendees, room signs and kiosks read it without an account. Proposals are not in "
        "it; cancelled sessions are, with `status: cancelled`. `day` (YYYY-MM-DD, in the event's "
        "time zone) keeps the sessions that take place on that day, and their findings."
    ),
    tags=TAGS,
)
async def get_schedule(
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
    day: Annotated[str | None, QueryParameter(max_length=10)] = None,
) -> ScheduleView:
    event_id = events.resolve(event)
    index = await schedule.index(event_id)
    sessions = [s for s in index.sessions.values() if s.status != "proposed"]
    findings = await schedule.findings(event_id)
    if day is not None:
        start, end = _day_window(day, index.zone)
        sessions = [s for s in sessions if s.starts_at < end and s.ends_at > start]
        shown = {s.id for s in sessions}
        findings = [f for f in findings if any(sid in shown for sid in f.sessions)]
    sessions.sort(key=lambda s: (s.starts_at, s.room_id, s.id))
    rooms = sorted(index.rooms.values(), key=lambda r: (r.position, r.name, r.id))
    return ScheduleView(
        event=event_id,
        frame=index.frame,
        day=day,
        rooms=[room_view(r) for r in rooms],
        sessions=[session_view(s) for s in sessions],
        settings=settings_view(index.settings),
        findings=findings,
    )


@get(
    "/api/v1/schedule/findings",
    summary="Every current finding of the rules, and the grassroots decisions that conflict",
    description=(
        "What an organizer should look at: double bookings, short changeovers, speakers in two places, "
        "closed or too small rooms (`findings`, each with its rule, severity, sessions and a sentence), "
        "and grassroots decisions made too late on a replica that could not see an earlier one "
        "(`conflicts`: decided twice, slot already taken). Nothing is moved or dropped automatically."
    ),
    tags=TAGS,
    opt=roles(StaffRole.DESK),
)
async def get_findings(
    events: NamedDependency[EventScope], schedule: NamedDependency[ScheduleService], event: Event = None
) -> FindingsView:
    event_id = events.resolve(event)
    index = await schedule.index(event_id)
    state = await schedule.state(event_id)
    findings = await schedule.findings(event_id)
    _, late = proposal_states({d.proposal_id for d in state.decisions}, state.decisions)
    conflicts = late + slot_conflicts(index, state.decisions)
    return FindingsView(
        event=event_id,
        count=len(findings),
        blocking=sum(1 for f in findings if f.severity == "block"),
        findings=findings,
        conflicts=conflicts,
    )


def _settings_answer(event_id: str, settings: ScheduleSettings) -> SettingsAnswer:
    return SettingsAnswer(
        event=event_id,
        settings=settings_view(settings),
        rules=dict(DEFAULT_SEVERITY),
        fixed=sorted(FIXED),
    )


@get(
    "/api/v1/schedule/settings",
    summary="The event's schedule settings: severity per rule, grassroots proposals",
    tags=TAGS,
    opt=roles(*ALL_ROLES),
)
async def get_settings(
    events: NamedDependency[EventScope], schedule: NamedDependency[ScheduleService], event: Event = None
) -> SettingsAnswer:
    event_id = events.resolve(event)
    return _settings_answer(event_id, (await schedule.state(event_id)).settings)


@put(
    "/api/v1/schedule/settings",
    summary="Change the schedule settings (organizer-capable appliance)",
    description=(
        "Replaces the settings. `severities` sets `block`, `warn` or `ignore` per rule (the rules are "
        "listed by `GET`); `room_overlap` and `bad_time` always block. `grassroots` turns proposals "
        "on and bounds them (window, rooms, durations, open proposals per attendee)."
    ),
    tags=TAGS,
    opt=ORGANIZER,
)
async def put_settings(
    data: JSONBody[SettingsBody],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> SettingsAnswer:
    event_id = events.resolve(event)
    check_settings(data.settings(), (await schedule.state(event_id)).rooms)
    saved = await schedule.save_settings(event_id, data.settings())
    return _settings_answer(event_id, saved)


@get(
    "/api/v1/schedule/occupancy",
    summary="How full each room is now, with the session on in it (public)",
    description=(
        "Per room: the session on now (null between sessions), how many people are inside (from the "
        "check-in lists tied to the room; null when no list is), the capacity, the fill ratio and "
        "`open`, `nearly_full` (from 90 %) or `full`. The room signs show the same on "
        "`rooms/{room}/capacity`."
    ),
    tags=TAGS,
)
async def get_occupancy(
    events: NamedDependency[EventScope], schedule: NamedDependency[ScheduleService], event: Event = None
) -> OccupancyView:
    event_id = events.resolve(event)
    now = now_ms()
    rooms = occupancy(await schedule.index(event_id), schedule.conn, event_id, now)
    return OccupancyView(event=event_id, at=now, rooms=rooms)


# --- rooms -------------------------------------------------------------------------------------


@get("/api/v1/rooms", summary="The event's rooms (public)", tags=TAGS)
async def list_rooms(
    events: NamedDependency[EventScope], schedule: NamedDependency[ScheduleService], event: Event = None
) -> RoomList:
    event_id = events.resolve(event)
    rooms = sorted((await schedule.state(event_id)).rooms.values(), key=lambda r: (r.position, r.name, r.id))
    return RoomList(event=event_id, rooms=[room_view(r) for r in rooms])


@get(_ROOM, summary="One room (public)", tags=TAGS)
async def get_room(
    room_id: FromPath[str],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> RoomView:
    return room_view(await schedule.room(events.resolve(event), room_id))


@put(
    _ROOM,
    summary="Create or change a room (organizer-capable appliance)",
    description=(
        "The room's id is the path's (letters, digits, `_.:-`). `hours` are opening hours per day in "
        "the event's time zone (none: open whenever the event runs); `grassroots` opens the room to "
        "grassroots sessions; `buffer_min` is the changeover needed between two sessions."
    ),
    tags=TAGS,
    opt=ORGANIZER,
)
async def put_room(
    room_id: FromPath[str],
    data: JSONBody[RoomBody],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> RoomView:
    room = data.room(room_id)
    return room_view(await schedule.save_room(events.resolve(event), room))


@delete(
    _ROOM,
    summary="Remove a room that no scheduled session uses",
    description="Move or cancel its sessions first (`409 conflict` lists them): nothing vanishes with it.",
    tags=TAGS,
    opt=ORGANIZER,
)
async def delete_room(
    room_id: FromPath[str],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> None:
    await schedule.delete_room(events.resolve(event), room_id)


# --- sessions ----------------------------------------------------------------------------------

_EDIT_RULES = (
    "Checked by the schedule's rules: a `block` finding refuses the change with `409 schedule_conflict` "
    "(`details.findings`, each with its sentence) and nothing is written; `warn` findings come back in "
    "`warnings`. Two sessions in one room at once always block, unless `overlap_reason` approves that "
    "overlap explicitly: the approval is recorded on the session with the organizer's name."
)


@post(
    "/api/v1/sessions",
    summary="Add a session (organizer-capable appliance); its id is made here",
    description=_EDIT_RULES,
    tags=TAGS,
    status_code=201,
    opt=ORGANIZER,
)
async def create_session(
    request: Request[Any, Any, Any],
    data: JSONBody[SessionBody],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> SessionAnswer:
    session = data.session(f"s-{new_id().lower()}")
    saved, found = await schedule.save_session(
        events.resolve(event), session, by=staff_of(request).name, overlap_reason=data.overlap_reason
    )
    return SessionAnswer(session=session_view(saved), warnings=found)


@get(_SESSION, summary="One session (public)", tags=TAGS)
async def get_session(
    session_id: FromPath[str],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> SessionView:
    return session_view(await schedule.session(events.resolve(event), session_id))


@put(
    _SESSION,
    summary="Change a session (organizer-capable appliance): the body replaces what an editor sets",
    description=_EDIT_RULES
    + " Where the session came from (proposal, approval, import) is kept. Moving a session drops an "
    "earlier overlap approval; keeping its room and times keeps it.",
    tags=TAGS,
    opt=ORGANIZER,
)
async def put_session(
    request: Request[Any, Any, Any],
    session_id: FromPath[str],
    data: JSONBody[SessionBody],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> SessionAnswer:
    event_id = events.resolve(event)
    await schedule.session(event_id, session_id)  # 404 before anything else
    saved, found = await schedule.save_session(
        event_id, data.session(session_id), by=staff_of(request).name, overlap_reason=data.overlap_reason
    )
    return SessionAnswer(session=session_view(saved), warnings=found)


@post(
    f"{_SESSION}/cancel",
    summary="Cancel a session: it stays in the schedule, marked cancelled, and frees its room",
    tags=TAGS,
    status_code=200,
    opt=ORGANIZER,
)
async def cancel_session(
    session_id: FromPath[str],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> SessionView:
    return session_view(await schedule.cancel_session(events.resolve(event), session_id))


@delete(
    _SESSION,
    summary="Remove a session for good (cancel it to tell attendees instead)",
    description="A session a grassroots approval placed is refused (`409 conflict`): withdraw the approval.",
    tags=TAGS,
    opt=ORGANIZER,
)
async def delete_session(
    session_id: FromPath[str],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: Event = None,
) -> None:
    await schedule.delete_session(events.resolve(event), session_id)


# --- free slots --------------------------------------------------------------------------------


@get(
    "/api/v1/slots",
    summary="Free room-and-time slots for a session, ranked, each passing every blocking rule",
    description=(
        "`duration` in minutes; `from`/`to` bound the search (ms since the epoch or ISO date-times; "
        "without an offset in the event's time zone; `from` defaults to now, `to` to the event's end); "
        "`features` and `rooms` are comma-separated; "
        "`grassroots=true` keeps the rooms open to grassroots sessions. Ranked by how well the room's "
        "size fits `attendance`, then fragmentation, then the earliest start; each slot lists its "
        "`warn` findings. Nothing is reserved: the edit is checked again when it is made."
    ),
    tags=TAGS,
    opt=roles(*ALL_ROLES),
)
async def get_slots(
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    duration: Annotated[int, QueryParameter(ge=5, le=24 * 60, description="minutes")],
    attendance: Annotated[int | None, QueryParameter(ge=0, le=1_000_000)] = None,
    from_: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
    to: Annotated[str | None, QueryParameter(max_length=40)] = None,
    features: Annotated[str | None, QueryParameter(max_length=500)] = None,
    rooms: Annotated[str | None, QueryParameter(max_length=4000)] = None,
    grassroots_only: Annotated[bool, QueryParameter(name="grassroots")] = False,
    limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
    event: Event = None,
) -> SlotList:
    event_id = events.resolve(event)
    index = await schedule.index(event_id)
    window_from = query_moment(from_, index.zone, "from")
    if window_from is None:
        window_from = now_ms()  # a free slot in the past books nothing
    window_to = query_moment(to, index.zone, "to")
    if window_from is not None and window_to is not None and window_to <= window_from:
        raise Invalid("to is before from", field="to")
    wanted = query_words(rooms)
    unknown = [r for r in wanted if r not in index.rooms]
    if unknown:
        raise Invalid(f"no such room: {', '.join(unknown[:10])}", field="rooms")
    query = SlotQuery(
        duration_ms=duration * MINUTE,
        attendance=attendance,
        window_from=window_from,
        window_to=window_to,
        features=query_words(features),
        rooms=wanted,
        grassroots=grassroots_only,
        limit=limit,
    )
    slots = find_slots(index, query)
    return SlotList(event=event_id, duration_min=duration, count=len(slots), slots=slots)


ROUTES = [
    get_schedule,
    get_findings,
    get_settings,
    put_settings,
    get_occupancy,
    list_rooms,
    get_room,
    put_room,
    delete_room,
    create_session,
    get_session,
    put_session,
    cancel_session,
    delete_session,
    get_slots,
]
