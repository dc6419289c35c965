"""The schedule and grassroots proposals of an event, as organizers change them on the hub.

The hub is just another peer (DESIGN.md §2): every change goes into the
event's control document through :mod:`sync.schedule_edits`, the same edit
layer an organizer appliance uses, so a change refused at the venue is
refused here with the same sentence, and it reaches every appliance by
sync.  What the document cannot tell — which organization owns the event,
its time zone and dates, the proposals in the device logs, the host edits,
the child events — comes from PostgreSQL, always in a tenant transaction:
row-level security keeps another organization's event "not found" before
its document is ever opened.

Every function takes the worker's state (anything with ``db`` and
``replica``: the CLI builds one of its own) and the acting principal.
Reads need a member of the event's organization; writes the organizer role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.events import EventRow, get_event
from hub.checkins import dashboard
from hub.db.session import Database
from hub.schedule import queries
from hub.schedule.views import (
    ChildEvent,
    DecisionView,
    ImportOutcome,
    Person,
    ProposalView,
    Reservation,
    RoomOccupancy,
    ScheduleView,
)
from hub.tenants import audit
from hub.tenants.accounts import OrgRole, Principal
from konferenco.errors import Invalid, KonferencoError, NotFound, Unauthorized
from konferenco.schedule.bodies import check_settings
from konferenco.schedule.grassroots import (
    Conflict,
    apply_host_edits,
    grassroots_session,
    proposal_ref,
    proposal_states,
    slot_conflicts,
)
from konferenco.schedule.model import (
    MINUTE,
    EventFrame,
    Room,
    ScheduleSettings,
    Session,
    at_local,
    local,
)
from konferenco.schedule.rules import Finding, ScheduleIndex, blocking
from konferenco.schedule.slots import Slot, SlotQuery, find_slots
from konferenco.types import now_ms
from sync import schedule_edits
from sync.records import Decision
from sync.replica import Replica

__all__ = [
    "ChildEvent",
    "EventRow",
    "ImportOutcome",
    "ProposalView",
    "Reservation",
    "RoomOccupancy",
    "ScheduleHost",
    "ScheduleView",
    "SlotQuery",
    "actor",
    "approve",
    "cancel_session",
    "child_events",
    "delete_room",
    "delete_session",
    "event_frame",
    "export_schedule",
    "findings",
    "frame_of",
    "get_proposal",
    "get_room",
    "get_session",
    "import_schedule",
    "occupancy",
    "proposals",
    "reject",
    "reserve",
    "save_room",
    "save_session",
    "save_settings",
    "schedule_settings",
    "schedule_view",
    "slots",
    "withdraw",
]

#: Suggested slots shown with each pending proposal.
SUGGESTIONS = 3


class ScheduleHost(Protocol):
    """What the service needs of a hub worker (:class:`hub.state.HubState`), or of the CLI."""

    db: Database
    replica: Replica | None


async def _audit(
    host: ScheduleHost,
    principal: Principal,
    action: str,
    event_id: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """The audit row of a schedule change, after the change is durable (see hub/tenants/audit.py)."""
    async with host.db.tenant(principal.org_id) as conn:
        await audit.record(conn, principal, action, target, event_id=event_id, details=details)


# --- scope: whose event, which frame ----------------------------------------------------------


def frame_of(row: EventRow) -> EventFrame:
    """The event's frame; an event created without dates (0, 0) has none, so nothing is "outside" it."""
    dated = bool(row.starts_at or row.ends_at) and row.ends_at > row.starts_at
    return EventFrame(
        event_id=row.id,
        name=row.name[:120],
        timezone=row.timezone,
        starts_at=row.starts_at if dated else None,
        ends_at=row.ends_at if dated else None,
    )


async def event_frame(
    host: ScheduleHost, principal: Principal, event_id: str, *, write: bool = False
) -> EventFrame:
    """The event's frame, if the principal's organization owns it (else ``not_found``)."""
    if write:
        principal.require(OrgRole.ORGANIZER)
    async with host.db.tenant(principal.org_id) as conn:
        return frame_of(await get_event(conn, event_id))


