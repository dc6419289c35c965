"""The generic projection: every valid record and map entry as a queryable row.

``sync_record`` holds each log record once (keyed by document and record
id, so projecting the same record twice is harmless) with its JSON body;
``sync_entry`` holds the current value of each map key.  Views such as "who
is inside" are SQL over these tables (see :data:`FIRST_ADMISSIONS`), or
dedicated projections built by the appliance and the hub the same way.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from sync.documents import Appended, Assigned, Change
from sync.sqlite_writer import execute_script

_encode = msgspec.json.Encoder().encode

SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_record (
    doc TEXT NOT NULL,
    root TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sync_record_kind ON sync_record (kind, at);
CREATE TABLE IF NOT EXISTS sync_entry (
    doc TEXT NOT NULL,
    root TEXT NOT NULL,
    key TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (doc, root, key)
) WITHOUT ROWID;
"""

#: DESIGN.md §2: an attendee's admission is the earliest admitted scan across all
#: device logs (ties broken by document and record id, so every replica agrees).
FIRST_ADMISSIONS = """
SELECT attendee_id, doc, id, at FROM (
    SELECT json_extract(body, '$.attendee_id') AS attendee_id, doc, id, at,
           row_number() OVER (PARTITION BY json_extract(body, '$.attendee_id') ORDER BY at, doc, id) AS n
    FROM sync_record
    WHERE kind = 'scan' AND json_extract(body, '$.result') = 'admitted'
) WHERE n = 1 ORDER BY attendee_id
"""


class RecordProjection:
    def setup(self, conn: sqlite3.Connection) -> None:
        execute_script(conn, SCHEMA)

    def project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        records = []
        for c in changes:
            if isinstance(c, Appended):
                records.append(
                    (
                        str(c.doc),
                        c.root,
                        c.record.id,
                        type(c.record).__struct_config__.tag,
                        c.record.at,
                        _encode(c.record),
                    )
                )
            elif isinstance(c, Assigned):
                if c.value is None:
                    conn.execute(
                        "DELETE FROM sync_entry WHERE doc = ? AND root = ? AND key = ?",
                        (str(c.doc), c.root, c.key),
                    )
                else:
                    conn.execute(
                        "INSERT OR REPLACE INTO sync_entry (doc, root, key, body) VALUES (?, ?, ?, ?)",
                        (str(c.doc), c.root, c.key, _encode(c.value)),
                    )
        if records:
            conn.executemany("INSERT OR IGNORE INTO sync_record VALUES (?, ?, ?, ?, ?, ?)", records)

    def reset(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM sync_record")
        conn.execute("DELETE FROM sync_entry")
