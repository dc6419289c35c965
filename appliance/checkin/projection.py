"""The appliance's projection: device and control documents into check-in tables.

Runs inside the update store's transaction (DESIGN.md §2), so a scan is on
disk in the log and in ``checkin`` together or not at all, and a replica
that replays its logs rebuilds exactly these rows.  Every step is
idempotent per record id, and order-independent across documents (remote
logs arrive in any order): presence is recomputed from ``checkin`` for each
attendee a change touches instead of being incremented.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from appliance.catalog import roster
from appliance.catalog.schema import migrate
from konferenco.badges import unb64
from konferenco.catalog.bundle import Attendee
from sync.documents import Appended, Change
from sync.projection import RecordProjection
from sync.records import Amendment, Annulment, DeviceKey, Revocation, Scan, TagLink, WalkIn

_ADMITTED_SCANS = """
SELECT direction, at, gate, device_id FROM checkin c
WHERE event_id = ? AND attendee_id = ? AND list_id = ? AND result = 'admitted'
  AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.scan_id = c.id)
ORDER BY at, doc, id
"""


_LINK_TAG = """
INSERT INTO tag_link VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (event_id, nfc_uid) DO UPDATE
SET attendee_id = excluded.attendee_id, at = excluded.at, doc = excluded.doc, id = excluded.id
WHERE (excluded.at, excluded.doc, excluded.id) > (tag_link.at, tag_link.doc, tag_link.id)
"""


def admitted_history(
    conn: sqlite3.Connection, event_id: str, attendee_id: str, list_id: str
) -> list[tuple[str, int, str, str]]:
    """(direction, at, gate, device) of the admitted, not annulled scans, oldest first."""
    return conn.execute(_ADMITTED_SCANS, (event_id, attendee_id, list_id)).fetchall()


def refresh_presence(conn: sqlite3.Connection, event_id: str, attendee_id: str, list_id: str) -> None:
    history = admitted_history(conn, event_id, attendee_id, list_id)
    if not history:
        conn.execute(
            "DELETE FROM checkin_presence WHERE event_id = ? AND list_id = ? AND attendee_id = ?",
            (event_id, list_id, attendee_id),
        )
        return
    direction, at = history[-1][0], history[-1][1]
    conn.execute(
        "INSERT OR REPLACE INTO checkin_presence VALUES (?, ?, ?, ?, ?)",
        (event_id, list_id, attendee_id, int(direction == "entry"), at),
    )


class ApplianceProjection(RecordProjection):
    """The generic record tables plus the check-in, roster and key tables."""

    def setup(self, conn: sqlite3.Connection) -> None:
        super().setup(conn)
        migrate(conn)

    def project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        super().project(conn, changes)
        touched: set[tuple[str, str, str]] = set()
        for change in changes:
            if not isinstance(change, Appended):
                continue
            record, doc = change.record, change.doc
            event = doc.event_id
            if isinstance(record, Scan):
                self._scan(conn, str(doc), event, doc.device_id or "", record)
                if record.attendee_id and record.list_id and record.result == "admitted":
                    touched.add((event, record.attendee_id, record.list_id))
            elif isinstance(record, Annulment):
                conn.execute(
                    "INSERT OR IGNORE INTO checkin_annulment VALUES (?, ?, ?, ?, ?, ?)",
                    (record.scan_id, str(doc), record.id, record.at, record.reason, record.staff),
                )
                row = conn.execute(
                    "SELECT attendee_id, list_id FROM checkin WHERE id = ?", (record.scan_id,)
                ).fetchone()
                if row is not None and row[0] and row[1]:
                    touched.add((event, row[0], row[1]))
            elif isinstance(record, WalkIn):
                walk_in = Attendee(
                    id=record.attendee_id,
                    name=record.name,
                    company=record.company,
                    email=record.email,
                    ticket_type_id=record.ticket_type_id,
                    badge_code=record.badge_code or "",
                    nfc_uid=record.nfc_uid or "",
                )
                exists = conn.execute(
                    "SELECT 1 FROM attendee WHERE event_id = ? AND id = ?", (event, record.attendee_id)
                ).fetchone()
                if exists is None:  # the hub may have folded it into the catalog already
                    roster.upsert_attendees(conn, event, [walk_in], "walk_in")
            elif isinstance(record, Amendment):
                roster.amend(conn, event, record.attendee_id, record.field, record.value)
            elif isinstance(record, Revocation):
                conn.execute(
                    "INSERT OR IGNORE INTO checkin_revocation VALUES (?, ?, ?, ?, ?)",
                    (event, record.target, record.value, record.reason, record.at),
                )
            elif isinstance(record, TagLink):
                # Latest link of a tag wins, whatever order the logs arrive in.
                conn.execute(
                    _LINK_TAG, (event, record.nfc_uid, record.attendee_id, record.at, str(doc), record.id)
                )
            elif isinstance(record, DeviceKey):
                conn.execute(
                    "INSERT OR IGNORE INTO device_key VALUES (?, ?, ?, ?, ?)",
                    (
                        event,
                        doc.device_id,
                        unb64(record.public_key),
                        record.not_after,
                        unb64(record.signature),
                    ),
                )
        for event, attendee, list_id in touched:
            refresh_presence(conn, event, attendee, list_id)

    @staticmethod
    def _scan(conn: sqlite3.Connection, doc: str, event: str, device: str, s: Scan) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO checkin VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc, s.id, event, device, s.nonce, s.attendee_id, s.list_id, s.gate, s.direction,
                s.result, s.reason, s.code, s.nfc_uid, s.at, s.device_time, s.staff,
            ),
        )  # fmt: skip

    def reset(self, conn: sqlite3.Connection) -> None:
        super().reset(conn)
        tables = (
            "checkin",
            "checkin_annulment",
            "checkin_presence",
            "checkin_revocation",
            "device_key",
            "tag_link",
        )
        for table in tables:
            conn.execute(f"DELETE FROM {table}")
        # Walk-ins come back from the logs; catalog rows stay (they are not projected).
        for (rowid,) in conn.execute("SELECT rowid FROM attendee WHERE source = 'walk_in'").fetchall():
            conn.execute("DELETE FROM attendee_fts WHERE rowid = ?", (rowid,))
            conn.execute("DELETE FROM attendee WHERE rowid = ?", (rowid,))
