"""The table of displays the appliance has heard from, fed by their heartbeats.

Pure: the publisher passes each heartbeat in with the time it arrived.  A
heartbeat that cannot be decoded still proves the display is alive, so it
counts as seen, with the reason shown to staff.  A *retained* heartbeat
proves nothing (it may be days old), so it is ignored, as is the empty
payload that clears one.  The table is capped, so a broken or hostile client
inventing display ids cannot grow it without bound.
"""

from __future__ import annotations

import msgspec

from drivers.signage.payloads import DisplayHeartbeat, DisplaySeen

#: A display that has not reported for this long is shown offline (three missed 30 s heartbeats).
STALE_AFTER_MS = 90_000
MAX_DISPLAYS = 1000


class _Row(msgspec.Struct, kw_only=True):
    last_seen: int
    heartbeats: int = 0
    room: str | None = None
    skew_ms: int | None = None
    last: DisplayHeartbeat | None = None
    problem: str = ""


class DisplayTable:
    def __init__(self, stale_after_ms: int = STALE_AFTER_MS, max_displays: int = MAX_DISPLAYS) -> None:
        self.stale_after_ms = stale_after_ms
        self.max_displays = max_displays
        self._rows: dict[str, _Row] = {}

    def record(self, display: str, payload: bytes, *, retained: bool, received_at: int) -> bool:
        """Take one heartbeat of ``display``; False if it was ignored."""
        if retained or not payload:
            return False
        row = self._rows.get(display)
        if row is None:
            if len(self._rows) >= self.max_displays:
                return False
            row = self._rows[display] = _Row(last_seen=received_at)
        row.last_seen = received_at
        row.heartbeats += 1
        try:
            heartbeat = msgspec.json.decode(payload, type=DisplayHeartbeat)
        except msgspec.DecodeError as error:  # ValidationError is a DecodeError
            row.problem = f"unreadable heartbeat ({len(payload)} bytes): {error}"[:300]
            return True
        row.problem = ""
        row.last = heartbeat
        row.room = heartbeat.room or row.room
        row.skew_ms = None if heartbeat.ts is None else heartbeat.ts - received_at
        return True

    def snapshot(self, now: int) -> dict[str, DisplaySeen]:
        return {
            display: DisplaySeen(
                display=display,
                last_seen=row.last_seen,
                online=now - row.last_seen <= self.stale_after_ms,
                heartbeats=row.heartbeats,
                room=row.room,
                skew_ms=row.skew_ms,
                last=row.last,
                problem=row.problem,
            )
            for display, row in sorted(self._rows.items())
        }
