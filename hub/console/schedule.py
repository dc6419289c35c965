"""An event's schedule in the console: the grid, rooms, sessions, import, settings and grassroots proposals.

Every page reads and every form writes through :mod:`hub.schedule.service`
(the same calls the JSON API makes), so the console refuses what the API
refuses, with the rule engine's own sentences.  This module only turns
forms into :class:`~konferenco.schedule.model.Room`,
:class:`~konferenco.schedule.model.Session` and
:class:`~konferenco.schedule.model.ScheduleSettings`, and answers into pages.

Times are typed and shown in the *event's* time zone (a ``datetime-local``
field means wall-clock time where the event happens), and every page says
which zone that is.

A refused change re-renders its form with what was typed and the reason, so
nothing an organizer typed is lost: a double-booked room shows the sentence
and offers the one way past it, an explicit overlap approval with a reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog import events as event_service
from hub.console.auth import OrgAccess, is_htmx
from hub.console.event import EVENT, base_context, event_scope
from hub.console.render import local_time, render, see_other
from hub.console.schedule_forms import (
    MAX_SCHEDULE_BYTES,
    RULE_LABELS,
    SEVERITIES,
    STATUSES,
    FormReader,
    local_input,
    pack_file,
    room_form,
    room_from_form,
    session_form,
    session_from_form,
    settings_form,
    settings_from_form,
    typed_room,
    typed_session,
    unpack_file,
)
from hub.console.schedule_grid import (
    day_grid,
    findings_by_session,
    on_day,
    pick_day,
    schedule_days,
    severity_counts,
)
from hub.devices.enrolment import list_devices
from hub.schedule import service
from hub.state import state_of
from hub.tenants.accounts import Principal
from konferenco.errors import Invalid, KonferencoError
from konferenco.schedule.model import KNOWN_FEATURES, KNOWN_TYPES, Room
from konferenco.schedule.rules import DEFAULT_SEVERITY, FIXED, RULES
from konferenco.types import now_ms

SCHEDULE = f"{EVENT}/schedule"
PROPOSALS = f"{EVENT}/proposals"
#: Why an organizer cannot lower a rule's severity (shown next to the disabled choice).
FIXED_WHY = {
    "room_overlap": "Always blocks: a double-booked room is the mistake attendees notice in person. "
    "Approve an overlap on the session itself, with a reason, when it is intended.",
    "bad_time": "Always blocks: such a session cannot be placed anywhere.",
}


# --- shared page parts ----------------------------------------------------------------------


async def scope(
    request: Request[Any, Any, Any], access: OrgAccess, event: str
) -> tuple[event_service.EventRow, Principal]:
    """The event, if it is this organization's (NotFound otherwise, as on every event page), and the
    visitor as the acting principal, with their e-mail: an approved overlap names who approved it, and
    "approved by ada@example.org" means something to the next organizer where an account id does not."""
    async with event_scope(request, access, event) as (conn, row):
        found = await conn.execute(
            text("SELECT email FROM account WHERE id = :a"), {"a": access.principal.account_id}
        )
        email = found.scalar_one_or_none()
    return row, dataclasses.replace(access.principal, email=str(email or ""))


def page_context(access: OrgAccess, row: event_service.EventRow, section: str, tab: str) -> dict[str, Any]:
    base = base_context(access, row, section)
    return {
        **base,
        "tab": tab,
        "schedule_url": f"{base['event_url']}/schedule",
        "proposals_url": f"{base['event_url']}/proposals",
        "tz": row.timezone,
        "rule_labels": RULE_LABELS,
        "local_input": local_input,
    }


def rooms_in_order(rooms: Iterable[Room]) -> list[Room]:
    return sorted(rooms, key=lambda r: (r.position, r.name.casefold(), r.id))


def _plain(value: Any) -> Any:
    """A value of an error's details or a report as JSON-like values, for the templates."""
    return value if isinstance(value, str | int | float | dict | list) else msgspec.to_builtins(value)


