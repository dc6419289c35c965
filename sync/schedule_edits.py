"""Changing an event's schedule in its control document: checked by the rules, written whole or not at all.

The appliance and the hub both edit schedules through these functions, so
an edit refused at the venue is refused on the hub with the same sentence,
and a decision is written the same way everywhere (DESIGN.md: the hub is
just another peer).

Each edit reads the document, checks the rules and writes **inside one
local transaction** (:meth:`~sync.replica.Replica.write`): two edits on
one replica cannot both pass a check that only one of them may pass, and a
refused edit leaves nothing behind (the exception drops the transaction
before anything is stored).  Edits made on replicas that cannot see each
other are not checked against each other: that is what the conflict rule
of :mod:`konferenco.schedule.grassroots` and the findings list are for.

Durability is the replica's: ``write`` returns once the update is stored
(fsync'd on the appliance, committed on the hub), so an acknowledged edit
survives a crash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from pycrdt import Doc

from konferenco.errors import KonferencoError, NotFound
from konferenco.schedule.grassroots import APPROVALS, proposal_states, session_id_for
from konferenco.schedule.model import EventFrame, OverlapApproval, ScheduleSettings, settings_or_default
from konferenco.schedule.rules import Finding, ScheduleIndex, blocking
from konferenco.types import new_id, now_ms
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Decision, Room, Session
from sync.replica import Replica

#: The control document's ``settings`` key that holds :class:`ScheduleSettings`.
SETTINGS_KEY = "schedule"
#: Sessions written per transaction by an import: pycrdt's memory grows with the square of the
#: inserts in one transaction (sync/replica.py), a 5,000-session file must not ask for gigabytes.
IMPORT_CHUNK = 500

#: Lays edits kept outside the control document (hosts' kiosk edits) over an event's sessions:
#: ``(event_id, sessions) -> sessions``.  The event is named because session ids are only unique
#: within an event, and a box may serve several.
SessionOverlay = Callable[[str, dict[str, Session]], dict[str, Session]]


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What the control document says about the schedule, validated."""

    rooms: dict[str, Room]
    sessions: dict[str, Session]
    settings: ScheduleSettings
    decisions: list[Decision]

    def index(self, frame: EventFrame, overlay: SessionOverlay | None = None) -> ScheduleIndex:
        sessions = overlay(frame.event_id, self.sessions) if overlay else self.sessions
        return ScheduleIndex(self.rooms, sessions, frame, self.settings)


def read_state(doc: Doc[Any]) -> ScheduleState:
    control = ControlDoc(doc)
    return ScheduleState(
        rooms=control.rooms(),
        sessions=control.sessions(),
        settings=settings_or_default(control.settings().get(SETTINGS_KEY)),
        decisions=control.decisions(),
    )


async def snapshot(replica: Replica, event_id: str) -> ScheduleState:
    return await replica.read(DocName.control(event_id), read_state)


def refused(findings: Sequence[Finding]) -> KonferencoError:
    """The API's answer to a change a ``block`` rule refuses: 409 with every finding and its sentence."""
    return KonferencoError(
        " ".join(f.message for f in findings),
        code="schedule_conflict",
        findings=[msgspec.to_builtins(f) for f in findings],
    )


def _with_approval(session: Session, old: Session | None, by: str, overlap_reason: str | None) -> Session:
    """Record an explicit overlap approval, or keep the old one while the session stays where it was."""
    if overlap_reason:
        approval = OverlapApproval(by=by, reason=overlap_reason.strip(), at=now_ms())
        return msgspec.structs.replace(session, overlap=approval)
    if (
        old is not None
        and old.overlap is not None
        and (old.room_id, old.starts_at, old.ends_at) == (session.room_id, session.starts_at, session.ends_at)
    ):
        return msgspec.structs.replace(session, overlap=old.overlap)
    return msgspec.structs.replace(session, overlap=None)


#: Where a session came from: set by an approval or an import, never by an editor's form.
PROVENANCE = ("proposer", "proposal_id", "decision_id", "source_id")


def _with_provenance(session: Session, old: Session | None) -> Session:
    """Keep a session's origin through an edit, read in the edit's own transaction.

    An editor's form does not carry where a session came from; losing
    ``decision_id`` would cut a grassroots session off its approval and its
    child event.  A session an approval placed stays grassroots, and keeps
    its host when the edit names none.
    """
    if old is None:
        return session
    kept: dict[str, Any] = {f: getattr(old, f) for f in PROVENANCE}
    if old.decision_id:
        kept["grassroots"] = True
        if session.host is None and old.host is not None:
            kept["host"] = old.host
            kept["host_name"] = session.host_name or old.host_name
    return msgspec.structs.replace(session, **kept)


def _place(
    control: ControlDoc,
    state: ScheduleState,
    frame: EventFrame,
    session: Session,
    by: str,
    overlap: str | None,
) -> tuple[Session, list[Finding]]:
    """Check ``session`` against the document as it is now; put it there, or raise the refusal."""
    old = state.sessions.get(session.id)
    session = _with_approval(_with_provenance(session, old), old, by, overlap)
    found = state.index(frame).check(session)
    block = blocking(found)
    if block:
        raise refused(block)
    control.put_session(session)
    return session, found


