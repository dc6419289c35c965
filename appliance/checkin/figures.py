"""Live figures and the duplicates list, as SQL over the check-in projection.

Both are derived from the union of every device log the appliance holds,
so they agree on every replica once the logs have synced.
"""

from __future__ import annotations

from typing import Any

import aiosqlite

from sync.records import now_ms

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


def find_duplicates(rows: list[Any], reentry: dict[str, str]) -> list[dict[str, Any]]:
    """The rule, shared by the appliance and the hub (DESIGN.md §2).

    ``rows`` are admitted scans ``(attendee, list, doc, scan id, at, gate,
    device, direction)`` ordered by attendee, list, time, document and id.
    Per attendee and list, scans are replayed in time order (ties broken by
    document and record id, as every replica does): the earliest admission
    wins; an entry admitted by *another* device while the attendee was
    already inside (or, on a once-only list, had already entered) is a
    duplicate.  Nothing is dropped: both scans stay, the later is flagged.
    """
    out: list[dict[str, Any]] = []
    current: tuple[str, str] | None = None
    first: Any = None
    inside_by: Any = None
    for attendee, list_id, doc, scan_id, at, gate, device, direction in rows:
        if (attendee, list_id) != current:
            current, first, inside_by = (attendee, list_id), None, None
        if direction == "exit":
            inside_by = None
            continue
        policy = reentry.get(list_id, "after_exit")
        duplicate = first is not None and (
            (policy == "once") or (policy == "after_exit" and inside_by is not None)
        )
        if duplicate and device != (inside_by or first)[2]:
            winner = inside_by or first
            out.append(
                {
                    "attendee_id": attendee,
                    "name": "",
                    "list": list_id,
                    "first": {
                        "scan_id": winner[0],
                        "at": winner[1],
                        "gate": winner[3],
                        "device_id": winner[2],
                    },
                    "duplicate": {
                        "scan_id": scan_id,
                        "at": at,
                        "gate": gate,
                        "device_id": device,
                        "doc": doc,
                    },
                }
            )
        else:
            if first is None:
                first = (scan_id, at, device, gate)
            inside_by = (scan_id, at, device, gate)
    return out


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
    per_list = {
        row[0]: {"admitted": row[1], "inside": 0}
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
        per_list.setdefault(list_id, {"admitted": 0, "inside": 0})["inside"] = inside
    per_gate = {
        gate: {"admitted": admitted, "refused": refused}
        for gate, admitted, refused in await conn.execute_fetchall(
            "SELECT gate, sum(result = 'admitted' AND direction = 'entry'), sum(result != 'admitted') "
            "FROM checkin WHERE event_id = ? GROUP BY gate",
            (event_id,),
        )
    }
    per_ticket_type = {
        name or tid: count
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
