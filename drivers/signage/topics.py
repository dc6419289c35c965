"""The topic tree of one venue, ``konferenco/{venue}/v1/...`` (docs/signage-protocol.md).

Every id that goes into a topic is checked here, so a room called ``a/b`` or
``#`` can never publish into, or subscribe to, someone else's part of the tree.
"""

from __future__ import annotations

import re

PROTOCOL = "v1"
ROOT = "konferenco"
ROOM_KINDS = ("schedule", "now", "next", "capacity")
#: Kinds of news on ``notices/{kind}`` (never retained).
NOTICE_KINDS = ("grassroots",)

_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")


def check_id(value: str, what: str) -> str:
    """``value`` if it is a valid topic segment, else a ValueError saying which id was wrong."""
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"{what} id {value!r}: use 1-64 letters, digits, '_', '.', ':' or '-'")
    return value


class Topics:
    """Topic names for one venue."""

    def __init__(self, venue: str) -> None:
        self.venue = check_id(venue, "venue")
        self.base = f"{ROOT}/{venue}/{PROTOCOL}"

    def status(self) -> str:
        """Retained "online"/"offline" of the appliance; "offline" is its Last Will."""
        return f"{self.base}/appliance/status"

    def room(self, room: str, kind: str) -> str:
        if kind not in ROOM_KINDS:
            raise ValueError(f"unknown room topic {kind!r}")
        return f"{self.base}/rooms/{check_id(room, 'room')}/{kind}"

    def alert(self, alert_id: str) -> str:
        return f"{self.base}/alerts/{check_id(alert_id, 'alert')}"

    def notice(self, kind: str) -> str:
        """News that is not state (never retained): ``notices/grassroots``."""
        if kind not in NOTICE_KINDS:
            raise ValueError(f"unknown notice topic {kind!r}")
        return f"{self.base}/notices/{kind}"

    def command(self, display: str) -> str:
        return f"{self.base}/displays/{check_id(display, 'display')}/cmd"

    def heartbeat(self, display: str) -> str:
        return f"{self.base}/displays/{check_id(display, 'display')}/heartbeat"

    def heartbeats(self) -> str:
        """The filter the appliance subscribes to for every display's heartbeat."""
        return f"{self.base}/displays/+/heartbeat"

    def display_of(self, topic: str) -> str | None:
        """The display id in a heartbeat topic, or None when the topic is not one (or its id is invalid)."""
        prefix, suffix = f"{self.base}/displays/", "/heartbeat"
        if not (topic.startswith(prefix) and topic.endswith(suffix)):
            return None
        display = topic[len(prefix) : -len(suffix)]
        return display if _ID.match(display) else None
