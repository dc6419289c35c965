"""Compress stored sync updates with lz4 instead of pglz.

A device log's Step 2 is ~0.8 MB per 4,000 scans; PostgreSQL compresses
such values with pglz by default, which the ingest benchmark measured at
most of the cost of appending (50 appends: 0.57 s with pglz, 0.20 s with
lz4, for ~15% more bytes).  Only new values are affected.

Revision ID: 0003
"""

from __future__ import annotations

from hub.migrations.script import execute_script

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A server built without lz4 keeps pglz: slower appends, same data.
    execute_script(
        """
        DO $$ BEGIN
            ALTER TABLE sync_update ALTER COLUMN update_bytes SET COMPRESSION lz4;
        EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
            RAISE NOTICE 'lz4 is not available; stored updates stay pglz-compressed';
        END $$;
        """
    )


def downgrade() -> None:
    execute_script("ALTER TABLE sync_update ALTER COLUMN update_bytes SET COMPRESSION pglz")
