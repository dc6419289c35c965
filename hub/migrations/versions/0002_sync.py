"""The sync peer's update log, and the projections the organizer console reads.

* ``sync_*`` — the update log of every CRDT document, with the same tables
  and meaning as the appliance's SQLite log (:mod:`sync.sqlite_store`).
  System tables: only the sync peer (the tables' owner) reads them, so no
  row-level security and no grant to the tenant role.
* Projections — one table per record kind of the device logs and the
  control log (``checkin_scan``, ``checkin_annulment``, ``badge_print``,
  ``walk_in``, ``control_revocation``, ``control_amendment``).  Every row
  carries ``event_id``, the event's ``org_id`` (copied when projected, so a
  tenant's query needs no join to be filtered by its policy), the device that
  logged it (NULL for the control log) and the record's ``id``; the primary
  key ``(event_id, id)`` makes projecting a record twice harmless.  Written
  only by :mod:`hub.peer.projection`: the tenant role may read them, never
  write them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from hub.migrations.script import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_ROLE = "konferenco_tenant"

LOG_SCHEMA = """
CREATE TABLE sync_update (
    seq bigserial PRIMARY KEY,
    doc text NOT NULL,
    origin text NOT NULL,
    update_bytes bytea NOT NULL,
    received_at bigint NOT NULL,
    projected boolean NOT NULL DEFAULT false
);
CREATE INDEX sync_update_doc ON sync_update (doc, projected, seq);

CREATE TABLE sync_snapshot (
    doc text PRIMARY KEY,
    state bytea NOT NULL,
    merged bigint NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE sync_authored (
    doc text NOT NULL,
    client_id bigint NOT NULL,
    clock_end bigint NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (doc, client_id, clock_end)
);

CREATE TABLE sync_quarantine (
    id bigserial PRIMARY KEY,
    doc text NOT NULL,
    root text NOT NULL,
    key text,
    raw text NOT NULL,
    error text NOT NULL,
    at bigint NOT NULL
);

CREATE TABLE sync_peer_state (
    peer text NOT NULL,
    doc text NOT NULL,
    state_vector bytea NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (peer, doc)
);
"""

# ``at`` is the record's time in ms since the epoch; ``by`` is quoted because it is an SQL keyword.
PROJECTION_SCHEMA = """
CREATE TABLE checkin_scan (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    doc text NOT NULL,
    nonce text NOT NULL,
    gate text NOT NULL,
    direction text NOT NULL,
    result text NOT NULL,
    reason text NOT NULL DEFAULT '',
    attendee_id text,
    list_id text,
    at bigint NOT NULL,
    device_time bigint,
    staff text,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX checkin_scan_at ON checkin_scan (event_id, at);
CREATE INDEX checkin_scan_attendee ON checkin_scan (event_id, attendee_id);

CREATE TABLE checkin_annulment (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    scan_id text NOT NULL,
    reason text NOT NULL DEFAULT '',
    staff text,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX checkin_annulment_scan ON checkin_annulment (event_id, scan_id);

CREATE TABLE badge_print (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    job_id text NOT NULL,
    attendee_id text NOT NULL,
    printer text NOT NULL,
    status text NOT NULL,
    reason text NOT NULL DEFAULT '',
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE walk_in (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    attendee_id text NOT NULL,
    name text NOT NULL,
    company text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    ticket_type_id text NOT NULL,
    badge_code text,
    nfc_uid text,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE control_revocation (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    target text NOT NULL,
    value text NOT NULL,
    reason text NOT NULL DEFAULT '',
    "by" text,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE control_amendment (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    attendee_id text NOT NULL,
    field text NOT NULL,
    value text NOT NULL,
    "by" text,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX control_amendment_attendee ON control_amendment (event_id, attendee_id, field);
"""

PROJECTION_TABLES = [
    "checkin_scan",
    "checkin_annulment",
    "badge_print",
    "walk_in",
    "control_revocation",
    "control_amendment",
]
LOG_TABLES = ["sync_update", "sync_snapshot", "sync_authored", "sync_quarantine", "sync_peer_state"]


def tenant_policy(table: str) -> str:
    """RLS as in revision 0001, but read-only: only the sync peer (the owner) writes projections.

    A copy, not an import: Alembic loads revision files by path, so one
    cannot reliably import another.
    """
    return f"""
    ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
    CREATE POLICY {table}_tenant ON {table} TO {TENANT_ROLE}
        USING (org_id = nullif(current_setting('konferenco.org', true), '')::uuid);
    GRANT SELECT ON {table} TO {TENANT_ROLE};
    """


def upgrade() -> None:
    execute_script(LOG_SCHEMA)
    execute_script(PROJECTION_SCHEMA)
    execute_script("".join(tenant_policy(table) for table in PROJECTION_TABLES))


def downgrade() -> None:
    for table in reversed(PROJECTION_TABLES + LOG_TABLES):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