async def put_room(replica: Replica, event_id: str, room: Room) -> Room:
    await replica.write(DocName.control(event_id), lambda doc: ControlDoc(doc).put_room(room))
    return room


async def remove_room(replica: Replica, event_id: str, room_id: str) -> None:
    """Remove a room no session uses (move or cancel its sessions first: nothing vanishes with it)."""

    def mutate(doc: Doc[Any]) -> None:
        state = read_state(doc)
        if room_id not in state.rooms:
            raise KonferencoError(f"there is no room '{room_id}'", code="unknown_room", room_id=room_id)
        users = sorted(s.id for s in state.sessions.values() if s.room_id == room_id and s.placed)
        if users:
            raise KonferencoError(
                f"{len(users)} scheduled session(s) use this room; move or cancel them first",
                code="conflict",
                sessions=users[:50],
            )
        ControlDoc(doc).remove_room(room_id)

    await replica.write(DocName.control(event_id), mutate)


async def put_session(
    replica: Replica,
    event_id: str,
    session: Session,
    frame: EventFrame,
    *,
    by: str,
    overlap_reason: str | None = None,
) -> tuple[Session, list[Finding]]:
    """Create or change a session if no ``block`` rule refuses it; returns it and its warnings."""

    def mutate(doc: Doc[Any]) -> tuple[Session, list[Finding]]:
        return _place(ControlDoc(doc), read_state(doc), frame, session, by, overlap_reason)

    return await replica.write(DocName.control(event_id), mutate)


async def set_status(replica: Replica, event_id: str, session_id: str, status: str) -> Session:
    """Cancel a session (or schedule a cancelled one again, through :func:`put_session` for the rules)."""

    def mutate(doc: Doc[Any]) -> Session:
        state = read_state(doc)
        old = state.sessions.get(session_id)
        if old is None:
            raise KonferencoError(
                f"there is no session '{session_id}'", code="unknown_session", session_id=session_id
            )
        new = msgspec.structs.replace(old, status=status)
        ControlDoc(doc).put_session(new)
        return new

    return await replica.write(DocName.control(event_id), mutate)


async def remove_session(replica: Replica, event_id: str, session_id: str) -> None:
    """Remove a session from the schedule (cancelling it keeps it visible to attendees as cancelled)."""

    def mutate(doc: Doc[Any]) -> None:
        control = ControlDoc(doc)
        if session_id not in control.sessions():
            raise KonferencoError(
                f"there is no session '{session_id}'", code="unknown_session", session_id=session_id
            )
        control.remove_session(session_id)

    await replica.write(DocName.control(event_id), mutate)


async def put_settings(replica: Replica, event_id: str, settings: ScheduleSettings) -> ScheduleSettings:
    value = msgspec.to_builtins(settings)
    await replica.write(
        DocName.control(event_id), lambda doc: ControlDoc(doc).set_setting(SETTINGS_KEY, value)
    )
    return settings


def check_import(
    state: ScheduleState,
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    by: str = "import",
    overlap_reason: str | None = None,
) -> tuple[dict[str, Session], list[Finding]]:
    """The imported sessions as they would be written, and their warnings; raises the refusal.

    Checks the schedule as the import would leave it (what is there plus
    what comes), so a dry run refuses exactly what the import would.

    Real programmes do double-book rooms on purpose (38C3's export has two
    such pairs).  With ``overlap_reason`` the organizer approves, once for
    the whole file, every room overlap among the imported sessions: each is
    recorded on the imported session (who, why, when), as a one-by-one
    approval would be.  Overlaps with sessions already here are not the
    file's to approve.
    """
    merged_rooms = {**state.rooms, **rooms}
    sessions = dict(sessions)
    if overlap_reason:
        probe = ScheduleIndex(merged_rooms, {**state.sessions, **sessions}, frame, state.settings)
        approval = OverlapApproval(by=by, reason=overlap_reason.strip(), at=now_ms())
        for finding in probe.findings():
            ours = all(sid in sessions for sid in finding.sessions)
            if finding.rule == "room_overlap" and finding.severity == "block" and ours:
                for sid in finding.sessions:
                    sessions[sid] = msgspec.structs.replace(sessions[sid], overlap=approval)
    index = ScheduleIndex(merged_rooms, {**state.sessions, **sessions}, frame, state.settings)
    found = [f for f in index.findings() if any(sid in sessions for sid in f.sessions)]
    block = blocking(found)
    if block:
        raise refused(block)
    return sessions, [f for f in found if f.severity == "warn"]


