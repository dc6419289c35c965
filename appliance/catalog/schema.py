"""The appliance's own tables (catalog, check-ins, staff), created and migrated in code.

Tables are created with sqlite-utils (its ``create``/``create_index`` keep
this declarative); the full-text index is plain SQL because it needs FTS5
options sqlite-utils does not expose (a 2- and 3-character prefix index).
Migrations are numbered and recorded in ``PRAGMA user_version``; each runs
once, in the writer's connection, before any write.  A step never changes
once released: a later change to a table is a new step.

The sync store's tables (``sync_*``) belong to :mod:`sync.sqlite_store`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import sqlite_utils

from appliance.catalog.roster import INSERT_SEARCH, search_row

_FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS attendee_fts USING fts5(
    name, company, email, order_ref,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
)
"""


def _v1(db: sqlite_utils.Database) -> None:
    db.table("catalog_event").create(
        {
            "id": str,
            "name": str,
            "timezone": str,
            "starts_at": int,
            "ends_at": int,
            "revision": int,
            "bundle_sha256": str,
            "imported_at": int,
        },
        pk="id",
        not_null={"name", "timezone", "revision"},
        if_not_exists=True,
    )
    db.table("catalog_ticket_type").create(
        {"event_id": str, "id": str, "name": str}, pk=("event_id", "id"), if_not_exists=True
    )
    db.table("catalog_list").create(
        {
            "event_id": str,
            "id": str,
            "name": str,
            "ticket_types": str,  # JSON array, NULL = every ticket type
            "day": str,  # YYYY-MM-DD in the event's time zone, NULL = every day
            "opens_at": int,
            "closes_at": int,
            "room_id": str,
            "capacity": int,
            "reentry": str,
            "rules": str,  # JSON array of rules
        },
        pk=("event_id", "id"),
        not_null={"name", "reentry"},
        if_not_exists=True,
    )
    db.table("catalog_gate").create(
        {"event_id": str, "id": str, "name": str, "default_list": str},
        pk=("event_id", "id"),
        if_not_exists=True,
    )
    db.table("catalog_key").create(
        {"event_id": str, "kid": str, "public_key": bytes, "not_before": int, "not_after": int},
        pk=("event_id", "kid"),
        if_not_exists=True,
    )
    # rowid is the FTS row id; (event_id, id) is the attendee's identity.
    db.table("attendee").create(
        {
            "rowid": int,
            "event_id": str,
            "id": str,
            "external_ref": str,
            "name": str,
            "company": str,
            "email": str,
            "order_ref": str,
            "ticket_type_id": str,
            "badge_code": str,
            "nfc_uid": str,
            "valid_from": int,
            "valid_until": int,
            "status": str,
            "source": str,
            "updated_at": int,
        },
        pk="rowid",
        not_null={"event_id", "id", "name", "ticket_type_id", "status", "source"},
        if_not_exists=True,
    )
    db.table("attendee").create_index(["event_id", "id"], unique=True, if_not_exists=True)
    db.table("attendee").create_index(["event_id", "nfc_uid"], if_not_exists=True)
    db.table("attendee").create_index(["event_id", "external_ref"], if_not_exists=True)
    db.execute(_FTS)

    # Check-ins: one row per scan of any device (projected from the device logs).
    db.table("checkin").create(
        {
            "doc": str,
            "id": str,
            "event_id": str,
            "device_id": str,
            "nonce": str,
            "attendee_id": str,
            "list_id": str,
            "gate": str,
            "direction": str,
            "result": str,
            "reason": str,
            "code": str,
            "nfc_uid": str,
            "at": int,
            "device_time": int,
            "staff": str,
        },
        pk=("doc", "id"),
        not_null={"event_id", "device_id", "nonce", "direction", "result", "at"},
        if_not_exists=True,
    )
    db.table("checkin").create_index(["device_id", "nonce"], if_not_exists=True)
    db.table("checkin").create_index(["event_id", "attendee_id", "list_id", "at"], if_not_exists=True)
    db.table("checkin").create_index(["event_id", "at"], if_not_exists=True)
    db.table("checkin_annulment").create(
        {"scan_id": str, "doc": str, "id": str, "at": int, "reason": str, "staff": str},
        pk="scan_id",
        if_not_exists=True,
    )
    # Who is inside, per list: recomputed from ``checkin`` for each attendee a change touches.
    db.table("checkin_presence").create(
        {"event_id": str, "list_id": str, "attendee_id": str, "inside": int, "last_at": int},
        pk=("event_id", "list_id", "attendee_id"),
        if_not_exists=True,
    )
    db.table("checkin_presence").create_index(["event_id", "list_id", "inside"], if_not_exists=True)
    db.table("checkin_revocation").create(
        {"event_id": str, "target": str, "value": str, "reason": str, "at": int},
        pk=("event_id", "target", "value"),
        if_not_exists=True,
    )
    db.table("device_key").create(
        {
            "event_id": str,
            "device_id": str,
            "public_key": bytes,
            "not_after": int,
            "signature": bytes,
        },
        pk=("event_id", "device_id", "public_key"),
        if_not_exists=True,
    )
    # NFC tags handed out on site (device logs); they take precedence over the catalog's tag ids.
    db.table("tag_link").create(
        {"event_id": str, "nfc_uid": str, "attendee_id": str, "at": int, "doc": str, "id": str},
        pk=("event_id", "nfc_uid"),
        if_not_exists=True,
    )
    db.table("staff").create(
        {
            "id": str,
            "name": str,
            "role": str,
            "secret_hash": str,
            "failed_attempts": int,
            "locked_until": int,
            "created_at": int,
        },
        pk="id",
        not_null={"name", "role", "secret_hash"},
        defaults={"failed_attempts": 0, "locked_until": 0},
        if_not_exists=True,
    )


