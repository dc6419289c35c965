"""Attendee search in any script, accents ignored, by order code: ``attendee.search_text``.

The column holds the distinct folded words of name, company, e-mail, order
code and external reference, one space between them, plus every suffix of
a Chinese, Japanese or Korean run (:func:`konferenco.text.search_text`).
It is computed in Python, not SQL: the folding rule (ł → l, ø → o, ß → ss,
marks removed, CJK kept) is the shared function's, the appliance's too,
which ``unaccent`` does not reproduce.  Existing rows are filled here, in
batches.

The index is GIN over ``array_to_tsvector(string_to_array(search_text, ' '))``
(the expression :mod:`hub.catalog.search` queries with prefix ``tsquery``
terms): built-in, so no extension to be missing, no text-search parser or
locale between the stored words and the typed ones, and about the write
cost of the full-text index it replaces (``to_tsvector('simple', …)``,
which has no reader left).  pg_trgm was measured and not chosen: its GIN
index made the SQL of a 180,000-row import about three times slower, for
substring matching that the suffixes already give where it matters (CJK).

The column belongs to ``attendee``, so its row-level security policy
(0001) covers it; there is no new table.

Revision ID: 0004
"""

from __future__ import annotations

from typing import Any

from alembic import op
from sqlalchemy.util import await_

from hub.migrations.script import execute_script
from konferenco.text import search_text

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_BATCH = 10_000


def _fill(driver: Any) -> None:
    after = ("", "")
    while True:
        rows = await_(
            driver.fetch(
                "SELECT event_id, id, name, company, email, order_ref, coalesce(external_ref, '') AS ref"
                " FROM attendee WHERE (event_id, id) > ($1, $2) ORDER BY event_id, id LIMIT $3",
                *after,
                _BATCH,
            )
        )
        if not rows:
            return
        await_(
            driver.execute(
                "UPDATE attendee a SET search_text = t.s"
                " FROM unnest($1::text[], $2::text[], $3::text[]) AS t(event_id, id, s)"
                " WHERE a.event_id = t.event_id AND a.id = t.id",
                [r["event_id"] for r in rows],
                [r["id"] for r in rows],
                [search_text(r["name"], r["company"], r["email"], r["order_ref"], r["ref"]) for r in rows],
            )
        )
        after = (rows[-1]["event_id"], rows[-1]["id"])


def upgrade() -> None:
    execute_script("ALTER TABLE attendee ADD COLUMN search_text text NOT NULL DEFAULT ''")
    _fill(op.get_bind().connection.driver_connection)
    execute_script(
        """
        DROP INDEX IF EXISTS attendee_search;
        CREATE INDEX attendee_search_words ON attendee
            USING gin (array_to_tsvector(string_to_array(search_text, ' ')));
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP INDEX IF EXISTS attendee_search_words;
        ALTER TABLE attendee DROP COLUMN IF EXISTS search_text;
        CREATE INDEX IF NOT EXISTS attendee_search ON attendee
            USING gin (to_tsvector('simple', name || ' ' || company || ' ' || email));
        """
    )
