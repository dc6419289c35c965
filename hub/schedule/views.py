"""What the hub's schedule service answers: plain structs the API serializes and the console renders.

They carry what an organizer needs on one screen (a proposal with its
proposer's name, its state and the slots it could take), so neither the
API nor the console has to stitch several queries together.
"""

from __future__ import annotations

import msgspec

from hub.checkins.dashboard import RoomOccupancy, SessionNow
from konferenco.schedule.formats import ImportReport
from konferenco.schedule.grassroots import Conflict
from konferenco.schedule.model import EventFrame, Room, ScheduleSettings, Session
from konferenco.schedule.rules import Finding
from konferenco.schedule.slots import Slot

__all__ = [
    "ChildEvent",
    "DecisionView",
    "ImportOutcome",
    "Person",
    "ProposalView",
    "Reservation",
    "RoomOccupancy",
    "ScheduleView",
    "SessionNow",
]


class ScheduleView(msgspec.Struct, frozen=True, kw_only=True):
    """The schedule as organizers see it: rooms by position, sessions by start, and what is wrong."""

    frame: EventFrame
    rooms: list[Room]
    sessions: list[Session]
    settings: ScheduleSettings
    findings: list[Finding]
    conflicts: list[Conflict]
    day: str | None = None
    days: list[str] = []


class Person(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str = ""


class DecisionView(msgspec.Struct, frozen=True, kw_only=True):
    """The decision that counts for a proposal now: who, when, why."""

    decision_id: str | None
    by: str | None  # an account's e-mail or a device's staff id, as recorded
    at: int | None
    reason: str = ""


class ProposalView(msgspec.Struct, frozen=True, kw_only=True):
    """A grassroots proposal, as received at a device, with its state after every decision."""

    proposal_id: str
    ref: str
    title: str
    description: str
    proposer: Person | None
    host_name: str
    duration_min: int
    attendance: int | None
    wished_rooms: list[str]
    wished_from: int | None
    wished_to: int | None
    type: str
    language: str
    at: int
    device: str | None
    status: str  # pending | approved | rejected
    decision: DecisionView | None
    session_id: str | None
    conflicts: list[Conflict] = []
    suggestions: list[Slot] = []  # the best free slots, for pending proposals only


class ChildEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An approved grassroots session as an event of its own in the catalog, under its parent."""

    id: str
    parent_id: str
    name: str
    timezone: str
    starts_at: int
    ends_at: int
    room_id: str | None
    room: str | None
    capacity: int | None
    host_id: str | None
    host_name: str
    session_id: str
    status: str  # the session's: scheduled | cancelled | proposed


class ImportOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What an import did (or, on a dry run, would do): the formats' report plus the rules' warnings."""

    format: str
    dry_run: bool
    report: ImportReport  # created/updated/unchanged/skipped ids, and ``sentences`` for people
    warnings: list[Finding] = []


class Reservation(msgspec.Struct, frozen=True, kw_only=True):
    """A slot checked for a proposal without writing anything (``requestSpace``)."""

    ok: bool
    room_id: str
    starts_at: int
    ends_at: int
    findings: list[Finding] = []
