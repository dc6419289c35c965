"""What importing a file would change: created, updated, unchanged, skipped, and what stays untouched.

An import never deletes.  A session that is here but not in the file stays
as it is (grassroots sessions, sessions added at the venue, or sessions
dropped upstream that an organizer should remove by hand); the report says
how many.  What the venue added to an imported record survives a re-import:
a room keeps its opening hours, features, grassroots flag and changeover
buffer (the file only brings its name and capacity); a session keeps its
expected attendance, attendee-linked speakers, host and grassroots flag,
stays cancelled if it was cancelled here, and keeps an approved overlap as
long as its room and times do not change.

Matching, in order: a room by id, then by name (a room an organizer created
by hand as "Hall A" takes the file's "Hall A" sessions); a session by id,
then by the guid our own exports give it (a file exported from here,
edited and imported again updates instead of duplicating).
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from konferenco.schedule.model import EventFrame, Room, Session, fold_name, local

from .identity import session_guid
from .imported import ImportedSchedule
from .problems import Problem
from .values import short_hash


class Changes(msgspec.Struct, kw_only=True):
    """Ids by what the import does to them."""

    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []


class ImportReport(msgspec.Struct, kw_only=True):
    """What an import does, for the organizer (``sentences``) and for programs (the lists)."""

    format: str
    title: str
    rooms: Changes
    sessions: Changes
    #: Sessions of the file left out, each with where and why.
    skipped: list[Problem] = []
    warnings: list[Problem] = []
    #: Sessions here that the file does not have: left as they are.
    not_in_file: list[str] = []
    #: Sessions cancelled here that the file still lists: they stay cancelled.
    kept_cancelled: list[str] = []
    #: The report in words, first the summary line.
    sentences: list[str] = []

    @property
    def summary(self) -> str:
        return self.sentences[0] if self.sentences else ""


class ImportPlan(msgspec.Struct, kw_only=True):
    """The rooms and sessions to write (only what changes) and the report.

    Hand ``rooms`` and ``sessions`` to ``sync.schedule_edits.apply_import``,
    which checks the rules on the whole result before writing anything.
    """

    rooms: dict[str, Room]
    sessions: dict[str, Session]
    report: ImportReport
    #: Id written → where the session is in the file: a refusal by the rules can name the line.
    places: dict[str, str] = {}

    @property
    def changes_nothing(self) -> bool:
        return not self.rooms and not self.sessions


def plan_import(
    existing_rooms: Mapping[str, Room],
    existing_sessions: Mapping[str, Session],
    imported: ImportedSchedule,
    frame: EventFrame | None = None,
) -> ImportPlan:
    """Match the file's rooms and sessions to the schedule's and say what writing them changes. Pure.

    With the event's ``frame``, the report also says when the file's time
    zone is not the event's, and when the file's sessions fall outside the
    event's dates (the usual sign of the wrong file or the wrong event;
    the rules would refuse those sessions one by one).
    """
    room_changes = Changes()
    to_write_rooms: dict[str, Room] = {}
    room_map = _plan_rooms(existing_rooms, imported, to_write_rooms, room_changes)

    session_changes = Changes()
    to_write: dict[str, Session] = {}
    kept_cancelled: list[str] = []
    by_guid = {session_guid(s): sid for sid, s in existing_sessions.items()}
    matched: set[str] = set()
    places: dict[str, str] = {}
    for sid, new in imported.sessions.items():
        where = imported.places.get(sid, "")
        new = msgspec.structs.replace(new, room_id=room_map.get(new.room_id, new.room_id))
        target = sid if sid in existing_sessions else by_guid.get(sid)
        if target is None or target in matched:
            if sid in existing_sessions or sid in to_write:  # the id is taken by another match
                new = msgspec.structs.replace(new, id=f"{sid[:55]}-{short_hash(sid + 'dup')}")
            to_write[new.id] = new
            session_changes.created.append(new.id)
            places[new.id] = where
            continue
        matched.add(target)
        places[target] = where
        old = existing_sessions[target]
        merged = _merge_session(old, new, ours=imported.format.startswith("konferenco"))
        if merged.status == "cancelled" and old.status == "cancelled":
            kept_cancelled.append(target)
        if merged == old:
            session_changes.unchanged.append(target)
        else:
            to_write[target] = merged
            session_changes.updated.append(target)
    not_in_file = [sid for sid in existing_sessions if sid not in matched]
    report = ImportReport(
        format=imported.format,
        title=imported.title,
        rooms=room_changes,
        sessions=session_changes,
        skipped=list(imported.skipped),
        warnings=list(imported.warnings),
        not_in_file=not_in_file,
        kept_cancelled=kept_cancelled,
    )
    report.sentences = _sentences(report, existing_sessions) + _frame_sentences(imported, frame)
    return ImportPlan(rooms=to_write_rooms, sessions=to_write, report=report, places=places)


def _plan_rooms(
    existing: Mapping[str, Room], imported: ImportedSchedule, to_write: dict[str, Room], changes: Changes
) -> dict[str, str]:
    """Imported room id → the id it is written under; fills ``to_write`` and ``changes``."""
    by_name: dict[str, str] = {}
    for rid, room in existing.items():
        by_name.setdefault(fold_name(room.name), rid)
    next_position = max((r.position for r in existing.values()), default=-1) + 1  # new rooms go last
    used: set[str] = set()
    room_map: dict[str, str] = {}
    for rid, room in imported.rooms.items():
        target = rid if rid in existing and rid not in used else None
        if target is None:
            named = by_name.get(fold_name(room.name))
            target = named if named is not None and named not in used else None
        if target is None:
            new_id = rid if rid not in existing else f"{rid[:55]}-{short_hash(room.name + 'dup')}"
            to_write[new_id] = msgspec.structs.replace(room, id=new_id, position=next_position)
            next_position += 1
            changes.created.append(new_id)
            room_map[rid] = new_id
            used.add(new_id)
            continue
        used.add(target)
        room_map[rid] = target
        old = existing[target]
        merged = msgspec.structs.replace(
            old, name=room.name, capacity=room.capacity if room.capacity is not None else old.capacity
        )
        if merged == old:
            changes.unchanged.append(target)
        else:
            to_write[target] = merged
            changes.updated.append(target)
    return room_map


def _merge_session(old: Session, new: Session, *, ours: bool) -> Session:
    """The file's values over what only the venue knows (see the module docstring).

    ``ours``: the file is an export of ours; its guid, slug and URL are ours,
    not a source's, and do not replace where the session came from.
    """
    moved = (new.room_id, new.starts_at, new.ends_at) != (old.room_id, old.starts_at, old.ends_at)
    speakers = new.speakers
    if old.host_name and old.host_name not in old.speakers:  # our exports list the host as a person
        speakers = [n for n in speakers if n != old.host_name]
    return msgspec.structs.replace(
        new,
        id=old.id,
        speakers=speakers,
        speaker_ids=old.speaker_ids,
        grassroots=old.grassroots,
        attendance=old.attendance,
        status="cancelled" if old.status == "cancelled" else new.status,
        proposer=old.proposer,
        host=old.host,
        host_name=old.host_name,
        proposal_id=old.proposal_id,
        decision_id=old.decision_id,
        overlap=None if moved else old.overlap,
        source_id=old.source_id if ours or new.source_id == session_guid(old) else new.source_id,
        slug=old.slug if ours else new.slug,
        url=(new.url or old.url) if ours else new.url,
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _sentences(report: ImportReport, existing: Mapping[str, Session]) -> list[str]:
    s, r = report.sessions, report.rooms
    source = f"“{report.title}”" if report.title else "the file"
    lines = [
        f"From {source} ({report.format}): {_count(len(s.created), 'session')} created, "
        f"{len(s.updated)} updated, {len(s.unchanged)} unchanged, {len(report.skipped)} skipped; "
        f"{_count(len(r.created), 'room')} created, {len(r.updated)} updated, {len(r.unchanged)} unchanged."
    ]
    if not s.created and not s.updated and not r.created and not r.updated:
        lines.append("Nothing changes: the schedule already matches the file.")
    if report.skipped:
        n = len(report.skipped)
        lines.append(
            f"{_count(n, 'session')} in the file {'was' if n == 1 else 'were'} skipped because "
            f"{'it cannot' if n == 1 else 'they cannot'} be placed in a room at a time; "
            "each is listed with where it is in the file and why."
        )
    if report.not_in_file:
        grassroots = sum(1 for sid in report.not_in_file if existing[sid].grassroots)
        imported_before = sum(1 for sid in report.not_in_file if existing[sid].source_id)
        detail = []
        if grassroots:
            detail.append(f"{grassroots} grassroots")
        if imported_before:
            detail.append(
                f"{imported_before} from an earlier import, maybe dropped upstream: remove them by hand if so"
            )
        extra = f" ({'; '.join(detail)})" if detail else ""
        here = len(report.not_in_file)
        lines.append(
            f"{_count(here, 'session')} here {'is' if here == 1 else 'are'} not in the file; "
            f"left as {'it is' if here == 1 else 'they are'}{extra}."
        )
    if report.kept_cancelled:
        n = len(report.kept_cancelled)
        lines.append(
            f"{_count(n, 'session')} cancelled here {'stays' if n == 1 else 'stay'} cancelled, "
            "though the file lists them."
        )
    lines += [f"Note: {w}" for w in report.warnings]
    return lines


def _frame_sentences(imported: ImportedSchedule, frame: EventFrame | None) -> list[str]:
    if frame is None:
        return []
    lines = []
    if imported.timezone and imported.timezone != frame.timezone:
        lines.append(
            f"The file's time zone is {imported.timezone}, the event's is {frame.timezone}: times are "
            f"imported as the same moments and shown in {frame.timezone}."
        )
    if imported.sessions and frame.starts_at is not None and frame.ends_at is not None:
        outside = [
            s
            for s in imported.sessions.values()
            if s.starts_at < frame.starts_at or s.ends_at > frame.ends_at
        ]
        if outside:
            zone = frame.zone
            first = min(s.starts_at for s in imported.sessions.values())
            last = max(s.ends_at for s in imported.sessions.values())
            span = f"{local(first, zone):%d %b %Y} to {local(last, zone):%d %b %Y}"
            event = f"{local(frame.starts_at, zone):%d %b %Y} to {local(frame.ends_at - 1, zone):%d %b %Y}"
            lines.append(
                f"{_count(len(outside), 'session')} of the file {'is' if len(outside) == 1 else 'are'} "
                f"outside the event's dates: the file runs from {span}, the event from {event}. "
                "Is it the right file for this event?"
            )
    return lines
