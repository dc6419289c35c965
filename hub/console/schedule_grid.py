"""The schedule grid of one day: rooms as columns, time as rows, sessions spanning the rows they take.

Pure functions over the rule engine's structs, so the grid is tested without
a browser.  The page's Content-Security-Policy forbids inline styles, so a
session cannot be placed by a ``top``/``height`` of its own: the grid is an
HTML table, each session a cell spanning ``rows`` steps (``rowspan``),
which also gives screen readers a table with room and time headers.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from hub.console.render import local_time
from konferenco.schedule.model import MINUTE, Room, Session, at_local
from konferenco.schedule.rules import Finding

__all__ = [
    "Cell",
    "Column",
    "DayGrid",
    "Row",
    "day_grid",
    "findings_by_session",
    "on_day",
    "pick_day",
    "schedule_days",
    "severity_counts",
]


@dataclass(frozen=True, slots=True)
class Cell:
    """One ``<td>`` of the grid: a session (spanning rows) or a free step of one room's lane."""

    session: Session | None = None
    rows: int = 1
    room_id: str = ""
    before: bool = False  # started on an earlier day
    after: bool = False  # goes on past midnight


@dataclass(frozen=True, slots=True)
class Row:
    at: int
    label: str
    major: bool
    cells: list[Cell]


@dataclass(frozen=True, slots=True)
class Column:
    room: Room
    lanes: int
    sessions: list[Session]  # the room's sessions this day, by start (the narrow-screen list)


@dataclass(frozen=True, slots=True)
class DayGrid:
    day: str
    step_min: int
    columns: list[Column]
    rows: list[Row]
    sessions: list[Session]

    @property
    def lanes(self) -> int:
        return sum(c.lanes for c in self.columns)


def day_span(day: str, zone: ZoneInfo) -> tuple[int, int]:
    return at_local(day, "00:00", zone), at_local(day, "24:00", zone)


def on_day(sessions: Iterable[Session], day: str, zone: ZoneInfo) -> list[Session]:
    """The placed sessions that take place (at least partly) on ``day``, by start."""
    start, end = day_span(day, zone)
    found = [s for s in sessions if s.placed and s.starts_at < end and s.ends_at > start]
    return sorted(found, key=lambda s: (s.starts_at, s.ends_at, s.title))


def day_grid(rooms: Sequence[Room], sessions: Iterable[Session], day: str, zone: ZoneInfo) -> DayGrid:
    """Rooms by time for one day: rows of ``step_min`` minutes, sessions spanning the rows they take.

    Sessions overlapping in one room (an approved overlap, or a conflict from
    two offline approvals) get side-by-side lanes under the room's header, so
    nothing hides behind another.  The step is the coarsest (≤ 30 min) that
    every start and end falls on, at least 5 minutes (finer times are shown in
    the cell, placed at the step before them).
    """
    day_start, day_end = day_span(day, zone)
    todays = on_day(sessions, day, zone)
    known = {r.id for r in rooms}
    columns_rooms = list(rooms) + [
        Room(id=rid, name=f"{rid} (no such room)")
        for rid in dict.fromkeys(s.room_id for s in todays if s.room_id not in known)
    ]
    clip = [(s, max(s.starts_at, day_start), min(s.ends_at, day_end)) for s in todays]
    bounds = [t for _, a, b in clip for t in (a, b)]
    if not bounds:
        bounds = [at_local(day, "09:00", zone), at_local(day, "18:00", zone)]
    hour = 60 * MINUTE
    lo = day_start + (min(bounds) - day_start) // hour * hour
    hi = min(day_end, day_start + math.ceil((max(bounds) - day_start) / hour) * hour)
    step = 30
    for t in bounds:
        step = math.gcd(step, (t - lo) // MINUTE)
    step = max(step, 5)
    step_ms = step * MINUTE
    count = max(1, math.ceil((hi - lo) / step_ms))

    lanes: dict[str, list[list[tuple[int, int, Session, int, int]]]] = {r.id: [] for r in columns_rooms}
    for s, a, b in clip:
        first = (a - lo) // step_ms
        last = max(first + 1, math.ceil((b - lo) / step_ms))
        room_lanes = lanes[s.room_id]
        for lane in room_lanes:
            if lane[-1][1] <= first:
                lane.append((first, last, s, a, b))
                break
        else:
            room_lanes.append([(first, last, s, a, b)])

    columns = [
        Column(
            room=r,
            lanes=max(1, len(lanes[r.id])),
            sessions=[s for s, _, _ in clip if s.room_id == r.id],
        )
        for r in columns_rooms
    ]
    starts: dict[tuple[str, int, int], tuple[int, int, Session, int, int]] = {}
    for rid, room_lanes in lanes.items():
        for n, lane in enumerate(room_lanes):
            for item in lane:
                starts[(rid, n, item[0])] = item
    covered: dict[tuple[str, int], int] = {}
    rows: list[Row] = []
    for i in range(count):
        at = lo + i * step_ms
        cells: list[Cell] = []
        for column in columns:
            rid = column.room.id
            for n in range(column.lanes):
                placed = starts.get((rid, n, i))
                if placed is not None:
                    first, last, s, a, b = placed
                    span = min(last, count) - first
                    covered[(rid, n)] = i + span
                    cells.append(
                        Cell(
                            session=s,
                            rows=span,
                            room_id=rid,
                            before=s.starts_at < a,
                            after=s.ends_at > b,
                        )
                    )
                elif covered.get((rid, n), 0) <= i:
                    cells.append(Cell(room_id=rid))
        label = local_time(at, zone.key, "%H:%M")
        rows.append(Row(at=at, label=label, major=(at - lo) % (30 * MINUTE) == 0, cells=cells))
    return DayGrid(day=day, step_min=step, columns=columns, rows=rows, sessions=[s for s, _, _ in clip])


def schedule_days(frame_days: Sequence[str], sessions: Iterable[Session], zone: ZoneInfo) -> list[str]:
    """The event's days, and any day a placed session falls on outside them (so nothing is unreachable)."""
    days = set(frame_days)
    for s in sessions:
        if s.placed and s.ends_at > s.starts_at:
            first = dt.datetime.fromtimestamp(s.starts_at / 1000, zone).date()
            last = dt.datetime.fromtimestamp((s.ends_at - 1) / 1000, zone).date()
            days.update((first + dt.timedelta(days=n)).isoformat() for n in range((last - first).days + 1))
    return sorted(days)


def pick_day(days: Sequence[str], asked: str, now: int, zone: ZoneInfo) -> str:
    """The day asked for; else today if the event runs today; else its first day."""
    if asked in days:
        return asked
    today = dt.datetime.fromtimestamp(now / 1000, zone).date().isoformat()
    if today in days:
        return today
    return days[0] if days else today


def findings_by_session(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for f in findings:
        for sid in f.sessions:
            found.setdefault(sid, []).append(f)
    return found


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {"block": 0, "warn": 0}
    for f in findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts
