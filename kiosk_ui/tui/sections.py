"""The TUI's sections (its modes): which exist, their keys, and who may open each.

One table, read by the app (modes and bindings), the command palette and the
sign-in (the first section a role lands on), so a new section is one line here
and a screen module.  Roles follow the appliance's API: the door may scan and
see the door's figures and devices; the desk does everything a help desk does;
the organizer also decides grassroots proposals.  The appliance still checks
every call, so a section offered here that the API refuses shows its refusal.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen

DOOR, DESK, ORGANIZER = "door", "desk", "organizer"


@dataclass(frozen=True)
class Section:
    """A top-level screen: its mode name, title, key, the roles that see it and where it lives."""

    id: str
    title: str
    key: str
    roles: frozenset[str]
    target: str  # "module:Class", imported on first use so the app starts fast

    def screen(self) -> Screen[None]:
        module, _, name = self.target.partition(":")
        factory = getattr(importlib.import_module(module), name)
        screen: Screen[None] = factory()
        return screen


SECTIONS: tuple[Section, ...] = (
    Section("desk", "Desk", "f2", frozenset({DESK, ORGANIZER}), "kiosk_ui.tui.desk:DeskScreen"),
    Section("door", "Door", "f3", frozenset({DOOR, DESK, ORGANIZER}), "kiosk_ui.tui.door:DoorScreen"),
    Section("prints", "Print queue", "f4", frozenset({DESK, ORGANIZER}), "kiosk_ui.tui.prints:PrintsScreen"),
    Section(
        "devices", "Devices", "f5", frozenset({DOOR, DESK, ORGANIZER}), "kiosk_ui.tui.devices:DevicesScreen"
    ),
    Section("sync", "Sync", "f6", frozenset({DOOR, DESK, ORGANIZER}), "kiosk_ui.tui.sync:SyncScreen"),
    Section("stats", "Stats", "f7", frozenset({DOOR, DESK, ORGANIZER}), "kiosk_ui.tui.stats:StatsScreen"),
    Section("proposals", "Proposals", "f8", frozenset({ORGANIZER}), "kiosk_ui.tui.proposals:ProposalsScreen"),
)

BY_ID = {s.id: s for s in SECTIONS}


def sections_for(role: str) -> list[Section]:
    """The sections this role may open, in the order of the footer (a kiosk account gets none)."""
    return [s for s in SECTIONS if role in s.roles]