def _message_of(exc: KonferencoError) -> dict[str, Any]:
    """What a form shows for a refusal: the sentence(s), the findings, the problems."""
    findings = [f for f in exc.details.get("findings", []) if isinstance(f, dict)]
    return {
        "message": exc.message,
        "code": exc.code,
        "findings": findings,
        "problems": [_plain(p) for p in exc.details.get("problems", [])],
        "more": exc.details.get("more", 0),
        "overlap": any(f.get("rule") == "room_overlap" for f in findings),
    }


def _refusal_or_raise(exc: KonferencoError) -> dict[str, Any]:
    """Refusals a form can show; a missing event or a missing role go to the error page instead."""
    if exc.code in ("forbidden", "not_found", "unauthorized", "unknown_proposal"):
        raise exc
    return _message_of(exc)


# --- the schedule page ----------------------------------------------------------------------


@get(SCHEDULE, include_in_schema=False)
async def schedule_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    day: Annotated[str, QueryParameter(name="day", max_length=10)] = "",
    saved: Annotated[str, QueryParameter(name="saved", max_length=64)] = "",
    done: Annotated[str, QueryParameter(name="done", max_length=32)] = "",
) -> Template:
    row, who = await scope(request, access, event)
    view = await service.schedule_view(state_of(request), who, row.id)
    zone = view.frame.zone
    rooms = rooms_in_order(view.rooms)
    sessions = list(view.sessions)
    days = schedule_days(view.days or view.frame.days(), sessions, zone)
    chosen = pick_day(days, day, now_ms(), zone)
    grid = day_grid(rooms, sessions, chosen, zone)
    per_session = findings_by_session(view.findings)
    by_id = {s.id: s for s in sessions}
    day_counts = {d: len(on_day(sessions, d, zone)) for d in days}
    context = {
        **page_context(access, row, "schedule", "grid"),
        "view": view,
        "rooms": rooms,
        "days": days,
        "day": chosen,
        "day_counts": day_counts,
        "day_labels": {d: f"{dt.date.fromisoformat(d):%a %d %b}" for d in days},
        "day_long": f"{dt.date.fromisoformat(chosen):%A %d %B %Y}",
        "grid": grid,
        "findings": view.findings,
        "finding_counts": severity_counts(view.findings),
        "per_session": per_session,
        "sessions_by_id": by_id,
        "unplaced": sorted((s for s in sessions if not s.placed), key=lambda s: (s.status, s.starts_at)),
        "saved": by_id.get(saved),
        "saved_findings": per_session.get(saved, []),
        "done": done,
        "conflicts": view.conflicts,
        "public": view.settings.public,
    }
    return render("event/schedule.html", context)


# --- rooms ----------------------------------------------------------------------------------


async def _room_page(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    event: str,
    room_id: str | None,
    *,
    form: dict[str, Any] | None = None,
    refusal: dict[str, Any] | None = None,
    status: int = 200,
) -> Template:
    row, who = await scope(request, access, event)
    view = await service.schedule_view(state_of(request), who, row.id)
    room = next((r for r in view.rooms if r.id == room_id), None) if room_id else None
    if room_id and room is None:
        raise KonferencoError(f"there is no room '{room_id}' in this schedule", code="unknown_room")
    users = [s for s in view.sessions if room and s.room_id == room.id and s.placed]
    context = {
        **page_context(access, row, "schedule", "rooms"),
        "room": room,
        "form": form or room_form(room, view.frame.days()),
        "known_features": KNOWN_FEATURES,
        "refusal": refusal,
        "room_sessions": sorted(users, key=lambda s: s.starts_at),
        "rooms": rooms_in_order(view.rooms),
    }
    return render("event/schedule_room.html", context, status=status)


@get(f"{SCHEDULE}/rooms", include_in_schema=False)
async def rooms_page(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    """The rooms, and the form to add one."""
    return await _room_page(request, access, event, None)


@get(f"{SCHEDULE}/rooms/{{room:str}}", include_in_schema=False)
async def room_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    room: FromPath[str],
) -> Template:
    return await _room_page(request, access, event, room)


