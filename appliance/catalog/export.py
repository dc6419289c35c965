"""The appliance's badge list, in the one badge CSV format the hub writes too.

``konferenco appliance badges`` writes it for a print shop or a mail merge;
the columns are :mod:`konferenco.catalog.badge_csv`'s (``badge_code`` second).
By default the file goes into the data directory, next to the database it
came from, not into whatever directory the command was run in.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from appliance.config import DataDir
from konferenco.catalog.badge_csv import BadgeRow, write_badge_csv

#: Where ``appliance badges`` writes without ``--out``.
DEFAULT_NAME = "badges.csv"


class NoCatalog(RuntimeError):
    """The data directory has no catalog to export yet."""


@dataclass(frozen=True)
class BadgeExport:
    path: Path
    rows: int
    without_code: int  # attendees whose badge code the hub has not signed yet


def default_path(data: DataDir) -> Path:
    return data.path / DEFAULT_NAME


def badge_rows(conn: sqlite3.Connection, event_id: str) -> list[BadgeRow]:
    """Every attendee of EVENT, by name, with the ticket type's printed name."""
    try:
        rows = conn.execute(
            "SELECT a.id, coalesce(a.badge_code, ''), a.name, coalesce(a.company, ''), "
            "coalesce(t.name, a.ticket_type_id), coalesce(a.order_ref, ''), coalesce(a.nfc_uid, ''), "
            "a.status "
            "FROM attendee a LEFT JOIN catalog_ticket_type t "
            "ON t.event_id = a.event_id AND t.id = a.ticket_type_id "
            "WHERE a.event_id = ? ORDER BY a.name, a.id",
            (event_id,),
        ).fetchall()
    except sqlite3.OperationalError as exc:  # no tables: nothing was ever imported here
        raise NoCatalog(f"no catalog here yet ({exc})") from None
    return [BadgeRow(*row) for row in rows]


def export_badges(data: DataDir, event_id: str, out: Path | None = None) -> BadgeExport:
    """Write EVENT's badge CSV to OUT (default ``DATA/badges.csv``), whole or not at all."""
    conn = data.reader()
    try:
        rows = badge_rows(conn, event_id)
    finally:
        conn.close()
    path = out if out is not None else default_path(data)
    write_badge_csv(path, rows)
    return BadgeExport(path, len(rows), sum(1 for r in rows if not r.badge_code))
