"""Attendee search for the console and the API: by name, company, e-mail or reference."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

_FIELDS = (
    "id, name, company, email, ticket_type_id, status, coalesce(external_ref, '') AS external_ref, source"
)


async def search(conn: AsyncConnection, event_id: str, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Words match prefixes anywhere in name, company or e-mail (full-text); a reference matches exactly."""
    words = [w for w in "".join(c if c.isalnum() else " " for c in query).split() if w]
    if not words:
        rows = await conn.execute(
            text(f"SELECT {_FIELDS} FROM attendee WHERE event_id = :e ORDER BY name LIMIT :n"),
            {"e": event_id, "n": limit},
        )
    else:
        tsquery = " & ".join(f"{w}:*" for w in words)
        rows = await conn.execute(
            text(
                f"SELECT {_FIELDS} FROM attendee WHERE event_id = :e AND ("
                " to_tsvector('simple', name || ' ' || company || ' ' || email)"
                " @@ to_tsquery('simple', :q) OR external_ref = :raw OR id = :raw)"
                " ORDER BY name LIMIT :n"
            ),
            {"e": event_id, "q": tsquery, "raw": query.strip(), "n": limit},
        )
    return [dict(r._mapping) for r in rows]