async def apply_import(
    replica: Replica,
    event_id: str,
    rooms: Mapping[str, Room],
    sessions: Mapping[str, Session],
    frame: EventFrame,
    *,
    progress: Callable[[int, int], None] | None = None,
    by: str = "import",
    overlap_reason: str | None = None,
    dry_run: bool = False,
) -> list[Finding]:
    """Put imported rooms and sessions, by their stable ids, if the result passes every ``block`` rule.

    The whole result is checked (:func:`check_import`) before the first
    write: a refused import writes nothing, and a ``dry_run`` stops there.
    It is then written in chunks of :data:`IMPORT_CHUNK`; a crash in the
    middle leaves the first chunks, and importing the same file again
    finishes the job (ids are stable, equal values are not rewritten).
    Returns the warnings.
    """
    state = await snapshot(replica, event_id)
    placed, warnings = check_import(state, rooms, sessions, frame, by=by, overlap_reason=overlap_reason)
    if dry_run:
        return warnings
    name = DocName.control(event_id)
    new_rooms = [r for rid, r in rooms.items() if state.rooms.get(rid) != r]

    def put_rooms(doc: Doc[Any]) -> None:
        control = ControlDoc(doc)
        for room in new_rooms:
            control.put_room(room)

    if new_rooms:
        await replica.write(name, put_rooms)
    changed = [s for sid, s in placed.items() if state.sessions.get(sid) != s]
    for start in range(0, len(changed), IMPORT_CHUNK):
        chunk = changed[start : start + IMPORT_CHUNK]
        await replica.write(name, _put_sessions(chunk))
        if progress:
            progress(min(start + IMPORT_CHUNK, len(changed)), len(changed))
    return warnings


def _put_sessions(chunk: list[Session]) -> Callable[[Doc[Any]], None]:
    def mutate(doc: Doc[Any]) -> None:
        control = ControlDoc(doc)
        for session in chunk:
            control.put_session(session)

    return mutate


def grassroots_session_id(decision_id: str) -> str:
    """The session an approval creates (:func:`konferenco.schedule.grassroots.session_id_for`)."""
    return session_id_for(decision_id)


async def decide(
    replica: Replica,
    event_id: str,
    proposal_id: str,
    decision: str,
    frame: EventFrame,
    *,
    by: str,
    known: Callable[[str], bool],
    session: Callable[[str], Session] | None = None,
    reason: str = "",
    overlap_reason: str | None = None,
    approver: str | None = None,
) -> tuple[Decision, Session | None, list[Finding]]:
    """Record an organizer's decision on a proposal, with its session when it approves one.

    ``known`` says whether the proposal exists (it lives in a device log,
    which each side projects itself).  ``session`` builds the session to
    place from the new decision's id.  Refuses a second decision on a
    proposal this replica already sees decided (``already_decided``); a
    withdrawal cancels the approved session in the same transaction.
    ``approver`` is who an approved overlap names (a person's name; default
    ``by``, which is an id since the decision record stores it as one).
    """
    if not known(proposal_id):
        raise NotFound(
            f"there is no proposal '{proposal_id}' in this event",
            code="unknown_proposal",
            proposal_id=proposal_id,
        )
    decision_id = new_id()

    def mutate(doc: Doc[Any]) -> tuple[Decision, Session | None, list[Finding]]:
        state = read_state(doc)
        control = ControlDoc(doc)
        states, _ = proposal_states([proposal_id], state.decisions)
        current = states[proposal_id]
        if decision == "withdrawn":
            if current.status != "approved":
                raise KonferencoError(
                    f"the proposal is {current.status}, there is no approval to withdraw",
                    code="already_decided",
                    status=current.status,
                )
            record = Decision(
                id=decision_id, proposal_id=proposal_id, decision="withdrawn", by=by, reason=reason,
                session_id=current.session_id,
            )  # fmt: skip
            cancelled = None
            if current.session_id and current.session_id in state.sessions:
                cancelled = msgspec.structs.replace(state.sessions[current.session_id], status="cancelled")
                control.put_session(cancelled)
            control.append(record)
            return record, cancelled, []
        if current.status != "pending":
            raise KonferencoError(
                f"the proposal was {current.status} by {current.decided_by or 'an organizer'} already",
                code="already_decided",
                status=current.status,
                decision_id=current.decision_id,
            )
        if decision in APPROVALS:
            if session is None:
                raise ValueError("an approval needs the session it places")
            placed, found = _place(
                control, state, frame, session(decision_id), approver or by, overlap_reason
            )
            record = Decision(
                id=decision_id, proposal_id=proposal_id, decision="scheduled", by=by, reason=reason,
                session_id=placed.id, room_id=placed.room_id, starts_at=placed.starts_at,
                ends_at=placed.ends_at, overlap_reason=overlap_reason or "",
            )  # fmt: skip
            control.append(record)
            return record, placed, found
        record = Decision(id=decision_id, proposal_id=proposal_id, decision="rejected", by=by, reason=reason)
        control.append(record)
        return record, None, []

    return await replica.write(DocName.control(event_id), mutate)


__all__ = [
    "IMPORT_CHUNK",
    "SETTINGS_KEY",
    "ScheduleState",
    "apply_import",
    "check_import",
    "decide",
    "grassroots_session_id",
    "put_room",
    "put_session",
    "put_settings",
    "read_state",
    "refused",
    "remove_room",
    "remove_session",
    "set_status",
    "snapshot",
]