@post(f"{SCHEDULE}/rooms", include_in_schema=False, status_code=303)
async def room_save(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[Any]:
    """Add a room, or change one (the form's ``editing`` field names it)."""
    access.require_editor()
    row, who = await scope(request, access, event)
    state = state_of(request)
    form = await request.form()
    view = await service.schedule_view(state, who, row.id)
    editing = form.get("editing")
    existing = next((r for r in view.rooms if r.id == editing), None) if isinstance(editing, str) else None
    reader = FormReader(form, view.frame.zone)
    try:
        room = room_from_form(reader, existing, (r.id for r in view.rooms))
        await service.save_room(state, who, row.id, room)
    except KonferencoError as exc:
        refusal = _refusal_or_raise(exc)
        typed = typed_room(form, existing, view.frame.days())
        return await _room_page(
            request,
            access,
            event,
            existing.id if existing else None,
            form=typed,
            refusal=refusal,
            status=exc.status,
        )
    return see_other(f"{_urls(access, row)['schedule']}?done=room-saved")


@post(f"{SCHEDULE}/rooms/{{room:str}}/delete", include_in_schema=False, status_code=303)
async def room_delete(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    room: FromPath[str],
) -> Response[Any]:
    """Remove a room that no scheduled session uses (the refusal names how many do)."""
    access.require_editor()
    row, who = await scope(request, access, event)
    try:
        await service.delete_room(state_of(request), who, row.id, room)
    except KonferencoError as exc:
        refusal = _refusal_or_raise(exc)
        return await _room_page(request, access, event, room, refusal=refusal, status=exc.status)
    return see_other(f"{_urls(access, row)['schedule']}?done=room-deleted")


# --- sessions -------------------------------------------------------------------------------


def _urls(access: OrgAccess, row: event_service.EventRow) -> dict[str, str]:
    event_url = f"/console/{access.membership.slug}/events/{row.id}"
    return {"event": event_url, "schedule": f"{event_url}/schedule", "proposals": f"{event_url}/proposals"}


async def _session_page(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    event: str,
    session_id: str | None,
    *,
    form: dict[str, Any] | None = None,
    refusal: dict[str, Any] | None = None,
    status: int = 200,
    room: str = "",
    start: str = "",
) -> Template:
    row, who = await scope(request, access, event)
    view = await service.schedule_view(state_of(request), who, row.id)
    session = next((s for s in view.sessions if s.id == session_id), None) if session_id else None
    if session_id and session is None:
        raise KonferencoError(f"there is no session '{session_id}' in this schedule", code="unknown_session")
    types = list(KNOWN_TYPES)
    if session and session.type not in types:
        types.append(session.type)
    context = {
        **page_context(access, row, "schedule", "grid"),
        "session": session,
        "form": form or session_form(session, row.timezone, room=room, start=start),
        "rooms": rooms_in_order(view.rooms),
        "types": types,
        "statuses": STATUSES,
        "refusal": refusal,
        "session_findings": findings_by_session(view.findings).get(session_id or "", []),
        "back_day": local_time(session.starts_at, row.timezone, "%Y-%m-%d") if session else "",
    }
    return render("event/schedule_session.html", context, status=status)


@get(f"{SCHEDULE}/sessions/new", include_in_schema=False)
async def session_new_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    room: Annotated[str, QueryParameter(name="room", max_length=64)] = "",
    day: Annotated[str, QueryParameter(name="day", max_length=10)] = "",
) -> Template:
    start = f"{day}T09:00" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day) else ""
    return await _session_page(request, access, event, None, room=room, start=start)


@get(f"{SCHEDULE}/sessions/{{session:str}}", include_in_schema=False)
async def session_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    session: FromPath[str],
) -> Template:
    return await _session_page(request, access, event, session)