def _replica(host: ScheduleHost) -> Replica:
    if host.replica is None:
        raise RuntimeError("this hub worker has no replica (it was built without sync)")
    return host.replica


async def actor(host: ScheduleHost, principal: Principal) -> str:
    """Who acted, as a finding's sentence names them: the account's e-mail (API tokens carry none)."""
    if principal.email:
        return principal.email[:120]
    async with host.db.tenant(principal.org_id) as conn:
        names = await _names(conn, {principal.account_id})
    return names.get(principal.account_id, principal.account_id)[:120]


def _valid(value: msgspec.Struct, kind: type[Any], what: str) -> Any:
    """Validate a struct built in Python (the console builds them from forms) as the API would."""
    try:
        return msgspec.convert(msgspec.to_builtins(value), kind)
    except msgspec.ValidationError as exc:
        raise Invalid(f"the {what} is not acceptable: {exc}", field=_field_of(str(exc))) from None


def _field_of(message: str) -> str | None:
    # msgspec: "Expected `int`, got `str` - at `$.capacity`"
    _, _, where = message.partition("at `$.")
    return where.split("`", 1)[0].split(".", 1)[0].split("[", 1)[0] or None if where else None


async def _index(
    host: ScheduleHost, event_id: str, frame: EventFrame
) -> tuple[schedule_edits.ScheduleState, ScheduleIndex]:
    state = await schedule_edits.snapshot(_replica(host), event_id)
    edits = await _host_edits(host, frame)
    overlay = (lambda _event, sessions: apply_host_edits(sessions, edits)) if edits else None
    return state, state.index(frame, overlay)


async def _host_edits(host: ScheduleHost, frame: EventFrame) -> list[queries.HostEditRow]:
    async with host.db.system() as conn:  # system: the frame was checked against the tenant already
        return await queries.host_edits(conn, frame.event_id)


def _conflicts(index: ScheduleIndex, decisions: Sequence[Decision]) -> list[Conflict]:
    _, twice = proposal_states([], decisions)
    return twice + slot_conflicts(index, decisions)


# --- the schedule --------------------------------------------------------------------------------


async def schedule_view(
    host: ScheduleHost, principal: Principal, event_id: str, *, day: str | None = None
) -> ScheduleView:
    """Rooms, sessions (of ``day`` in the event's zone, or all), settings, findings and conflicts."""
    frame = await event_frame(host, principal, event_id)
    state, index = await _index(host, event_id, frame)
    sessions = list(index.sessions.values())
    if day is not None:
        try:
            start, end = at_local(day, "00:00", frame.zone), at_local(day, "24:00", frame.zone)
        except ValueError:
            raise Invalid(f"{day!r} is not a day (YYYY-MM-DD)", field="day") from None
        sessions = [s for s in sessions if s.starts_at < end and s.ends_at > start]
    position = {r.id: (r.position, r.name.casefold()) for r in state.rooms.values()}
    sessions.sort(key=lambda s: (s.starts_at, position.get(s.room_id, (0, s.room_id)), s.id))
    days = frame.days() or sorted({local(s.starts_at, frame.zone).date().isoformat() for s in sessions})
    return ScheduleView(
        frame=frame,
        rooms=sorted(state.rooms.values(), key=lambda r: (r.position, r.name.casefold(), r.id)),
        sessions=sessions,
        settings=state.settings,
        findings=index.findings(),
        conflicts=_conflicts(index, state.decisions),
        day=day,
        days=days,
    )


async def findings(
    host: ScheduleHost, principal: Principal, event_id: str
) -> tuple[list[Finding], list[Conflict]]:
    """Every current finding of the schedule, and the grassroots decisions that conflict."""
    frame = await event_frame(host, principal, event_id)
    state, index = await _index(host, event_id, frame)
    return index.findings(), _conflicts(index, state.decisions)


