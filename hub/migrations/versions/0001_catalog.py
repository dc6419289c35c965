"""Tenants, accounts, the catalog, keys, enrolments and devices, with row-level security.

Every tenant table carries ``org_id`` and a policy that compares it with the
transaction's ``konferenco.org`` setting.  Requests for an organization run
``SET LOCAL ROLE konferenco_tenant`` (see :mod:`hub.db.session`): that role
is subject to the policies, so a query that forgets ``WHERE org_id = …``
still sees one tenant's rows.  The tables' owner (the migrating user) is not
(RLS is enabled, not forced): system work such as sync projections, token
lookups and sign-in runs as the owner, and is kept to named functions.

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from hub.migrations.script import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TENANT_ROLE = "konferenco_tenant"

SCHEMA = """
CREATE TABLE organization (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    tier text NOT NULL DEFAULT 'free'
        CHECK (tier IN ('free', 'professional', 'enterprise', 'conference')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE account (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email text NOT NULL,
    name text NOT NULL DEFAULT '',
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX account_email ON account (lower(email));

CREATE TABLE membership (
    org_id uuid NOT NULL REFERENCES organization ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES account ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('owner', 'organizer', 'viewer')),
    PRIMARY KEY (org_id, account_id)
);
CREATE INDEX membership_account ON membership (account_id);

CREATE TABLE api_token (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL REFERENCES organization ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES account ON DELETE CASCADE,
    name text NOT NULL,
    token_hash bytea NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);

CREATE TABLE event (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    org_id uuid NOT NULL REFERENCES organization ON DELETE CASCADE,
    parent_id text REFERENCES event,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone text NOT NULL DEFAULT 'UTC',
    starts_at bigint NOT NULL DEFAULT 0,
    ends_at bigint NOT NULL DEFAULT 0,
    catalog_revision bigint NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX event_org ON event (org_id);

CREATE TABLE ticket_type (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    org_id uuid NOT NULL,
    name text NOT NULL,
    PRIMARY KEY (event_id, id)
);

CREATE TABLE checkin_list (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    org_id uuid NOT NULL,
    name text NOT NULL,
    ticket_types text[],
    PRIMARY KEY (event_id, id)
);

CREATE TABLE gate (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    org_id uuid NOT NULL,
    name text NOT NULL,
    default_list text NOT NULL,
    PRIMARY KEY (event_id, id)
);

-- The roster.  ``revision`` is the event's catalog revision at the row's last change:
-- a delta bundle is "WHERE revision > since".  Cancelling is an update, never a delete.
CREATE TABLE attendee (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    id text NOT NULL,
    org_id uuid NOT NULL,
    external_ref text,
    name text NOT NULL,
    company text NOT NULL DEFAULT '',
    email text NOT NULL DEFAULT '',
    order_ref text NOT NULL DEFAULT '',
    ticket_type_id text NOT NULL,
    nfc_uid text NOT NULL DEFAULT '',
    valid_from bigint NOT NULL DEFAULT 0,
    valid_until bigint NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'cancelled')),
    badge_code text NOT NULL DEFAULT '',
    badge_serial integer NOT NULL DEFAULT 0,
    source text NOT NULL DEFAULT 'import' CHECK (source IN ('import', 'console', 'walk_in')),
    revision bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, id)
);
CREATE UNIQUE INDEX attendee_external_ref ON attendee (event_id, external_ref);
CREATE INDEX attendee_revision ON attendee (event_id, revision);
CREATE INDEX attendee_search ON attendee
    USING gin (to_tsvector('simple', name || ' ' || company || ' ' || email));

-- Badge keys: private halves sealed (AES-GCM) with the hub's master key, never stored in clear.
CREATE TABLE event_key (
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    kid text NOT NULL,
    org_id uuid NOT NULL,
    public_key bytea NOT NULL,
    sealed_private_key bytea NOT NULL,
    not_before bigint NOT NULL DEFAULT 0,
    not_after bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    retired_at timestamptz,
    PRIMARY KEY (event_id, kid)
);

CREATE TABLE enrolment (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id uuid NOT NULL,
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    token_hash bytea NOT NULL UNIQUE,
    name text NOT NULL DEFAULT '',
    capabilities text[] NOT NULL,
    expires_at timestamptz NOT NULL,
    created_by uuid REFERENCES account ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    used_at timestamptz,
    device_id text
);

CREATE TABLE device (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    org_id uuid NOT NULL,
    event_id text NOT NULL REFERENCES event ON DELETE CASCADE,
    name text NOT NULL DEFAULT '',
    capabilities text[] NOT NULL,
    credential_hash bytea NOT NULL UNIQUE,
    badge_public_key text NOT NULL DEFAULT '',
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    rolled_at timestamptz,
    last_seen_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX device_event ON device (event_id);
"""

TENANT_TABLES = [
    "membership",
    "api_token",
    "event",
    "ticket_type",
    "checkin_list",
    "gate",
    "attendee",
    "event_key",
    "enrolment",
    "device",
]


def tenant_policy(table: str) -> str:
    """RLS on a table with ``org_id``: the tenant role sees and writes its organization's rows only.

    ``nullif`` makes a transaction that set no organization see nothing,
    rather than fail on casting an empty string.
    """
    return f"""
    ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
    CREATE POLICY {table}_tenant ON {table} TO {TENANT_ROLE}
        USING (org_id = nullif(current_setting('konferenco.org', true), '')::uuid)
        WITH CHECK (org_id = nullif(current_setting('konferenco.org', true), '')::uuid);
    GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {TENANT_ROLE};
    """


def ensure_tenant_role() -> str:
    """The role is cluster-wide (several databases share it): create it once, tolerate a race."""
    return f"""
    DO $$ BEGIN
        CREATE ROLE {TENANT_ROLE} NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$;
    DO $$ BEGIN
        EXECUTE format('GRANT {TENANT_ROLE} TO %I', current_user);
    EXCEPTION WHEN duplicate_object OR invalid_grant_operation THEN NULL;
    END $$;
    """


def upgrade() -> None:
    execute_script(ensure_tenant_role())
    execute_script(SCHEMA)
    execute_script(f"GRANT SELECT ON organization, account TO {TENANT_ROLE}")
    execute_script("".join(tenant_policy(table) for table in TENANT_TABLES))


def downgrade() -> None:
    for table in reversed(["organization", "account", *TENANT_TABLES]):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
