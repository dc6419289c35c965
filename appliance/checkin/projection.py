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
from collections.abc import Callable, Sequence

import msgspec

from appliance.catalog import roster
from appliance.catalog.schema import migrate
from konferenco.badges import unb64
from konferenco.catalog.bundle import Attendee
from sync.documents import Appended, Change, screen_changes
from sync.permissions import Capability
from sync.projection import RecordProjection
from sync.records import Amendment, Annulment, DeviceKey, Revocation, Scan, TagLink, WalkIn
from sync.sqlite_store import Projector, quarantine_changes

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


_TOUCHED = "CREATE TEMP TABLE IF NOT EXISTS presence_touched (event_id TEXT, attendee_id TEXT, list_id TEXT)"

# The last admitted, not annulled scan of each touched attendee decides whether they are inside.
_REFRESH_PRESENCE = """
INSERT INTO checkin_presence (event_id, list_id, attendee_id, inside, last_at)
SELECT event_id, list_id, attendee_id, direction = 'entry', at FROM (
    SELECT c.event_id, c.list_id, c.attendee_id, c.direction, c.at, row_number() OVER (
        PARTITION BY c.event_id, c.list_id, c.attendee_id ORDER BY c.at DESC, c.doc DESC, c.id DESC
    ) AS n
    FROM presence_touched t
    CROSS JOIN checkin c  -- CROSS: drive from the few touched keys, never scan checkin
        ON c.event_id = t.event_id AND c.attendee_id = t.attendee_id AND c.list_id = t.list_id
    WHERE c.result = 'admitted'
      AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.scan_id = c.id)
) WHERE n = 1
"""


#: Up to this many touched attendees are refreshed one by one (a door scan touches one).
ONE_BY_ONE = 16


def refresh_presence(conn: sqlite3.Connection, touched: set[tuple[str, str, str]]) -> None:
    """Recompute presence for (event, attendee, list) keys: one by one for a few, set-wise for many.

    A catch-up chunk touches hundreds of attendees, and set-wise it costs
    about a tenth of asking each one's history; a door scan touches one, and
    for it two indexed statements beat five (measured: the set-wise path cost
    a scan 0.3 ms).  Both give the same rows (tested).
    """
    if len(touched) <= ONE_BY_ONE:
        for event_id, attendee_id, list_id in touched:
            _refresh_one(conn, event_id, attendee_id, list_id)
        return
    conn.execute(_TOUCHED)
    conn.executemany("INSERT INTO presence_touched VALUES (?, ?, ?)", touched)
    conn.execute(
        "DELETE FROM checkin_presence WHERE (event_id, attendee_id, list_id) IN"
        " (SELECT event_id, attendee_id, list_id FROM presence_touched)"
    )
    conn.execute(_REFRESH_PRESENCE)
    conn.execute("DELETE FROM presence_touched")


#: A scan's fields, each a ``checkin`` column of the same name: the appliance keeps no other copy
#: of its scans (a retried nonce is answered from here), so a field added to ``Scan`` without its
#: column fails loudly at the first insert instead of being dropped.
SCAN_COLUMNS = tuple(f.name for f in msgspec.structs.fields(Scan))
_INSERT_SCAN = (
    f"INSERT OR IGNORE INTO checkin (doc, event_id, device_id, {', '.join(SCAN_COLUMNS)})"
    f" VALUES ({', '.join('?' * (3 + len(SCAN_COLUMNS)))})"
)


def _scan_row(doc: str, event: str, device: str, s: Scan) -> tuple[object, ...]:
    return (doc, event, device, *(getattr(s, name) for name in SCAN_COLUMNS))


def _insert_scans(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> None:
    """Insert the scans gathered so far in one statement, and forget them."""
    if rows:
        conn.executemany(_INSERT_SCAN, rows)
        rows.clear()


def _refresh_one(conn: sqlite3.Connection, event_id: str, attendee_id: str, list_id: str) -> None:
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


#: Device id -> the capabilities its certificate grants; None when this box does not know them.
CapabilitiesOf = Callable[[str], frozenset[Capability] | None]


def _unknown(_device_id: str) -> frozenset[Capability] | None:
    return None


class ApplianceProjection(RecordProjection):
    """The generic record tables plus the check-in, roster and key tables.

    ``capabilities_of`` says what each writer device is certified to do: a
    record its log holds that its capabilities do not allow (a scanner's
    walk-in, relayed by a peer that did not check) is quarantined, not
    projected.  A device it does not know (None) is trusted to the server
    that accepted its log, which checked the kinds against its credential.

    ``extra`` projections of other parts (grassroots proposals, …) run in
    the same transaction on the same screened changes, and are reset with
    these tables: one registration, so a replay rebuilds them all.
    """

    def __init__(self, capabilities_of: CapabilitiesOf = _unknown, extra: Sequence[Projector] = ()) -> None:
        self.capabilities_of = capabilities_of
        self.extra = tuple(extra)

    def setup(self, conn: sqlite3.Connection) -> None:
        super().setup(conn)
        migrate(conn)
        for projection in self.extra:
            projection.setup(conn)

    def project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        changes, refused = screen_changes(changes, self.capabilities_of)
        quarantine_changes(conn, refused)
        # Scans go to ``checkin`` only, which holds every field of them: a catch-up is
        # mostly scans, and a second, JSON copy in ``sync_record`` cost a third of it.
        super().project(
            conn, [c for c in changes if not (isinstance(c, Appended) and isinstance(c.record, Scan))]
        )
        touched: set[tuple[str, str, str]] = set()
        scans: list[tuple[object, ...]] = []
        for change in changes:
            if not isinstance(change, Appended):
                continue
            record, doc = change.record, change.doc
            event = doc.event_id
            if isinstance(record, Scan):
                scans.append(_scan_row(str(doc), event, doc.device_id or "", record))
                if record.attendee_id and record.list_id and record.result == "admitted":
                    touched.add((event, record.attendee_id, record.list_id))
            elif isinstance(record, Annulment):
                _insert_scans(conn, scans)  # the annulled scan may be in this very batch
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
                    "INSERT OR IGNORE INTO device_key"
                    " (event_id, device_id, public_key, not_after, signature, capabilities)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        event,
                        doc.device_id,
                        unb64(record.public_key),
                        record.not_after,
                        unb64(record.signature),
                        ",".join(sorted(record.capabilities)),
                    ),
                )
        _insert_scans(conn, scans)
        refresh_presence(conn, touched)
        for projection in self.extra:
            projection.project(conn, changes)

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
        for projection in self.extra:
            projection.reset(conn)