async def get_room(host: ScheduleHost, principal: Principal, event_id: str, room_id: str) -> Room:
    await event_frame(host, principal, event_id)
    state = await schedule_edits.snapshot(_replica(host), event_id)
    room = state.rooms.get(room_id)
    if room is None:
        raise NotFound(f"there is no room '{room_id}'", code="unknown_room", room_id=room_id)
    return room


async def save_room(host: ScheduleHost, principal: Principal, event_id: str, room: Room) -> Room:
    """Create or change a room (by its id)."""
    await event_frame(host, principal, event_id, write=True)
    room = _valid(room, Room, "room")
    saved = await schedule_edits.put_room(_replica(host), event_id, room)
    await _audit(host, principal, "schedule.edit", event_id, f"room {room.id}", {"what": "room saved"})
    return saved


async def delete_room(host: ScheduleHost, principal: Principal, event_id: str, room_id: str) -> None:
    """Remove a room no scheduled session uses (``conflict`` names the sessions that still do)."""
    await event_frame(host, principal, event_id, write=True)
    await schedule_edits.remove_room(_replica(host), event_id, room_id)
    await _audit(host, principal, "schedule.edit", event_id, f"room {room_id}", {"what": "room removed"})


async def get_session(host: ScheduleHost, principal: Principal, event_id: str, session_id: str) -> Session:
    """A session as shown (a host's edit of its title and description laid over it)."""
    frame = await event_frame(host, principal, event_id)
    _, index = await _index(host, event_id, frame)
    session = index.sessions.get(session_id)
    if session is None:
        raise NotFound(f"there is no session '{session_id}'", code="unknown_session", session_id=session_id)
    return session


async def save_session(
    host: ScheduleHost,
    principal: Principal,
    event_id: str,
    session: Session,
    *,
    overlap_reason: str | None = None,
) -> tuple[Session, list[Finding]]:
    """Create or change a session; a ``block`` finding refuses it (409 ``schedule_conflict``).

    ``overlap_reason`` approves an overlap explicitly, recorded with the
    organizer's name and the reason.  Returns the session and its warnings.
    """
    frame = await event_frame(host, principal, event_id, write=True)
    session = _valid(session, Session, "session")
    replica = _replica(host)
    old = (await schedule_edits.snapshot(replica, event_id)).sessions.get(session.id)
    await _require_attendees(host, principal, event_id, session, old)
    reason = (overlap_reason or "").strip() or None
    saved = await schedule_edits.put_session(
        replica, event_id, session, frame, by=await actor(host, principal), overlap_reason=reason
    )
    details: dict[str, Any] = {"what": "session saved", "title": session.title}
    if reason:
        details["overlap_approved"] = reason
    await _audit(host, principal, "schedule.edit", event_id, f"session {session.id}", details)
    return saved


async def _require_attendees(
    host: ScheduleHost, principal: Principal, event_id: str, session: Session, old: Session | None
) -> None:
    """Speakers and hosts named by attendee id must be attendees of the event (``invalid`` names the field).

    Ids the stored session already carried are not checked again (a walk-in
    host whose record is still on its way from the venue).
    """
    known = {*old.speaker_ids, old.host} if old is not None else set()
    asked = [(f"speaker_ids[{n}]", a) for n, a in enumerate(session.speaker_ids)]
    if session.host:
        asked.append(("host", session.host))
    asked = [(f, a) for f, a in asked if a not in known]
    if not asked:
        return
    async with host.db.tenant(principal.org_id) as conn:
        rows = await conn.execute(
            text("SELECT id FROM attendee WHERE event_id = :e AND id = ANY(:ids)"),
            {"e": event_id, "ids": [a for _, a in asked]},
        )
        present = {r.id for r in rows}
    for field_name, attendee_id in asked:
        if attendee_id not in present:
            raise Invalid(
                f"unknown speaker '{attendee_id}': not an attendee of this event (give a free name in "
                "'speakers' instead)",
                field=field_name,
            )


