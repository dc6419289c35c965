"""What the appliance's schedule API answers beyond the shapes it shares with the hub.

The bodies, the ``*View`` structs and the answers both apps give live in
:mod:`konferenco.schedule.bodies`; here are the appliance's own (its
schedule view, slot list and occupancy).
"""

from __future__ import annotations

import msgspec

from appliance.schedule.occupancy import RoomOccupancy
from konferenco.schedule.bodies import (
    FindingsView,
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
    valid,
)
from konferenco.schedule.model import EventFrame
from konferenco.schedule.rules import Finding
from konferenco.schedule.slots import Slot


class ScheduleView(msgspec.Struct, kw_only=True):
    """The schedule as attendees, signs and kiosks read it (proposals are not in it)."""

    event: str
    frame: EventFrame
    day: str | None  # the asked day (event time zone), or null for every day
    rooms: list[RoomView]
    sessions: list[SessionView]  # by start; cancelled ones too, marked so
    settings: SettingsView
    findings: list[Finding]  # of the sessions shown


class SlotList(msgspec.Struct, kw_only=True):
    event: str
    duration_min: int
    count: int
    slots: list[Slot]


class OccupancyView(msgspec.Struct, kw_only=True):
    event: str
    at: int
    rooms: list[RoomOccupancy]


__all__ = [
    "FindingsView",
    "OccupancyView",
    "RoomBody",
    "RoomList",
    "RoomView",
    "ScheduleView",
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
    "valid",
]
