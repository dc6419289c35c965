"""One day of the schedule as a grid (rooms across, half hours down) and the rules it breaks, in words.

An organizer deciding a proposal wants to see the day around the slot: which
rooms are busy when, where grassroots sessions already went, and what the rules
already complain about.  Days are named by their place in the event ("Day 2,
tomorrow") rather than by date, which is what people at an event say and keeps
the picture the same on every run of the tests.  Grassroots sessions carry a
star and a double-booked cell a cross, not only a colour.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

#: Minutes per grid row.
STEP_MIN = 30
#: Hours always shown, even on a quiet day (a working day at a venue).
FIRST_HOUR, LAST_HOUR = 9, 18
#: Characters of a title in a cell; the rest is cut with an ellipsis.
TITLE_CHARS = 22
#: A finding's severity as a symbol and a word; the colour only repeats it.
SEVERITY = {
    "block": ("✖ blocks", "bold red"),
    "warn": ("! warning", "bold yellow"),
}


def local(at_ms: int | float, zone: dt.tzinfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(at_ms) / 1000, tz=dt.UTC).astimezone(zone)


def day_label(day: dt.date, first: dt.date, today: dt.date) -> str:
    """``Day 2 (tomorrow)``: the day's place in the event, and how it stands to today."""
    label = f"Day {(day - first).days + 1}"
    offset = (day - today).days
    near = {0: "today", 1: "tomorrow", -1: "yesterday"}.get(offset)
    return f"{label} ({near})" if near else label


def slot_label(starts_at: int, ends_at: int, zone: dt.tzinfo, first: dt.date, today: dt.date) -> str:
    """A slot as ``Day 2 (tomorrow) 12:00-12:30`` in the event's time zone."""
    start, end = local(starts_at, zone), local(ends_at, zone)
    return f"{day_label(start.date(), first, today)} {start:%H:%M}-{end:%H:%M}"


def _short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"


def _rows(day: dt.date, sessions: list[dict[str, Any]], zone: dt.tzinfo) -> list[dt.datetime]:
    """The half hours the grid shows: the working day, widened to every session of the day."""
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    first, last = FIRST_HOUR * 60, LAST_HOUR * 60
    for s in sessions:
        start = (local(s["starts_at"], zone) - midnight).total_seconds() // 60
        end = (local(s["ends_at"], zone) - midnight).total_seconds() // 60
        first, last = min(first, int(start) // 60 * 60), max(last, min(24 * 60, -(-int(end) // 60) * 60))
    first = max(0, first)
    return [midnight + dt.timedelta(minutes=m) for m in range(first, last, STEP_MIN)]


def fill_grid(
    table: DataTable[Any],
    day: dt.date,
    rooms: list[dict[str, Any]],
    sessions: Iterable[dict[str, Any]],
    zone: dt.tzinfo,
) -> int:
    """Lay the day's placed sessions into TABLE (cleared); the number of sessions shown."""
    placed = [s for s in sessions if s.get("status", "scheduled") == "scheduled" and s.get("room_id")]
    placed = [
        s for s in placed if local(s["starts_at"], zone).date() <= day <= local(s["ends_at"] - 1, zone).date()
    ]
    table.clear(columns=True)
    table.add_column("Time", key="time")
    for room in rooms:
        mark = " ★" if room.get("grassroots") else ""
        table.add_column(f"{room.get('name') or room['id']}{mark}", key=str(room["id"]))
    for start in _rows(day, placed, zone):
        end = start + dt.timedelta(minutes=STEP_MIN)
        start_ms, end_ms = start.timestamp() * 1000, end.timestamp() * 1000
        cells: list[Text | str] = [f"{start:%H:%M}"]
        for room in rooms:
            here = [
                s
                for s in placed
                if s["room_id"] == room["id"] and s["starts_at"] < end_ms and s["ends_at"] > start_ms
            ]
            cells.append(_cell(here, start_ms))
        table.add_row(*cells)
    return len(placed)


def _cell(here: list[dict[str, Any]], start_ms: float) -> Text:
    """What one room holds in one half hour: a title where a session starts, a dotted line while it runs."""
    if not here:
        return Text("")
    if len(here) > 1:
        return Text("✖ " + " / ".join(_short(s["title"]) for s in here), style="bold red")
    session = here[0]
    grassroots = bool(session.get("grassroots"))
    style = "bold green" if grassroots else ""
    if session["starts_at"] >= start_ms:
        return Text(("★ " if grassroots else "") + _short(str(session["title"])), style=style)
    return Text("┆", style=style or "dim")


def findings_text(findings: list[dict[str, Any]], conflicts: list[dict[str, Any]]) -> Text:
    """The rules the schedule breaks, each with its severity in a word, then conflicting decisions."""
    if not findings and not conflicts:
        return Text("✔ The schedule breaks no rule.", style="bold green")
    text = Text()
    for finding in findings:
        word, style = SEVERITY.get(str(finding.get("severity")), (f"i {finding.get('severity')}", "bold"))
        text.append(f"{word}: ", style=style)
        text.append(f"{finding.get('message')}\n")
    for conflict in conflicts:
        text.append("✖ conflicting decision: ", style="bold red")
        text.append(f"{conflict.get('message')}\n")
    text.rstrip()
    return text
