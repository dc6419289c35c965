"""Live figures and the duplicates list, as SQL over the check-in projection.

Both are derived from the union of every device log the appliance holds,
so they agree on every replica once the logs have synced.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from konferenco.duplicates import find_duplicates
from konferenco.types import now_ms

_ADMITTED_ENTRIES = """
SELECT c.attendee_id, c.list_id, c.doc, c.id, c.at, c.gate, c.device_id, c.direction
FROM checkin c
WHERE c.event_id = ? AND c.result = 'admitted'
  AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.scan_id = c.id)
  AND (c.attendee_id, c.list_id) IN (
      SELECT attendee_id, list_id FROM checkin
      WHERE event_id = ? AND result = 'admitted' AND direction = 'entry'
      GROUP BY attendee_id, list_id HAVING count(DISTINCT device_id) > 1)
ORDER BY c.attendee_id, c.list_id, c.at, c.doc, c.id
"""


async def duplicates(conn: aiosqlite.Connection, event_id: str) -> list[dict[str, Any]]:
    """Admissions that the merged logs show were not allowed (see :func:`find_duplicates`)."""
    reentry = {
        row[0]: row[1]
        for row in await conn.execute_fetchall(
            "SELECT id, reentry FROM catalog_list WHERE event_id = ?", (event_id,)
        )
    }
    rows = await conn.execute_fetchall(_ADMITTED_ENTRIES, (event_id, event_id))
    found = find_duplicates(list(rows), reentry)
    names: dict[str, str] = {}
    for item in found:
        attendee = item["attendee_id"]
        if attendee not in names:
            row = await conn.execute_fetchall(
                "SELECT name FROM attendee WHERE event_id = ? AND id = ?", (event_id, attendee)
            )
            names[attendee] = next(iter(row))[0] if row else ""
        item["name"] = names[attendee]
    return found


#: Keys of the per-list, per-gate and per-ticket-type figures for records that name none.
NO_LIST = "(no list)"
NO_GATE = "(no gate)"
NO_TICKET_TYPE = "(no ticket type)"


async def stats(conn: aiosqlite.Connection, event_id: str) -> dict[str, Any]:
    """Admitted, inside now, per gate, per ticket type, per list, scans per minute (last hour)."""
    now = now_ms()
    hour_ago = now - 3600_000

    async def one(sql: str, *args: Any) -> Any:
        rows = await conn.execute_fetchall(sql, args)
        return next(iter(rows))[0]

    admitted_filter = (
        "c.event_id = ? AND c.result = 'admitted' AND c.direction = 'entry' "
        "AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.scan_id = c.id)"
    )
    # A record written by another client may carry no list (the record schema allows it): it is
    # still an admission and is counted, under NO_LIST, never as a null key that breaks the JSON.
    per_list = {
        row[0] or NO_LIST: {"admitted": row[1], "inside": 0}
        for row in await conn.execute_fetchall(
            "SELECT c.list_id, count(DISTINCT c.attendee_id) FROM checkin c "
            f"WHERE {admitted_filter} GROUP BY 1",
            (event_id,),
        )
    }
    for list_id, inside in await conn.execute_fetchall(
        "SELECT list_id, count(*) FROM checkin_presence WHERE event_id = ? AND inside = 1 GROUP BY 1",
        (event_id,),
    ):
        per_list.setdefault(list_id or NO_LIST, {"admitted": 0, "inside": 0})["inside"] = inside
    per_gate = {
        gate or NO_GATE: {"admitted": admitted, "refused": refused}
        for gate, admitted, refused in await conn.execute_fetchall(
            "SELECT gate, sum(result = 'admitted' AND direction = 'entry'), sum(result != 'admitted') "
            "FROM checkin WHERE event_id = ? GROUP BY gate",
            (event_id,),
        )
    }
    per_ticket_type = {
        name or tid or NO_TICKET_TYPE: count
        for tid, name, count in await conn.execute_fetchall(
            f"SELECT a.ticket_type_id, t.name, count(DISTINCT c.attendee_id) FROM checkin c "
            f"JOIN attendee a ON a.event_id = c.event_id AND a.id = c.attendee_id "
            f"LEFT JOIN catalog_ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id "
            f"WHERE {admitted_filter} GROUP BY 1, 2",
            (event_id,),
        )
    }
    minutes = {
        minute: count
        for minute, count in await conn.execute_fetchall(
            "SELECT (at - ?) / 60000, count(*) FROM checkin WHERE event_id = ? AND at >= ? GROUP BY 1",
            (hour_ago, event_id, hour_ago),
        )
    }
    return {
        "event": event_id,
        "at": now,
        "attendees": await one("SELECT count(*) FROM attendee WHERE event_id = ?", event_id),
        "admitted": await one(
            f"SELECT count(DISTINCT c.attendee_id) FROM checkin c WHERE {admitted_filter}", event_id
        ),
        "inside": await one(
            "SELECT count(DISTINCT attendee_id) FROM checkin_presence WHERE event_id = ? AND inside = 1",
            event_id,
        ),
        "scans": await one("SELECT count(*) FROM checkin WHERE event_id = ?", event_id),
        "refused": await one(
            "SELECT count(*) FROM checkin WHERE event_id = ? AND result != 'admitted'", event_id
        ),
        "per_gate": per_gate,
        "per_ticket_type": per_ticket_type,
        "per_list": per_list,
        # oldest minute first; the last entry is the current (partial) minute
        "scans_per_minute": [minutes.get(m, 0) for m in range(60)],
    }
