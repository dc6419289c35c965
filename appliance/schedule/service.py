"""The schedule as this appliance serves it: read from the control document, checked by the one rule engine.

Reads are per request and cheap: the control document is parsed once per
change and the rule index (:class:`~konferenco.schedule.rules.ScheduleIndex`)
is built once per schedule version, because ``GET /api/v1/slots`` queries it
on every request and a 5,000-session schedule takes tens of milliseconds to
parse and index.  "A change" is anything the replica stores for the control
document, written here or arriving by sync (:meth:`sync.replica.Replica.subscribe`),
or a copy of it dropped after a failed write (:meth:`~sync.replica.Replica.generation`).

Every read lays the hosts' edits over the sessions (:attr:`ScheduleService.session_overlay`,
set by the grassroots part: a host may retitle their own session from a kiosk, and that edit
lives in the kiosk's device log, not in the control document).  The index is rebuilt only when
the overlaid sessions differ from the ones it was built from.

Every edit goes through :mod:`sync.schedule_edits` (one transaction: checked, then written, or
refused with every finding) and needs two things: an organizer at the API (the route's staff
role) and an appliance enrolled with the organizer capability, since peers accept control
document updates only from such boxes.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pycrdt import Doc

from konferenco.errors import Forbidden, Invalid, KonferencoError, NotFound
from konferenco.schedule.model import EventFrame, ScheduleSettings, Session
from konferenco.schedule.rules import Finding, ScheduleIndex
from sync import schedule_edits
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Room
from sync.replica import Replica
from sync.schedule_edits import ScheduleState, SessionOverlay, read_state

log = logging.getLogger(__name__)

#: The catalog's word on the event (a box without a catalog falls back to the control document).
_EVENT = "SELECT name, timezone, starts_at, ends_at FROM catalog_event WHERE id = ?"

#: Fields an editor never sets through the API: they say where a session came from.
Watcher = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class _Read:
    """The control document as parsed at one version."""

    version: tuple[int, int]  # (changes seen, generation of the in-memory copy)
    state: ScheduleState
    name: str  # the control document's settings["name"] / ["timezone"], for a box with no catalog
    timezone: str


@dataclass(slots=True)
class _Indexed:
    """A rule index and what it was built from."""

    state: ScheduleState
    frame: EventFrame
    sessions: dict[str, Session]
    index: ScheduleIndex
    findings: list[Finding] | None = None
    memo: dict[Any, Any] = field(default_factory=dict)  # derived values (exports) of this version


def control_fallbacks(doc: Doc[Any]) -> tuple[str, str]:
    """The event's name and time zone as the control document's settings say (a box with no catalog)."""
    settings = ControlDoc(doc).settings()
    name, timezone = settings.get("name"), settings.get("timezone")
    return (name if isinstance(name, str) else "", timezone if isinstance(timezone, str) else "")


def _read(doc: Doc[Any]) -> tuple[ScheduleState, str, str]:
    return (read_state(doc), *control_fallbacks(doc))


@functools.lru_cache(maxsize=64)  # a bad zone is logged once, not on every request
def _zone_or_utc(name: str | None, event_id: str) -> str:
    if not name:
        return "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("event %s: unknown time zone %r; showing times in UTC", event_id, name)
        return "UTC"
    return name


def event_frame(
    conn: sqlite3.Connection | None, event_id: str, name: str = "", timezone: str = ""
) -> EventFrame:
    """The event's frame from the catalog; ``name`` and ``timezone`` stand in for what it lacks."""
    row = None
    if conn is not None:
        try:
            row = conn.execute(_EVENT, (event_id,)).fetchone()
        except sqlite3.OperationalError:  # no catalog table yet
            row = None
    if row is None:
        return EventFrame(
            event_id=event_id, name=(name or event_id)[:120], timezone=_zone_or_utc(timezone, event_id)
        )
    c_name, c_timezone, starts_at, ends_at = row
    # A catalog without dates says 0 and 0 (the hub's events are made so): no frame, else every
    # session would be "outside the event" and refused.
    dated = starts_at is not None and ends_at is not None and int(ends_at) > int(starts_at)
    return EventFrame(
        event_id=event_id,
        name=(c_name or name or event_id)[:120],
        timezone=_zone_or_utc(c_timezone or timezone, event_id),
        starts_at=int(starts_at) if dated else None,
        ends_at=int(ends_at) if dated else None,
    )


