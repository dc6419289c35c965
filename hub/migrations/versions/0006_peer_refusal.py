"""Peers an appliance refused: the console shows organizers the rogue boxes their appliances met.

An appliance that refuses a sync peer (an upstream that could not prove it
belongs to the event, or a client whose certificate did not verify) writes a
``peer_refused`` record to its own log; it reaches the hub like any other
record, and lands here.  Read-only for tenants, by row-level security like
the other projection tables (0002).

Revision ID: 0006
"""

from __future__ import annotations

from alembic import op

from hub.migrations.script import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TENANT_ROLE = "konferenco_tenant"

SCHEMA = f"""
CREATE TABLE peer_refusal (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    device_id text,
    peer text NOT NULL,
    direction text NOT NULL,
    reason text NOT NULL DEFAULT '',
    at bigint NOT NULL,
    PRIMARY KEY (event_id, id)
);
CREATE INDEX peer_refusal_recent ON peer_refusal (event_id, at DESC);
ALTER TABLE peer_refusal ENABLE ROW LEVEL SECURITY;
CREATE POLICY peer_refusal_tenant ON peer_refusal TO {TENANT_ROLE}
    USING (org_id = nullif(current_setting('konferenco.org', true), '')::uuid);
GRANT SELECT ON peer_refusal TO {TENANT_ROLE};
"""


def upgrade() -> None:
    execute_script(SCHEMA)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS peer_refusal CASCADE")