@post(f"{SCHEDULE}/sessions", include_in_schema=False, status_code=303)
async def session_save(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[Any]:
    """Add or change a session; a refusal shows the form again with the rule's sentence.

    A ``room_overlap`` refusal also shows the overlap approval field: sent
    with a reason, the overlap is recorded with who approved it and why.
    """
    access.require_editor()
    row, who = await scope(request, access, event)
    state = state_of(request)
    form = await request.form()
    view = await service.schedule_view(state, who, row.id)
    editing = form.get("editing")
    existing = next((s for s in view.sessions if s.id == editing), None) if isinstance(editing, str) else None
    reader = FormReader(form, view.frame.zone)
    overlap = reader.text("overlap_reason", "Reason for the overlap", max_len=500) or None
    try:
        session = session_from_form(reader, existing)
        saved, _ = await service.save_session(state, who, row.id, session, overlap_reason=overlap)
    except KonferencoError as exc:
        refusal = _refusal_or_raise(exc)
        typed = typed_session(form, existing, row.timezone)
        return await _session_page(
            request,
            access,
            event,
            existing.id if existing else None,
            form=typed,
            refusal=refusal,
            status=exc.status,
        )
    day = local_time(saved.starts_at, row.timezone, "%Y-%m-%d")
    return see_other(f"{_urls(access, row)['schedule']}?day={day}&saved={saved.id}")


@post(f"{SCHEDULE}/sessions/{{session:str}}/cancel", include_in_schema=False, status_code=303)
async def session_cancel(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    session: FromPath[str],
) -> Response[Any]:
    """Cancel a session: it leaves the grid and the exports and frees its room; it can be restored."""
    access.require_editor()
    row, who = await scope(request, access, event)
    cancelled = await service.cancel_session(state_of(request), who, row.id, session)
    day = local_time(cancelled.starts_at, row.timezone, "%Y-%m-%d")
    return see_other(f"{_urls(access, row)['schedule']}?day={day}&done=cancelled")


# --- import ---------------------------------------------------------------------------------


def report_of(outcome: Any) -> dict[str, Any]:
    """The import report as plain values for the template, whatever struct the service returns."""
    report = getattr(outcome, "report", outcome)
    plain = msgspec.to_builtins(report) if not isinstance(report, dict) else report
    return plain if isinstance(plain, dict) else {"summary": str(plain)}


async def _import_page(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    row: event_service.EventRow,
    outcome: dict[str, Any] | None,
    *,
    status: int = 200,
) -> Template:
    context = {**page_context(access, row, "schedule", "import"), "outcome": outcome}
    if outcome is not None and is_htmx(request):
        return render("event/schedule_import_result.html", context, status=status)
    return render("event/schedule_import.html", context, status=status)


@get(f"{SCHEDULE}/import", include_in_schema=False)
async def import_page(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    row, _ = await scope(request, access, event)
    return await _import_page(request, access, row, None)


#: The confirmation carries the file base64-encoded (a third larger when it does not compress), so the
#: route takes twice the file limit; the file itself is held to :data:`MAX_SCHEDULE_BYTES`.
@post(f"{SCHEDULE}/import", include_in_schema=False, request_max_body_size=MAX_SCHEDULE_BYTES * 2)
async def import_upload(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    """Preview an uploaded schedule (nothing written), or import the previewed one when confirmed."""
    access.require_editor()
    row, who = await scope(request, access, event)
    form = await request.form()
    upload = form.get("file")
    confirm = form.get("confirm") == "1"
    if isinstance(upload, UploadFile) and upload.filename:
        filename, data = upload.filename, await upload.read()
        confirm = False  # a newly chosen file is always previewed first
    else:
        packed, name = form.get("payload"), form.get("filename")
        if not isinstance(packed, str) or not packed or not isinstance(name, str):
            raise Invalid("choose a pretalx or frab schedule file (JSON or XML) to import")
        filename, data = name, unpack_file(packed)
    if len(data) > MAX_SCHEDULE_BYTES:
        raise KonferencoError(
            f"the file is larger than {MAX_SCHEDULE_BYTES // (1024 * 1024)} MB", code="body_too_large"
        )
    outcome: dict[str, Any] = {"filename": filename, "dry_run": not confirm}
    status = 200
    try:
        result = await service.import_schedule(
            state_of(request), who, row.id, filename, data, dry_run=not confirm
        )
        outcome["report"] = report_of(result)
        outcome["warnings"] = [_plain(w) for w in getattr(result, "warnings", [])]
        if not confirm:
            outcome["payload"] = pack_file(filename, data)
    except KonferencoError as exc:
        if exc.code in ("forbidden", "not_found", "unauthorized"):
            raise
        outcome["refused"] = _message_of(exc)
        status = exc.status
    return await _import_page(request, access, row, outcome, status=status)


# --- settings -------------------------------------------------------------------------------


async def _settings_page(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    event: str,
    *,
    form: dict[str, Any] | None = None,
    refusal: dict[str, Any] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Template:
    row, who = await scope(request, access, event)
    view = await service.schedule_view(state_of(request), who, row.id)
    rooms = rooms_in_order(view.rooms)
    context = {
        **page_context(access, row, "schedule", "settings"),
        "form": form or settings_form(view.settings, row.timezone),
        "rooms": rooms,
        "grassroots_rooms": [r for r in rooms if r.grassroots],
        "rules": RULES,
        "fixed": FIXED,
        "fixed_why": FIXED_WHY,
        "default_severity": DEFAULT_SEVERITY,
        "severities": SEVERITIES,
        "refusal": refusal,
        "saved": saved,
    }
    return render("event/schedule_settings.html", context, status=status)


@get(f"{SCHEDULE}/settings", include_in_schema=False)
async def settings_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    saved: Annotated[str, QueryParameter(name="saved", max_length=4)] = "",
) -> Template:
    return await _settings_page(request, access, event, saved=saved == "1")


@post(f"{SCHEDULE}/settings", include_in_schema=False, status_code=303)
async def settings_save(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[Any]:
    access.require_editor()
    row, who = await scope(request, access, event)
    state = state_of(request)
    form = await request.form()
    view = await service.schedule_view(state, who, row.id)
    reader = FormReader(form, view.frame.zone)
    try:
        settings = settings_from_form(reader, view.settings)
        await service.save_settings(state, who, row.id, settings)
    except KonferencoError as exc:
        refusal = _refusal_or_raise(exc)
        typed = settings_form(view.settings, row.timezone)
        typed.update(
            {
                "enabled": reader.flag("enabled"),
                "opens": reader.raw("opens"),
                "closes": reader.raw("closes"),
                "rooms": reader.all("rooms"),
                "min_minutes": reader.raw("min_minutes"),
                "max_minutes": reader.raw("max_minutes"),
                "max_open": reader.raw("max_open"),
                "slot_step": reader.raw("slot_step"),
                "public": reader.flag("public"),
            }
        )
        for rule in RULES:
            if rule not in FIXED and reader.raw(f"severity_{rule}") in SEVERITIES:
                typed["severities"][rule] = reader.raw(f"severity_{rule}")
        return await _settings_page(request, access, event, form=typed, refusal=refusal, status=exc.status)
    return see_other(f"{_urls(access, row)['schedule']}/settings?saved=1")


# --- exports --------------------------------------------------------------------------------

ExportKind = Literal["ics", "xml", "json"]
EXPORTS: dict[str, tuple[ExportKind, str]] = {
    "ics": ("ics", "text/calendar; charset=utf-8"),
    "xml": ("xml", "application/xml; charset=utf-8"),
    "json": ("json", "application/json"),
}


@get([f"{SCHEDULE}.ics", f"{SCHEDULE}.xml", f"{SCHEDULE}.json"], include_in_schema=False)
async def schedule_export(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[bytes]:
    """The schedule as iCalendar, frab XML or schedule JSON for a signed-in organizer (the API's files,
    which conference apps fetch with a token, or without one once the schedule is published)."""
    kind, media = EXPORTS[request.url.path.rsplit(".", 1)[-1]]
    row, who = await scope(request, access, event)
    body = await service.export_schedule(state_of(request), who, row.id, kind)
    return Response(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{row.id}-schedule.{kind}"',
            "Cache-Control": "no-store",
        },
    )


# --- grassroots proposals -------------------------------------------------------------------


async def _proposals_page(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    event: str,
    *,
    refusals: Mapping[str, dict[str, Any]] | None = None,
    typed: Mapping[str, dict[str, Any]] | None = None,
    done: str = "",
    status: int = 200,
) -> Template:
    row, who = await scope(request, access, event)
    state = state_of(request)
    view = await service.schedule_view(state, who, row.id)
    listed = await service.proposals(state, who, row.id)
    pending = sorted((p for p in listed if p.status == "pending"), key=lambda p: (p.at, p.proposal_id))
    approved = sorted((p for p in listed if p.status == "approved"), key=lambda p: (p.at, p.proposal_id))
    rejected = sorted((p for p in listed if p.status == "rejected"), key=lambda p: (p.at, p.proposal_id))
    rooms = rooms_in_order(view.rooms)
    refusals = dict(refusals or {})
    async with event_scope(request, access, event) as (conn, _):
        devices = {d.id: d.name for d in await list_devices(conn, row.id) if d.name}
        sentences = [c.message for c in view.conflicts] + [r["message"] for r in refusals.values()]
        emails = await account_emails(conn, sentences)
    conflicts = [msgspec.structs.replace(c, message=with_emails(c.message, emails)) for c in view.conflicts]
    for pid, refusal in refusals.items():
        refusals[pid] = {**refusal, "message": with_emails(refusal["message"], emails)}
    context = {
        **page_context(access, row, "proposals", "proposals"),
        "pending": pending,
        "approved": approved,
        "rejected": rejected,
        "conflicts": conflicts,
        "sessions_by_id": {s.id: s for s in view.sessions},
        "rooms": rooms,
        "room_names": {r.id: r.name for r in rooms},
        "device_names": devices,
        "grassroots_on": view.settings.grassroots.enabled,
        "refusals": refusals,
        "typed": typed or {},
        "done": done,
    }
    return render("event/proposals.html", context, status=status)


_ACCOUNT_ID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


async def account_emails(conn: AsyncConnection, texts: Iterable[str]) -> dict[str, str]:
    """The e-mail of every organizer account an id of which appears in ``texts``.

    A decision made on the hub records the deciding account's id (an e-mail
    can change; the id cannot), and the shared rules word a conflict or an
    ``already_decided`` refusal with what the decision recorded; the organizer
    reading it needs the address.
    """
    ids = sorted({m for t in texts for m in _ACCOUNT_ID.findall(t)})
    if not ids:
        return {}
    rows = await conn.execute(
        text("SELECT id::text AS id, email FROM account WHERE id::text = ANY(:ids)"), {"ids": ids}
    )
    return {r.id: r.email for r in rows}


def with_emails(sentence: str, emails: Mapping[str, str]) -> str:
    return _ACCOUNT_ID.sub(lambda m: emails.get(m[0], m[0]), sentence) if emails else sentence


@get(PROPOSALS, include_in_schema=False)
async def proposals_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    done: Annotated[str, QueryParameter(name="done", max_length=80)] = "",
) -> Template:
    return await _proposals_page(request, access, event, done=done)


@post(f"{PROPOSALS}/{{proposal:str}}/approve", include_in_schema=False, status_code=303)
async def proposal_approve(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    proposal: FromPath[str],
) -> Response[Any]:
    """Approve into a room and a start (a suggested slot's button, or the custom form)."""
    access.require_editor()
    row, who = await scope(request, access, event)
    form = await request.form()
    reader = FormReader(form, ZoneInfo(row.timezone) if row.timezone else ZoneInfo("UTC"))
    try:
        room_id = reader.text("room_id", "Room", max_len=64, required=True)
        starts = _start_of(reader)
        duration = reader.number("duration_min", "Duration (minutes)", lo=1, hi=24 * 60)
        overlap = reader.text("overlap_reason", "Reason for the overlap", max_len=500) or None
        reader.done()
        assert starts is not None
        decision, session, _ = await service.approve(
            state_of(request),
            who,
            row.id,
            proposal,
            room_id=room_id,
            starts_at=starts,
            duration_min=duration,
            overlap_reason=overlap,
        )
    except KonferencoError as exc:
        refusal = _refusal_or_raise(exc)
        typed = {
            "room_id": reader.raw("room_id"),
            "starts": reader.raw("starts") or local_input(_ms(reader.raw("starts_at")), row.timezone),
            "duration_min": reader.raw("duration_min"),
            "overlap_reason": reader.raw("overlap_reason"),
        }
        return await _proposals_page(
            request, access, event, refusals={proposal: refusal}, typed={proposal: typed}, status=exc.status
        )
    day = local_time(session.starts_at, row.timezone, "%Y-%m-%d")
    return see_other(f"{_urls(access, row)['proposals']}?done=approved:{decision.proposal_id}:{day}")


def _ms(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _start_of(reader: FormReader) -> int | None:
    """A suggested slot's exact start (``starts_at``, ms) or a typed one (``starts``, event time)."""
    exact = _ms(reader.raw("starts_at"))
    if exact is not None:
        return exact
    return reader.moment("starts", "Start", required=True)


@post(f"{PROPOSALS}/{{proposal:str}}/reject", include_in_schema=False, status_code=303)
async def proposal_reject(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    proposal: FromPath[str],
) -> Response[Any]:
    """Reject with a reason (required: the proposer is told why)."""
    return await _decide(request, access, event, proposal, "reject")


@post(f"{PROPOSALS}/{{proposal:str}}/withdraw", include_in_schema=False, status_code=303)
async def proposal_withdraw(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    proposal: FromPath[str],
) -> Response[Any]:
    """Withdraw an approval: its session is cancelled and the proposal is pending again."""
    return await _decide(request, access, event, proposal, "withdraw")


async def _decide(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    event: str,
    proposal: str,
    what: Literal["reject", "withdraw"],
) -> Response[Any]:
    access.require_editor()
    row, who = await scope(request, access, event)
    form = await request.form()
    reader = FormReader(form, ZoneInfo("UTC"))
    reason = reader.text("reason", "Reason", max_len=500, required=True)
    try:
        reader.done()
        decide = service.reject if what == "reject" else service.withdraw
        await decide(state_of(request), who, row.id, proposal, reason=reason)
    except KonferencoError as exc:
        refusal = _refusal_or_raise(exc)
        return await _proposals_page(
            request,
            access,
            event,
            refusals={proposal: {**refusal, "what": what}},
            typed={proposal: {f"{what}_reason": reader.raw("reason")}},
            status=exc.status,
        )
    done = "rejected" if what == "reject" else "withdrawn"
    return see_other(f"{_urls(access, row)['proposals']}?done={done}:{proposal}")


# --- now: rooms and child events on the dashboard -------------------------------------------


@get(f"{SCHEDULE}/now", include_in_schema=False)
async def schedule_now(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[Any]:
    """What is on in each room now, how full it is, and the approved grassroots child events.

    The dashboard loads this fragment and refreshes it; an event without
    rooms answers htmx's "stop polling" (286) with nothing to show.
    """
    row, who = await scope(request, access, event)
    state = state_of(request)
    occupancy = await service.occupancy(state, who, row.id)
    children = await service.child_events(state, who, row.id)
    if not occupancy and not children:
        return Response(b"", status_code=286, media_type="text/html")
    context = {
        **page_context(access, row, "dashboard", "now"),
        "occupancy": occupancy,
        "children": children,
        "now": now_ms(),
    }
    return render("event/schedule_now.html", context)


SCHEDULE_ROUTES = [
    schedule_page,
    rooms_page,
    room_page,
    room_save,
    room_delete,
    session_new_page,
    session_page,
    session_save,
    session_cancel,
    import_page,
    import_upload,
    settings_page,
    settings_save,
    schedule_export,
    proposals_page,
    proposal_approve,
    proposal_reject,
    proposal_withdraw,
    schedule_now,
]

__all__ = ["SCHEDULE_ROUTES"]