class ScheduleService:
    """One appliance's schedules (one per event it serves); see the module docstring."""

    #: Hosts' edits laid over the sessions on every read (set by the grassroots part).
    session_overlay: SessionOverlay | None

    def __init__(
        self, replica: Replica, conn: sqlite3.Connection, events: Iterable[str], *, organizer: bool
    ) -> None:
        self.replica = replica
        self.conn = conn
        self.events = tuple(events)
        self.organizer = organizer
        self.session_overlay = None
        self._names = {str(DocName.control(e)): e for e in self.events}
        self._changes: dict[str, int] = dict.fromkeys(self.events, 0)
        self._reads: dict[str, _Read] = {}
        self._indexed: dict[str, _Indexed] = {}
        self._watchers: list[Watcher] = []
        self._unsubscribe = replica.subscribe(self._stored)

    def close(self) -> None:
        self._unsubscribe()

    # --- change notices ------------------------------------------------------------------

    def _stored(self, name: str, _update: bytes, _source: object) -> None:
        """The replica stored an update (ours or a peer's): a control document may have changed."""
        event_id = self._names.get(name)
        if event_id is not None:
            self._changes[event_id] += 1
            self.notify(event_id)

    def notify(self, event_id: str) -> None:
        """Tell the watchers the event's schedule may look different now.

        Called for every stored control-document update; the grassroots part
        calls it too when a host's edit (which the overlay reads) is recorded
        or arrives, so room signs show it within a second.
        """
        for watcher in list(self._watchers):
            try:
                watcher(event_id)
            except Exception:
                log.exception("schedule watcher failed")

    def watch(self, watcher: Watcher) -> Callable[[], None]:
        """Call ``watcher(event_id)`` after each change; returns the function that stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher)

    # --- reading -------------------------------------------------------------------------

    def _check_event(self, event_id: str) -> None:
        if event_id not in self._changes:
            raise NotFound(f"this appliance does not serve event '{event_id}'", code="unknown_event")

    async def _document(self, event_id: str) -> _Read:
        self._check_event(event_id)
        name = DocName.control(event_id)
        # The version is taken before the read: a change stored meanwhile makes the next read parse again.
        version = (self._changes[event_id], self.replica.generation(name))
        cached = self._reads.get(event_id)
        if cached is not None and cached.version == version:
            return cached
        state, doc_name, timezone = await self.replica.read(name, _read)
        cached = _Read(version, state, doc_name, timezone)
        self._reads[event_id] = cached
        return cached

    async def state(self, event_id: str) -> ScheduleState:
        """The schedule as the control document holds it (no host edits laid over it)."""
        return (await self._document(event_id)).state

    async def frame(self, event_id: str) -> EventFrame:
        """The event's name, time zone and dates: from the catalog, else the control document's settings."""
        read = await self._document(event_id)
        return event_frame(self.conn, event_id, read.name, read.timezone)

    async def _current(self, event_id: str) -> _Indexed:
        read = await self._document(event_id)
        frame = await self.frame(event_id)
        overlay = self.session_overlay
        sessions = overlay(event_id, read.state.sessions) if overlay is not None else read.state.sessions
        cached = self._indexed.get(event_id)
        if (
            cached is not None
            and cached.state is read.state
            and cached.frame == frame
            and (cached.sessions is sessions or cached.sessions == sessions)
        ):
            return cached
        index = ScheduleIndex(read.state.rooms, sessions, frame, read.state.settings)
        cached = _Indexed(read.state, frame, sessions, index)
        self._indexed[event_id] = cached
        return cached

    async def index(self, event_id: str) -> ScheduleIndex:
        """The rule index of the schedule as shown (host edits included); rebuilt only after a change."""
        return (await self._current(event_id)).index

    async def findings(self, event_id: str) -> list[Finding]:
        """Every current finding of the schedule (computed once per version)."""
        current = await self._current(event_id)
        if current.findings is None:
            current.findings = current.index.findings()
        return current.findings

    async def memo(self, event_id: str, key: Any, make: Callable[[ScheduleIndex], Any]) -> Any:
        """``make(index)``, computed once per schedule version (the exports: one per format and filter)."""
        current = await self._current(event_id)
        if key not in current.memo:
            if len(current.memo) >= 64:  # many per-speaker calendars: keep the newest few
                current.memo.pop(next(iter(current.memo)))
            current.memo[key] = make(current.index)
        return current.memo[key]

    async def session(self, event_id: str, session_id: str) -> Session:
        """One session as shown; ``unknown_session`` (404) if there is none (proposals are not sessions)."""
        found = (await self.index(event_id)).sessions.get(session_id)
        if found is None or found.status == "proposed":
            raise NotFound(
                f"there is no session '{session_id}' in this event",
                code="unknown_session",
                session_id=session_id,
            )
        return found

    async def room(self, event_id: str, room_id: str) -> Room:
        found = (await self.state(event_id)).rooms.get(room_id)
        if found is None:
            raise NotFound(
                f"there is no room '{room_id}' in this event", code="unknown_room", room_id=room_id
            )
        return found

    # --- editing -------------------------------------------------------------------------

    def require_organizer_device(self, what: str = "schedule changes") -> None:
        """Refuse unless this box may write the control document (peers refuse it otherwise)."""
        if not self.organizer:
            raise Forbidden(
                f"{what} need an appliance enrolled with the organizer capability",
                capability="organizer",
            )

    async def save_room(self, event_id: str, room: Room) -> Room:
        self._check_event(event_id)
        self.require_organizer_device()
        return await schedule_edits.put_room(self.replica, event_id, room)

    async def delete_room(self, event_id: str, room_id: str) -> None:
        self._check_event(event_id)
        self.require_organizer_device()
        await schedule_edits.remove_room(self.replica, event_id, room_id)

    async def save_session(
        self, event_id: str, session: Session, *, by: str, overlap_reason: str | None = None
    ) -> tuple[Session, list[Finding]]:
        """Create or replace a session if no ``block`` rule refuses it; returns it with its warnings.

        Where a session came from (proposal, approval, import) is kept from the
        stored session by the edit layer (``sync.schedule_edits.PROVENANCE``).
        """
        self._check_event(event_id)
        self.require_organizer_device()
        state = await self.state(event_id)
        old = state.sessions.get(session.id)
        if session.room_id not in state.rooms:
            raise Invalid(
                f"there is no room '{session.room_id}' in this event; create it first",
                field="room_id",
            )
        if session.ends_at <= session.starts_at:
            raise Invalid(f"“{session.title}” ends before it starts", field="ends_at")
        self._require_attendees(event_id, session, old)
        reason = (overlap_reason or "").strip() or None
        return await schedule_edits.put_session(
            self.replica, event_id, session, await self.frame(event_id), by=by[:120], overlap_reason=reason
        )

    def _require_attendees(self, event_id: str, session: Session, old: Session | None) -> None:
        """Speakers and hosts named by attendee id must be on the roster (``invalid`` names the field).

        Ids a stored session already carried are not checked again: a walk-in
        host whose record has not reached this box yet must not block an edit
        of the title.
        """
        known = {*old.speaker_ids, old.host} if old is not None else set()
        asked = [(f"speaker_ids[{n}]", a) for n, a in enumerate(session.speaker_ids)]
        if session.host:
            asked.append(("host", session.host))
        for field_name, attendee_id in asked:
            if attendee_id in known:
                continue
            try:
                found = self.conn.execute(
                    "SELECT 1 FROM attendee WHERE event_id = ? AND id = ?", (event_id, attendee_id)
                ).fetchone()
            except sqlite3.OperationalError:  # no catalog imported yet
                found = None
            if found is None:
                raise Invalid(
                    f"unknown speaker '{attendee_id}': not an attendee of this event (give a free name in "
                    "'speakers' instead)",
                    field=field_name,
                )

    async def cancel_session(self, event_id: str, session_id: str) -> Session:
        self._check_event(event_id)
        self.require_organizer_device()
        await self.session(event_id, session_id)
        return await schedule_edits.set_status(self.replica, event_id, session_id, "cancelled")

    async def delete_session(self, event_id: str, session_id: str) -> None:
        """Remove a session for good (cancel it instead to tell attendees); not one a decision placed."""
        self._check_event(event_id)
        self.require_organizer_device()
        session = await self.session(event_id, session_id)
        if session.decision_id:
            raise KonferencoError(
                f"“{session.title}” was placed by a grassroots approval; withdraw the approval instead",
                code="conflict",
                decision_id=session.decision_id,
                proposal_id=session.proposal_id,
            )
        await schedule_edits.remove_session(self.replica, event_id, session_id)

    async def save_settings(self, event_id: str, settings: ScheduleSettings) -> ScheduleSettings:
        self._check_event(event_id)
        self.require_organizer_device()
        return await schedule_edits.put_settings(self.replica, event_id, settings)
