"""The badge CSV: one format for print shops, mail merges and our own scripts.

The appliance (``konferenco appliance badges``) and the hub (the console's
and the API's ``badges.csv``) both write it, so a print shop gets the same
columns wherever the file came from.  ``badge_code`` stays the second
column: the printed quick start (``make run``) reads it with ``cut -f2``.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple


class BadgeRow(NamedTuple):
    attendee_id: str
    badge_code: str
    name: str
    company: str
    ticket_type: str  # the ticket type's name, as printed on the badge
    order_ref: str  # what organizers and attendees know the booking by
    nfc_uid: str
    status: str  # "valid" or "cancelled": a print shop must not print cancelled badges


COLUMNS: tuple[str, ...] = BadgeRow._fields


def badge_csv(rows: Iterable[BadgeRow]) -> str:
    """The whole file as text (UTF-8 when written; Excel opens it through its import dialog)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


def write_badge_csv(path: Path, rows: Iterable[BadgeRow]) -> int:
    """Write the file whole or not at all (a half-written list would print half the badges)."""
    materialised = list(rows)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        f.write(badge_csv(materialised))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    return len(materialised)
