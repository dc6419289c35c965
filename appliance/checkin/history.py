"""The read side of check-in: what the door needs to know about the past, as point lookups.

The decision path (``service.py``) asks these questions for every scan —
who holds this badge or tag, what did they do on this list before, is
anything of theirs revoked, how full is the room, did this device already
answer this nonce — and the desk asks some of them too.  All are indexed
single-row queries on the event loop's read connection (sub-millisecond,
decisions.md "The check-in hot path reads SQLite synchronously"); the heavy
reads (search, figures) run on the read pool instead.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from appliance.checkin.decide import PriorScan
from appliance.checkin.projection import SCAN_COLUMNS, admitted_history
from appliance.checkin.structs import AttendeeView
from sync.records import Scan

#: Shown for someone a signed badge names but this box's roster does not have yet.
NOT_IN_ROSTER = "(not in the roster here yet)"


class RosterRow(NamedTuple):
    id: str
    name: str
    ticket_type_id: str
    valid_from: int
    valid_until: int
    cancelled: bool
    company: str


class StoredScan(NamedTuple):
    event_id: str
    record: Scan


_STORED_SCAN = f"SELECT event_id, {', '.join(SCAN_COLUMNS)} FROM checkin WHERE device_id = ? AND nonce = ?"


class CheckinHistory:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn  # the event loop's read connection

    def attendee(self, event: str, attendee_id: str) -> RosterRow | None:
        row = self.conn.execute(
            "SELECT id, name, ticket_type_id, valid_from, valid_until, status, company "
            "FROM attendee WHERE event_id = ? AND id = ?",
            (event, attendee_id),
        ).fetchone()
        return _roster_row(row) if row else None

    def tag_holder(self, event: str, uid: str) -> RosterRow | None:
        """Who an NFC tag opens the door for: a desk link wins over the catalog's tag."""
        row = self.conn.execute(
            "SELECT a.id, a.name, a.ticket_type_id, a.valid_from, a.valid_until, a.status, a.company "
            "FROM attendee a "
            "WHERE a.event_id = ?1 AND a.id = coalesce("
            "  (SELECT attendee_id FROM tag_link WHERE event_id = ?1 AND nfc_uid = ?2),"
            "  (SELECT id FROM attendee WHERE event_id = ?1 AND nfc_uid = ?2))",
            (event, uid),
        ).fetchone()
        return _roster_row(row) if row else None

    def admitted(self, event: str, attendee_id: str, list_id: str) -> list[PriorScan]:
        """Admitted, not annulled scans of one attendee on one list, oldest first."""
        return [
            PriorScan(at, direction, gate, device)  # type: ignore[arg-type]
            for direction, at, gate, device in admitted_history(self.conn, event, attendee_id, list_id)
        ]

    def first_entry(self, event: str, attendee_id: str, list_id: str) -> PriorScan | None:
        return next((s for s in self.admitted(event, attendee_id, list_id) if s.direction == "entry"), None)

    def revoked(self, event: str, targets: list[tuple[str, str]]) -> str | None:
        """Why the badge, attendee or key is revoked, if any of them is (one indexed query)."""
        pairs = ", ".join("(?, ?)" for _ in targets)
        row = self.conn.execute(
            "SELECT target, reason FROM checkin_revocation "
            f"WHERE event_id = ? AND (target, value) IN (VALUES {pairs})",
            (event, *(v for pair in targets for v in pair)),
        ).fetchone()
        if row is None:
            return None
        return str(row[1] or f"{row[0]} revoked")

    def inside(self, event: str, list_id: str) -> int:
        """People inside on a list, as projected (entries still being written are not counted)."""
        row = self.conn.execute(
            "SELECT count(*) FROM checkin_presence WHERE event_id = ? AND list_id = ? AND inside = 1",
            (event, list_id),
        ).fetchone()
        return int(row[0])

    def stored_scan(self, device_id: str, nonce: str) -> StoredScan | None:
        """The scan this device already logged for a nonce (what a retry must be answered with)."""
        row = self.conn.execute(_STORED_SCAN, (device_id, nonce)).fetchone()
        if row is None:
            return None
        fields = dict(zip(SCAN_COLUMNS, row[1:], strict=True))
        return StoredScan(row[0], Scan(**{k: v for k, v in fields.items() if v is not None}))

    def attendee_view(self, event: str, attendee_id: str) -> AttendeeView:
        row = self.conn.execute(
            "SELECT a.id, a.name, a.company, a.ticket_type_id, t.name FROM attendee a "
            "LEFT JOIN catalog_ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id "
            "WHERE a.event_id = ? AND a.id = ?",
            (event, attendee_id),
        ).fetchone()
        if row is None:
            return AttendeeView(id=attendee_id, name=NOT_IN_ROSTER)
        return AttendeeView(
            id=row[0], name=row[1], company=row[2] or "", ticket_type_id=row[3], ticket_type=row[4] or ""
        )


def _roster_row(row: tuple[object, ...]) -> RosterRow:
    return RosterRow(
        id=str(row[0]),
        name=str(row[1]),
        ticket_type_id=str(row[2]),
        valid_from=int(row[3] or 0),  # type: ignore[call-overload]
        valid_until=int(row[4] or 0),  # type: ignore[call-overload]
        cancelled=row[5] == "cancelled",
        company=str(row[6] or ""),
    )