async def cancel_session(host: ScheduleHost, principal: Principal, event_id: str, session_id: str) -> Session:
    """Cancel a session: it stays in the schedule (and its history), but occupies nothing."""
    await event_frame(host, principal, event_id, write=True)
    cancelled = await schedule_edits.set_status(_replica(host), event_id, session_id, "cancelled")
    await _audit(host, principal, "schedule.edit", event_id, f"session {session_id}", {"what": "cancelled"})
    return cancelled


async def delete_session(host: ScheduleHost, principal: Principal, event_id: str, session_id: str) -> None:
    """Remove a session entered by mistake; one that a grassroots approval placed is withdrawn instead."""
    await event_frame(host, principal, event_id, write=True)
    replica = _replica(host)
    session = (await schedule_edits.snapshot(replica, event_id)).sessions.get(session_id)
    if session is not None and session.decision_id and session.placed:
        raise KonferencoError(
            f"“{session.title}” was placed by the approval of a grassroots proposal: withdraw the approval "
            "instead (the proposer sees why)",
            code="conflict",
            proposal_id=session.proposal_id,
        )
    await schedule_edits.remove_session(replica, event_id, session_id)
    await _audit(host, principal, "schedule.edit", event_id, f"session {session_id}", {"what": "removed"})


async def save_settings(
    host: ScheduleHost, principal: Principal, event_id: str, settings: ScheduleSettings
) -> ScheduleSettings:
    await event_frame(host, principal, event_id, write=True)
    settings = _valid(settings, ScheduleSettings, "schedule settings")
    replica = _replica(host)
    check_settings(settings, (await schedule_edits.snapshot(replica, event_id)).rooms)
    rules = settings.grassroots
    saved = await schedule_edits.put_settings(replica, event_id, settings)
    details = {"what": "settings", "grassroots": rules.enabled, "public": settings.public}
    await _audit(host, principal, "schedule.edit", event_id, "schedule settings", details)
    return saved


async def schedule_settings(host: ScheduleHost, principal: Principal, event_id: str) -> ScheduleSettings:
    await event_frame(host, principal, event_id)
    return (await schedule_edits.snapshot(_replica(host), event_id)).settings


async def slots(host: ScheduleHost, principal: Principal, event_id: str, query: SlotQuery) -> list[Slot]:
    """Free slots for ``query``, ranked, each passing every ``block`` rule (with its warnings)."""
    frame = await event_frame(host, principal, event_id)
    _, index = await _index(host, event_id, frame)
    return find_slots(index, query)


# --- import and export ---------------------------------------------------------------------------


async def import_schedule(
    host: ScheduleHost,
    principal: Principal,
    event_id: str,
    filename: str,
    data: bytes,
    *,
    dry_run: bool = False,
    overlap_reason: str | None = None,
) -> ImportOutcome:
    """Import a pretalx/frab schedule JSON or frab XML file: rooms and sessions by their stable ids.

    A refused file (422 ``schedule_rejected``, every problem with its line or
    path) or a result a ``block`` rule refuses (409 ``schedule_conflict``)
    writes nothing.  ``dry_run`` reports what would change, checked by the
    same rules, and writes nothing either.
    """
    from hub.schedule.imports import plan_and_check

    frame = await event_frame(host, principal, event_id, write=True)
    replica = _replica(host)
    state = await schedule_edits.snapshot(replica, event_id)
    by = await actor(host, principal)
    plan, imported_format, warnings = plan_and_check(
        state, frame, data, filename, by=by, overlap_reason=overlap_reason
    )
    if not dry_run:
        warnings = await schedule_edits.apply_import(
            replica, event_id, plan.rooms, plan.sessions, frame, by=by, overlap_reason=overlap_reason
        )
        details: dict[str, Any] = {"format": imported_format, "summary": plan.report.summary}
        if overlap_reason:
            details["overlaps_approved"] = overlap_reason
        await _audit(host, principal, "schedule.import", event_id, filename[:200], details)
    return ImportOutcome(format=imported_format, dry_run=dry_run, report=plan.report, warnings=warnings)


