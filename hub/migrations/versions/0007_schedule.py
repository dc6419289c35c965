"""The schedule on the hub: proposals, host edits, decisions, rooms and sessions, and child events.

* ``proposal``, ``host_edit``: grassroots records from the device logs
  (one row per record, like the scans of 0002), so organizers list
  proposals without walking documents.
* ``schedule_decision``, ``schedule_room``, ``schedule_session``: the
  control document's decisions and its rooms and sessions maps, for SQL
  that needs them beside the check-ins (the dashboard's occupancy per
  session) and for the child events.
* ``event`` gains what a **child event** needs: an approved grassroots
  session becomes an event under its parent (``parent_id``), ``kind =
  'grassroots'``, with its room, capacity, host, session id and the
  session's status.  The projection writes them; an organizer never does.
  ``session_status = 'removed'`` marks a session gone from the schedule
  (the row stays: something may refer to the event).
* ``checkin_list`` gains ``room_id`` and ``capacity``: a list tied to a room
  counts who is inside it (the appliance's catalog has had them since 0.2).

All projection tables are read-only for tenants, with row-level security
like the other projections.

Revision ID: 0007
"""

from __future__ import annotations

from alembic import op

from hub.migrations.script import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TENANT_ROLE = "konferenco_tenant"

SCHEMA = """
ALTER TABLE event
    ADD COLUMN kind text NOT NULL DEFAULT 'event' CHECK (kind IN ('event', 'grassroots')),
    ADD COLUMN session_id text,
    ADD COLUMN session_status text,
    ADD COLUMN room_id text,
    ADD COLUMN room_name text,
    ADD COLUMN capacity integer,
    ADD COLUMN host_id text,
    ADD COLUMN host_name text NOT NULL DEFAULT '';
CREATE INDEX event_parent ON event (parent_id) WHERE parent_id IS NOT NULL;
CREATE UNIQUE INDEX event_child_session ON event (parent_id, session_id) WHERE kind = 'grassroots';

ALTER TABLE checkin_list
    ADD COLUMN room_id text CHECK (room_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    ADD COLUMN capacity integer CHECK (capacity >= 1);

CREATE TABLE proposal (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    proposal_id text NOT NULL,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    host text NOT NULL DEFAULT '',
    proposer text,
    ref text NOT NULL DEFAULT '',
    duration_min integer NOT NULL,
    attendance integer,
    wished_rooms text[] NOT NULL DEFAULT '{}',
    wished_from bigint,
    wished_to bigint,
    type text NOT NULL DEFAULT 'grassroots',
    language text NOT NULL DEFAULT '',
    staff text,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX proposal_by_id ON proposal (event_id, proposal_id, at, id);

CREATE TABLE host_edit (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    session_id text NOT NULL,
    attendee_id text NOT NULL,
    title text,
    description text,
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE schedule_decision (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    proposal_id text NOT NULL,
    decision text NOT NULL,
    room_id text,
    starts_at bigint,
    ends_at bigint,
    by text,
    session_id text,
    reason text NOT NULL DEFAULT '',
    overlap_reason text NOT NULL DEFAULT '',
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX schedule_decision_proposal ON schedule_decision (event_id, proposal_id, at, id);

CREATE TABLE schedule_room (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    name text NOT NULL,
    capacity integer,
    grassroots boolean NOT NULL DEFAULT false,
    position integer NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE schedule_session (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    room_id text NOT NULL,
    title text NOT NULL,
    starts_at bigint NOT NULL,
    ends_at bigint NOT NULL,
    status text NOT NULL,
    grassroots boolean NOT NULL DEFAULT false,
    type text NOT NULL DEFAULT '',
    host text,
    host_name text NOT NULL DEFAULT '',
    proposal_id text,
    decision_id text,
    attendance integer,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX schedule_session_room ON schedule_session (event_id, room_id, starts_at);
"""

PROJECTIONS = ("proposal", "host_edit", "schedule_decision", "schedule_room", "schedule_session")


def read_only_policy(table: str) -> str:
    return f"""
    ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
    CREATE POLICY {table}_tenant ON {table} TO {TENANT_ROLE}
        USING (org_id = nullif(current_setting('konferenco.org', true), '')::uuid);
    GRANT SELECT ON {table} TO {TENANT_ROLE};
    """


def upgrade() -> None:
    execute_script(SCHEMA)
    execute_script("".join(read_only_policy(table) for table in PROJECTIONS))


def downgrade() -> None:
    for table in reversed(PROJECTIONS):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    execute_script(
        """
        DELETE FROM event e WHERE kind = 'grassroots'
            AND NOT EXISTS (SELECT 1 FROM event c WHERE c.parent_id = e.id);
        DROP INDEX IF EXISTS event_child_session;
        DROP INDEX IF EXISTS event_parent;
        ALTER TABLE checkin_list DROP COLUMN IF EXISTS room_id, DROP COLUMN IF EXISTS capacity;
        ALTER TABLE event DROP COLUMN IF EXISTS kind, DROP COLUMN IF EXISTS session_id,
            DROP COLUMN IF EXISTS session_status, DROP COLUMN IF EXISTS room_id,
            DROP COLUMN IF EXISTS room_name, DROP COLUMN IF EXISTS capacity,
            DROP COLUMN IF EXISTS host_id, DROP COLUMN IF EXISTS host_name;
        """
    )