def _v2(db: sqlite_utils.Database) -> None:
    """The durable badge print queue (``appliance.printing.queue``)."""
    db.table("print_job").create(
        {
            "id": str,
            "event_id": str,
            "attendee_id": str,
            "printer": str,
            "kind": str,  # auto (first admission at a gate) | request (staff) | reprint
            "status": str,  # queued | printing | done | failed | uncertain | cancelled
            "attempts": int,
            "next_attempt_at": int,
            "detail": str,
            "reprint_of": str,
            "created_at": int,
            "updated_at": int,
        },
        pk="id",
        not_null={"event_id", "attendee_id", "printer", "kind", "status"},
        defaults={"attempts": 0, "next_attempt_at": 0, "detail": ""},
        if_not_exists=True,
    )
    db.execute("CREATE INDEX IF NOT EXISTS print_job_due ON print_job (status, next_attempt_at)")
    # Never print a badge twice automatically: one automatic job per attendee, ever.
    db.execute(
        "CREATE UNIQUE INDEX IF NOT EXISTS print_job_auto_once ON print_job (event_id, attendee_id)"
        " WHERE kind = 'auto'"
    )


_FTS_V3 = """
CREATE VIRTUAL TABLE attendee_fts USING fts5(
    name, company, email, order_ref, name_cjk, company_cjk,
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3'
)
"""


def _v3(db: sqlite_utils.Database) -> None:
    """Search in every script: CJK columns in the index, rebuilt with the shared folding.

    FTS5 tables cannot gain a column, so the index is made anew and filled
    from ``attendee`` (the same rows :func:`appliance.catalog.roster.upsert_attendees`
    writes; 180,000 attendees take a few seconds, once).
    """
    conn = db.conn
    conn.execute("SAVEPOINT search_v3")  # all or nothing, in the writer's transaction or alone
    try:
        conn.execute("DROP TABLE IF EXISTS attendee_fts")
        conn.execute(_FTS_V3)
        rows = conn.execute("SELECT rowid, name, company, email, order_ref FROM attendee")
        while batch := rows.fetchmany(10_000):
            conn.executemany(
                INSERT_SEARCH, [search_row(r, n, c or "", e or "", o or "") for r, n, c, e, o in batch]
            )
    except BaseException:
        conn.execute("ROLLBACK TO search_v3")
        conn.execute("RELEASE search_v3")
        raise
    conn.execute("RELEASE search_v3")


def _v4(db: sqlite_utils.Database) -> None:
    """Device certificates name the device's capabilities (konferenco.badges, 0.3).

    Kept with the key because the signature covers them: without them a
    peer could not check the certificate again when it rebuilds its key ring.
    """
    db.execute("ALTER TABLE device_key ADD COLUMN capabilities TEXT NOT NULL DEFAULT ''")


def _v5(db: sqlite_utils.Database) -> None:
    """Why staff printed a badge again ("badge lost", "name misspelt"), kept with the job; jobs by attendee.

    The desk asks for it on every reprint, so an organizer can tell a lost badge
    from a second person using one; jobs made before have none.
    """
    db.execute("ALTER TABLE print_job ADD COLUMN reason TEXT NOT NULL DEFAULT ''")
    # one attendee's jobs (the desk's record, the kiosk's "already printing?") without a table scan
    db.execute(
        "CREATE INDEX IF NOT EXISTS print_job_attendee ON print_job (event_id, attendee_id, created_at)"
    )


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1, _v2, _v3, _v4, _v5]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the appliance tables to the current version; return that version."""
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    db = sqlite_utils.Database(conn)
    for number, step in enumerate(MIGRATIONS, start=1):
        if number > version:
            step(db)
            conn.execute(f"PRAGMA user_version = {number}")
    return len(MIGRATIONS)