async def export_schedule(
    host: ScheduleHost,
    principal: Principal | None,
    event_id: str,
    kind: Literal["ics", "xml", "json"],
    *,
    room: str | None = None,
    speaker: str | None = None,
) -> bytes:
    """The schedule as iCalendar, frab XML or schedule JSON: every scheduled session, grassroots too.

    Without a principal (an anonymous conference app) only a published
    schedule (``settings.public``) is served; an unpublished or unknown event
    answers the same ``unauthorized``, so nothing tells whether it exists.
    """
    from hub.schedule.exports import render

    if principal is not None:
        frame = await event_frame(host, principal, event_id)
    else:
        async with host.db.system() as conn:  # system: anonymous; the settings decide below
            row = await queries.event_row(conn, event_id)
        refusal = Unauthorized(
            "this schedule is not published; sign in (Authorization: Bearer kt1_…) or ask the organizer "
            "to publish it"
        )
        if row is None:
            raise refusal
        frame = frame_of(row)
        settings = (await schedule_edits.snapshot(_replica(host), event_id)).settings
        if not settings.public:
            raise refusal
    state, index = await _index(host, event_id, frame)
    return render(kind, state.rooms, index.sessions, frame, room=room, speaker=speaker)


# --- grassroots proposals ------------------------------------------------------------------------


async def proposals(
    host: ScheduleHost, principal: Principal, event_id: str, status: str | None = None
) -> list[ProposalView]:
    """The event's proposals (``status``: pending, approved, rejected; None or "all": every one).

    Oldest first; pending ones carry the best free slots for them.
    """
    if status not in (None, "all", "pending", "approved", "rejected"):
        raise Invalid(f"unknown status {status!r}: pending, approved, rejected or all", field="status")
    frame = await event_frame(host, principal, event_id)
    async with host.db.tenant(principal.org_id) as conn:
        rows = await queries.proposals(conn, event_id)
        state, index = await _index(host, event_id, frame)
        views = await _views(conn, rows, state, index, status)
    return views


async def get_proposal(
    host: ScheduleHost, principal: Principal, event_id: str, proposal_id: str
) -> ProposalView:
    frame = await event_frame(host, principal, event_id)
    async with host.db.tenant(principal.org_id) as conn:
        rows = await queries.proposals(conn, event_id, proposal_id)
        if not rows:
            raise _unknown_proposal(proposal_id)
        state, index = await _index(host, event_id, frame)
        return (await _views(conn, rows, state, index, None))[0]


def _unknown_proposal(proposal_id: str) -> NotFound:
    return NotFound(
        f"there is no proposal '{proposal_id}' in this event",
        code="unknown_proposal",
        proposal_id=proposal_id,
    )


async def _views(
    conn: AsyncConnection,
    rows: list[queries.ProposalRow],
    state: schedule_edits.ScheduleState,
    index: ScheduleIndex,
    status: str | None,
) -> list[ProposalView]:
    states, twice = proposal_states([r.proposal_id for r in rows], state.decisions)
    conflicts: dict[str, list[Conflict]] = {}
    for conflict in twice + slot_conflicts(index, state.decisions):
        conflicts.setdefault(conflict.proposal_id, []).append(conflict)
    deciders = await _names(conn, {s.decided_by for s in states.values() if s.decided_by})
    views = []
    for row in rows:
        current = states[row.proposal_id]
        if status not in (None, "all") and current.status != status:
            continue
        suggestions = _suggest(index, row) if current.status == "pending" else []
        decision = None
        if current.decided_by is not None or current.decision_id is not None:
            by = current.decided_by
            decision = DecisionView(
                decision_id=current.decision_id,
                by=deciders.get(by, by) if by else None,
                at=current.decided_at,
                reason=current.reason,
            )
        views.append(
            ProposalView(
                proposal_id=row.proposal_id,
                ref=row.ref or proposal_ref(row.proposal_id),
                title=row.title,
                description=row.description,
                proposer=Person(id=row.proposer, name=row.proposer_name) if row.proposer else None,
                host_name=row.host,
                duration_min=row.duration_min,
                attendance=row.attendance,
                wished_rooms=row.wished_rooms,
                wished_from=row.wished_from,
                wished_to=row.wished_to,
                type=row.type,
                language=row.language,
                at=row.at,
                device=row.device_id,
                status=current.status,
                decision=decision,
                session_id=current.session_id,
                conflicts=conflicts.get(row.proposal_id, []),
                suggestions=suggestions,
            )
        )
    return views


