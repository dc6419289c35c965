"""Schedule files in and out: pretalx/frab imports, iCalendar, frab XML and schedule JSON exports.

The formats themselves are :mod:`konferenco.schedule.formats` (shared with
the hub); this module puts them on the appliance's schedule:

* an import reads the whole file first (a bad file is refused with every
  problem and its line or path, and nothing is written), plans what changes
  by the sessions' stable ids, checks the result against every ``block``
  rule, and only then writes (:func:`sync.schedule_edits.apply_import`); a dry
  run does everything but the write, so it answers exactly what the import
  would (the same refusal, the same report);
* an export is made once per schedule version and filter
  (:meth:`~appliance.schedule.service.ScheduleService.memo`), and its bytes
  are stable for the same schedule, so the ETag (a hash of the body) only
  changes when what a calendar shows does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Literal

import msgspec

from appliance.schedule.service import ScheduleService
from konferenco.edge_input import check_value
from konferenco.errors import BadRequest
from konferenco.schedule.formats.plan import ImportReport
from konferenco.schedule.formats.problems import Problem, ScheduleFileError
from konferenco.schedule.model import Room, Session
from konferenco.schedule.rules import Finding, ScheduleIndex
from sync import schedule_edits

#: Largest schedule file a route takes (the app's default body limit is 64 KB).  The largest real
#: export we know (38C3, 1,007 sessions with descriptions) is about 3 MB as JSON.
MAX_UPLOAD = 20 * 1024 * 1024

ExportKind = Literal["ics", "xml", "json"]
MEDIA_TYPES: dict[str, str] = {
    "ics": "text/calendar",  # Litestar adds "; charset=utf-8" to text types
    "xml": "application/xml",
    "json": "application/json",
}


class ImportOutcome(msgspec.Struct, kw_only=True):
    """What an import did (or, for a dry run, would do).

    ``report`` lists the ids created, updated and unchanged (rooms and
    sessions), the file's sessions skipped with where and why, and says it in
    ``sentences``; ``warnings`` are the rules' ``warn`` findings on the result.
    """

    event: str
    dry_run: bool
    written: int  # rooms and sessions written (0 for a dry run, or when nothing changes)
    summary: str
    report: ImportReport
    warnings: list[Finding]


def _refuse_unstorable(rooms: dict[str, Room], sessions: dict[str, Session]) -> None:
    """Text a document may not hold (NUL, a lone surrogate) refuses the file, naming the session."""
    problems = []
    for kind, items in (("room", rooms), ("session", sessions)):
        for key, item in items.items():
            try:
                check_value(msgspec.to_builtins(item))
            except BadRequest as exc:
                where = f"{kind} {item.source_id if isinstance(item, Session) else ''}".strip()
                problems.append(Problem(where=where or kind, reason=exc.message, source_id=key))
    if problems:
        raise ScheduleFileError(problems)


async def import_schedule(
    service: ScheduleService,
    event_id: str,
    data: bytes,
    filename: str | None = None,
    *,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
    by: str = "import",
    overlap_reason: str | None = None,
) -> ImportOutcome:
    """Import a pretalx/frab schedule file whole, or refuse it and write nothing.

    Raises ``schedule_rejected`` (the file, every problem with where it is),
    ``schedule_conflict`` (what the result would break) or ``forbidden``
    (this box may not edit the schedule).
    """
    from konferenco.schedule import formats

    service.require_organizer_device("schedule imports")
    imported = formats.read_schedule(data, filename)
    state = await service.state(event_id)
    frame = await service.frame(event_id)
    plan = formats.plan_import(state.rooms, state.sessions, imported)
    rooms, sessions = dict(plan.rooms), dict(plan.sessions)
    _refuse_unstorable(rooms, sessions)
    warnings = await schedule_edits.apply_import(
        service.replica, event_id, rooms, sessions, frame,
        progress=progress, by=by, overlap_reason=overlap_reason, dry_run=dry_run,
    )  # fmt: skip
    return ImportOutcome(
        event=event_id,
        dry_run=dry_run,
        written=0 if dry_run else len(rooms) + len(sessions),
        summary=plan.report.summary,
        report=plan.report,
        warnings=warnings,
    )


# --- exports -----------------------------------------------------------------------------------


def render(
    index: ScheduleIndex, kind: ExportKind, *, room: str | None = None, speaker: str | None = None
) -> bytes:
    """The schedule in one format (every scheduled session, grassroots ones too)."""
    from konferenco.schedule import formats

    rooms, sessions, frame = index.rooms, index.sessions, index.frame
    if kind == "ics":
        return formats.write_ical(rooms, sessions, frame, room=room, speaker=speaker)
    if kind == "xml":
        return formats.write_frab_xml(rooms, sessions, frame)  # version: a hash of the content
    return formats.write_schedule_json(rooms, sessions, frame)


class Export(msgspec.Struct, frozen=True):
    body: bytes
    etag: str  # quoted, a hash of the body
    media_type: str


async def export(
    service: ScheduleService,
    event_id: str,
    kind: ExportKind,
    *,
    room: str | None = None,
    speaker: str | None = None,
) -> Export:
    """The export's bytes and ETag, made once per schedule version (and filter)."""

    def make(index: ScheduleIndex) -> Export:
        body = render(index, kind, room=room, speaker=speaker)
        return Export(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"', MEDIA_TYPES[kind])

    made: Export = await service.memo(event_id, ("export", kind, room, speaker), make)
    return made


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """Does the client's ``If-None-Match`` already name this version (RFC 9110: weak comparison)?"""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False
