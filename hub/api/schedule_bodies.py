"""What the hub's schedule API answers beyond the shapes it shares with the appliances.

The bodies, the ``*View`` structs and the answers both apps give live in
:mod:`konferenco.schedule.bodies`; here are the hub's own (the schedule
answer with its days, proposals, decisions, child events, imports).
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from hub.schedule.views import ChildEvent, ImportOutcome, ProposalView, Reservation, RoomOccupancy
from konferenco.schedule.bodies import (
    FindingsView,
    Reason,
    RoomBody,
    RoomList,
    RoomView,
    SessionAnswer,
    SessionBody,
    SessionView,
    SettingsAnswer,
    SettingsBody,
    SettingsView,
    room_view,
    session_view,
    settings_view,
)
from konferenco.schedule.grassroots import Conflict
from konferenco.schedule.model import EventFrame, Id
from konferenco.schedule.rules import Finding
from konferenco.schedule.slots import Slot
from konferenco.types import Millis


class ScheduleAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    frame: EventFrame
    day: str | None
    days: list[str]
    rooms: list[RoomView]
    sessions: list[SessionView]
    settings: SettingsView
    findings: list[Finding]
    conflicts: list[Conflict]


class SlotList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    slots: list[Slot]


class OccupancyAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    at: int
    rooms: list[RoomOccupancy]


class ImportAnswer(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    outcome: ImportOutcome


class ProposalList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    proposals: list[ProposalView]


class DecisionAnswer(msgspec.Struct, kw_only=True, frozen=True):
    """A decision on a proposal, with the session an approval placed and its warnings."""

    decision_id: str
    proposal_id: str
    decision: str
    by: str | None
    at: int
    reason: str
    session: SessionView | None = None
    warnings: list[Finding] = []


class ReserveBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    room_id: Id
    starts_at: Millis
    duration_min: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] | None = None


class ApproveBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    room_id: Id
    starts_at: Millis
    duration_min: Annotated[int, msgspec.Meta(ge=5, le=24 * 60)] | None = None
    overlap_reason: Reason | None = None


class ReasonBody(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    reason: Reason = ""


class ChildList(msgspec.Struct, kw_only=True, frozen=True):
    event: str
    children: list[ChildEvent]


__all__ = [
    "ApproveBody",
    "ChildList",
    "DecisionAnswer",
    "FindingsView",
    "ImportAnswer",
    "OccupancyAnswer",
    "ProposalList",
    "ReasonBody",
    "Reservation",
    "ReserveBody",
    "RoomBody",
    "RoomList",
    "RoomView",
    "ScheduleAnswer",
    "SessionAnswer",
    "SessionBody",
    "SessionView",
    "SettingsAnswer",
    "SettingsBody",
    "SettingsView",
    "SlotList",
    "room_view",
    "session_view",
    "settings_view",
]