async def _names(conn: AsyncConnection, ids: set[str]) -> dict[str, str]:
    """Organizer accounts by id (decisions made on the hub record the account): their e-mail."""
    uuids = [i for i in ids if len(i) == 36 and i.count("-") == 4]
    if not uuids:
        return {}
    rows = await conn.execute(
        text("SELECT id::text AS id, email FROM account WHERE id::text = ANY(:ids)"), {"ids": uuids}
    )
    return {r.id: r.email for r in rows}


def _query_for(row: queries.ProposalRow, *, limit: int, rooms: Sequence[str] = ()) -> SlotQuery:
    wished: list[tuple[int, int]] = []
    if row.wished_from is not None:
        wished.append((row.wished_from, row.wished_to or row.wished_from + row.duration_min * MINUTE))
    return SlotQuery(
        duration_ms=row.duration_min * MINUTE,
        attendance=row.attendance,
        rooms=tuple(rooms),
        grassroots=True,
        wished=tuple(wished),
        host=row.proposer,
        limit=limit,
    )


def _suggest(index: ScheduleIndex, row: queries.ProposalRow) -> list[Slot]:
    """The best slots for a proposal: in the rooms it wished for if any fit, else anywhere open to it."""
    if row.wished_rooms:
        found = find_slots(index, _query_for(row, limit=SUGGESTIONS, rooms=row.wished_rooms))
        if found:
            return found
    return find_slots(index, _query_for(row, limit=SUGGESTIONS))


async def _proposal_row(
    host: ScheduleHost, principal: Principal, event_id: str, proposal_id: str
) -> queries.ProposalRow:
    async with host.db.tenant(principal.org_id) as conn:
        rows = await queries.proposals(conn, event_id, proposal_id)
    if not rows:
        raise _unknown_proposal(proposal_id)
    return rows[0]


def approval_session(
    row: queries.ProposalRow, decision_id: str, room_id: str, starts_at: int, duration_min: int
) -> Session:
    """The session an approval places (the same rule as the appliances')."""
    return grassroots_session(
        row, decision_id, room_id=room_id, starts_at=starts_at, ends_at=starts_at + duration_min * MINUTE
    )


def _duration(row: queries.ProposalRow, duration_min: int | None) -> int:
    minutes = row.duration_min if duration_min is None else duration_min
    if not 5 <= minutes <= 24 * 60:
        raise Invalid("a session lasts between 5 minutes and a day", field="duration_min")
    return minutes


async def reserve(
    host: ScheduleHost,
    principal: Principal,
    event_id: str,
    proposal_id: str,
    *,
    room_id: str,
    starts_at: int,
    duration_min: int | None = None,
) -> Reservation:
    """Check a slot for a proposal without writing anything (``requestSpace``).

    It holds nothing: a CRDT cannot hold a slot for a minute across boxes
    that may be offline; the approval checks again.
    """
    frame = await event_frame(host, principal, event_id, write=True)
    row = await _proposal_row(host, principal, event_id, proposal_id)
    minutes = _duration(row, duration_min)
    _, index = await _index(host, event_id, frame)
    probe = approval_session(row, "reservation", room_id, starts_at, minutes)
    found = index.check(probe)
    return Reservation(
        ok=not blocking(found), room_id=room_id, starts_at=starts_at, ends_at=probe.ends_at, findings=found
    )


