"""Attendee search for the console and the API: by name, company, e-mail, order code or reference.

Every attendee row carries ``search_text`` (migration 0004): the distinct
words of its name, company, e-mail, order code and external reference,
folded by :func:`konferenco.text.fold` — the appliance's rule — plus every
suffix of a Chinese, Japanese or Korean run (:func:`konferenco.text.search_text`, through
:func:`hub.catalog.prepare.attendee_search_text`, which import worker processes use too).
Every attendee write path stores it: the roster import
(:mod:`hub.catalog.roster`), walk-ins and on-site amendments
(:mod:`hub.peer.projection`, through :func:`refresh_search_text`).

A typed word matches the start of a word ("nunez" finds "Núñez", "grac"
finds "Grace", "7q2" finds "ORD-7Q2X"); in CJK it matches anywhere ("田"
and "太郎" find "田中太郎").  The words become a ``tsvector`` without a
parser (``array_to_tsvector``) and the query a ``tsquery`` of quoted
prefixes, so neither the server's locale nor its text-search parser can
split them differently; a GIN index on that expression (0004) serves it,
with no extension needed.  An exact id, external reference or order code
ranks first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.prepare import attendee_search_text
from konferenco.text import fold, words

__all__ = ["attendee_search_text", "prefix_query", "refresh_search_text", "search"]

_FIELDS = (
    "id, name, company, email, order_ref, ticket_type_id, status,"
    " coalesce(external_ref, '') AS external_ref, source"
)
#: The indexed expression (migration 0004 spells it the same way: the planner matches it by text).
SEARCH_VECTOR = "array_to_tsvector(string_to_array(search_text, ' '))"
#: Words of a query that count; more narrow nothing down.
MAX_WORDS = 8


def prefix_query(query: str) -> str:
    """The ``tsquery`` for what was typed: every word a prefix (words are letters and digits: no quoting)."""
    return " & ".join(f"'{word}':*" for word in words(fold(query))[:MAX_WORDS])


async def search(conn: AsyncConnection, event_id: str, query: str, limit: int = 50) -> list[dict[str, Any]]:
    """Attendees with a word starting with every word typed; exact references first."""
    tsquery = prefix_query(query)
    raw = query.strip()
    if not tsquery and not raw:
        rows = await conn.execute(
            text(f"SELECT {_FIELDS} FROM attendee WHERE event_id = :e ORDER BY name, id LIMIT :n"),
            {"e": event_id, "n": limit},
        )
        return [dict(r._mapping) for r in rows]
    exact = "(id = :raw OR external_ref = :raw OR (order_ref <> '' AND lower(order_ref) = lower(:raw)))"
    words_match = f"{SEARCH_VECTOR} @@ CAST(:q AS tsquery)" if tsquery else "false"
    rows = await conn.execute(
        text(
            f"SELECT {_FIELDS} FROM attendee WHERE event_id = :e AND ({words_match} OR {exact})"
            f" ORDER BY coalesce({exact}, false) DESC, name, id LIMIT :n"
        ),
        {"e": event_id, "n": limit, "raw": raw, "q": tsquery},
    )
    return [dict(r._mapping) for r in rows]


async def refresh_search_text(driver: Any, event_id: str, ids: Iterable[str]) -> None:
    """Recompute ``search_text`` of these attendees from their row (asyncpg connection, caller's transaction).

    For writes that change names in SQL (walk-ins, amendments), where the
    folded form cannot be computed in the statement itself.
    """
    rows = await driver.fetch(
        "SELECT id, name, company, email, order_ref, external_ref, search_text FROM attendee"
        " WHERE event_id = $1 AND id = ANY($2::text[])",
        event_id,
        sorted(set(ids)),
    )
    fresh = {
        r["id"]: attendee_search_text(r["name"], r["company"], r["email"], r["order_ref"], r["external_ref"])
        for r in rows
    }
    changed = [(r["id"], fresh[r["id"]]) for r in rows if fresh[r["id"]] != r["search_text"]]
    if changed:
        await driver.execute(
            "UPDATE attendee a SET search_text = t.s FROM unnest($2::text[], $3::text[]) AS t(id, s)"
            " WHERE a.event_id = $1 AND a.id = t.id",
            event_id,
            [c[0] for c in changed],
            [c[1] for c in changed],
        )
