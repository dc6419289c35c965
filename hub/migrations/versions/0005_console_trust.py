"""Console sessions, the shared sign-in limiter, the audit trail, and accounts hidden from tenants.

* ``console_session``: one row per signed-in browser, keyed by a keyed hash
  of the cookie (the cookie itself is never stored).  Every hub worker reads
  the same rows, so "sign out everywhere", a password change or a role
  change ends every session at once, on every worker.  No tenant grant: only
  the system role (the tables' owner) reads it.
* ``login_failure``: failed sign-ins per key (``email:…``, ``addr:…``), so the
  limit of N failures a minute holds across all hub workers.  No tenant grant.
* ``audit``: organizer actions, append-only, scoped to an organization with
  row-level security like the other tenant tables; the tenant role may read
  and insert, never change or delete.
* ``account``: the tenant role kept ``SELECT`` on every column of every
  account (e-mails and password hashes of all organizations).  Now it may
  read ``id``, ``email``, ``name`` and ``created_at`` of the members of its
  own organization only; ``password_hash`` is readable by the owner role
  alone, which signs in.

Revision ID: 0005
"""

from __future__ import annotations

from alembic import op

from hub.migrations.script import execute_script

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TENANT_ROLE = "konferenco_tenant"

SCHEMA = f"""
CREATE TABLE console_session (
    token_hash bytea PRIMARY KEY,
    account_id uuid NOT NULL REFERENCES account ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_session_account ON console_session (account_id);
CREATE INDEX console_session_expires ON console_session (expires_at);

CREATE TABLE login_failure (
    key text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX login_failure_key ON login_failure (key, failed_at);
CREATE INDEX login_failure_at ON login_failure (failed_at);

CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    org_id uuid NOT NULL REFERENCES organization ON DELETE CASCADE,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id uuid,
    actor text NOT NULL,
    action text NOT NULL CHECK (action ~ '^[a-z_.]{{1,64}}$'),
    event_id text,
    target text NOT NULL DEFAULT '',
    details jsonb NOT NULL DEFAULT '{{}}'::jsonb
);
CREATE INDEX audit_org_at ON audit (org_id, id DESC);

ALTER TABLE audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_tenant ON audit TO {TENANT_ROLE}
    USING (org_id = nullif(current_setting('konferenco.org', true), '')::uuid)
    WITH CHECK (org_id = nullif(current_setting('konferenco.org', true), '')::uuid);
GRANT SELECT, INSERT ON audit TO {TENANT_ROLE};
GRANT USAGE ON SEQUENCE audit_id_seq TO {TENANT_ROLE};

REVOKE ALL ON account FROM {TENANT_ROLE};
GRANT SELECT (id, email, name, created_at) ON account TO {TENANT_ROLE};
ALTER TABLE account ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_members ON account FOR SELECT TO {TENANT_ROLE}
    USING (id IN (SELECT account_id FROM membership));
"""


def upgrade() -> None:
    execute_script(SCHEMA)


def downgrade() -> None:
    execute_script(
        f"""
        DROP POLICY IF EXISTS account_members ON account;
        ALTER TABLE account DISABLE ROW LEVEL SECURITY;
        REVOKE ALL ON account FROM {TENANT_ROLE};
        GRANT SELECT ON account TO {TENANT_ROLE};
        """
    )
    for table in ("audit", "login_failure", "console_session"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