async def approve(
    host: ScheduleHost,
    principal: Principal,
    event_id: str,
    proposal_id: str,
    *,
    room_id: str,
    starts_at: int,
    duration_min: int | None = None,
    overlap_reason: str | None = None,
) -> tuple[Decision, Session, list[Finding]]:
    """Approve a pending proposal into a room and slot: a decision and its session, in one write.

    Refused with 409 ``schedule_conflict`` (the findings' sentences) or
    ``already_decided``; ``overlap_reason`` approves an overlap explicitly.
    """
    frame = await event_frame(host, principal, event_id, write=True)
    row = await _proposal_row(host, principal, event_id, proposal_id)
    minutes = _duration(row, duration_min)
    decision, session, found = await schedule_edits.decide(
        _replica(host),
        event_id,
        proposal_id,
        "scheduled",
        frame,
        by=principal.account_id,
        known=lambda _: True,  # the proposal row above
        session=lambda decision_id: approval_session(row, decision_id, room_id, starts_at, minutes),
        overlap_reason=(overlap_reason or "").strip() or None,
        approver=await actor(host, principal),  # the approval's sentence names a person, not an id
    )
    assert session is not None
    details = {"room": room_id, "starts_at": starts_at, "session": session.id}
    await _audit(host, principal, "proposal.approve", event_id, f"proposal {proposal_id}", details)
    return decision, session, found


async def reject(
    host: ScheduleHost, principal: Principal, event_id: str, proposal_id: str, *, reason: str
) -> Decision:
    """Reject a pending proposal; the proposer is owed a reason."""
    frame = await event_frame(host, principal, event_id, write=True)
    if not reason.strip():
        raise Invalid("say why the proposal is rejected (the proposer sees it)", field="reason")
    await _proposal_row(host, principal, event_id, proposal_id)
    decision, _, _ = await schedule_edits.decide(
        _replica(host),
        event_id,
        proposal_id,
        "rejected",
        frame,
        by=principal.account_id,
        known=lambda _: True,
        reason=reason.strip()[:500],
    )
    await _audit(
        host, principal, "proposal.reject", event_id, f"proposal {proposal_id}", {"reason": decision.reason}
    )
    return decision


async def withdraw(
    host: ScheduleHost, principal: Principal, event_id: str, proposal_id: str, *, reason: str = ""
) -> Decision:
    """Take an approval back: the proposal is pending again and its session is cancelled."""
    frame = await event_frame(host, principal, event_id, write=True)
    await _proposal_row(host, principal, event_id, proposal_id)
    decision, _, _ = await schedule_edits.decide(
        _replica(host),
        event_id,
        proposal_id,
        "withdrawn",
        frame,
        by=principal.account_id,
        known=lambda _: True,
        reason=reason.strip()[:500],
    )
    await _audit(
        host, principal, "proposal.withdraw", event_id, f"proposal {proposal_id}", {"reason": decision.reason}
    )
    return decision


# --- child events and occupancy ------------------------------------------------------------------


async def child_events(host: ScheduleHost, principal: Principal, event_id: str) -> list[ChildEvent]:
    """The event's grassroots sessions as child events in the catalog, by start."""
    async with host.db.tenant(principal.org_id) as conn:
        await get_event(conn, event_id)
        return await queries.child_events(conn, event_id)


async def occupancy(
    host: ScheduleHost, principal: Principal, event_id: str, *, at: int | None = None
) -> list[RoomOccupancy]:
    """Per room: the session now, how many are inside (lists tied to the room), capacity and state."""
    async with host.db.tenant(principal.org_id) as conn:
        await get_event(conn, event_id)
        return await dashboard.occupancy(conn, event_id, at=now_ms() if at is None else at)
