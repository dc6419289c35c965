"""Proposals and host edits of every device log, as SQLite rows the API lists without reading documents.

Part of the appliance's projection (``appliance/storage.py`` registers it):
it runs inside the update store's transaction, so a proposal acknowledged
to an attendee is in the device log *and* in ``grassroots_proposal``
together, and ``kill -9`` cannot leave one without the other.  Records
arrive from any device, in any order, possibly twice (sync, catch-up,
replay): every statement is idempotent per record, and when two records
claim one proposal id the earliest by ``(at, doc, id)`` is kept on every
replica, whatever order they came in.  ``reset`` empties the tables, and
replaying the logs fills them again exactly (DESIGN.md §2).

The tables are created if missing (``setup``); they hold nothing that the
logs do not, so a later change of their shape can drop and rebuild them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import msgspec

from sync.documents import Appended, Change
from sync.records import HostEdit, Proposal
from sync.sqlite_writer import execute_script

SCHEMA = """
CREATE TABLE IF NOT EXISTS grassroots_proposal (
    event_id TEXT NOT NULL,
    proposal_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    proposer TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (event_id, proposal_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS grassroots_proposal_proposer ON grassroots_proposal (event_id, proposer);
CREATE INDEX IF NOT EXISTS grassroots_proposal_at ON grassroots_proposal (event_id, at);
CREATE TABLE IF NOT EXISTS grassroots_host_edit (
    doc TEXT NOT NULL,
    id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    attendee_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (doc, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS grassroots_host_edit_session ON grassroots_host_edit (session_id, at);
"""

# The earliest record of a proposal id wins on every replica, in whatever order the logs arrive.
_PUT_PROPOSAL = """
INSERT INTO grassroots_proposal (event_id, proposal_id, doc, id, device_id, at, proposer, title, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (event_id, proposal_id) DO UPDATE SET
    doc = excluded.doc, id = excluded.id, device_id = excluded.device_id, at = excluded.at,
    proposer = excluded.proposer, title = excluded.title, body = excluded.body
WHERE (excluded.at, excluded.doc, excluded.id) < (grassroots_proposal.at, grassroots_proposal.doc,
                                                  grassroots_proposal.id)
"""
_PUT_HOST_EDIT = "INSERT OR IGNORE INTO grassroots_host_edit VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

_encode = msgspec.json.Encoder().encode


class GrassrootsProjection:
    """Device-log ``proposal`` and ``host_edit`` records into ``grassroots_*`` tables."""

    def setup(self, conn: sqlite3.Connection) -> None:
        execute_script(conn, SCHEMA)

    def project(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        proposals: list[tuple[object, ...]] = []
        edits: list[tuple[object, ...]] = []
        for change in changes:
            if not isinstance(change, Appended) or change.doc.kind != "device":
                continue
            record, doc = change.record, change.doc
            if isinstance(record, Proposal):
                proposals.append(
                    (
                        doc.event_id, record.proposal_id, str(doc), record.id, doc.device_id or "",
                        record.at, record.proposer, record.title, _encode(record),
                    )
                )  # fmt: skip
            elif isinstance(record, HostEdit):
                edits.append(
                    (
                        str(doc), record.id, doc.event_id, doc.device_id or "", record.session_id,
                        record.attendee_id, record.at, _encode(record),
                    )
                )  # fmt: skip
        if proposals:
            conn.executemany(_PUT_PROPOSAL, proposals)
        if edits:
            conn.executemany(_PUT_HOST_EDIT, edits)

    def reset(self, conn: sqlite3.Connection) -> None:
        conn.execute("DELETE FROM grassroots_proposal")
        conn.execute("DELETE FROM grassroots_host_edit")
