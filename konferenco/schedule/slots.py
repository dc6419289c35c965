"""The slot finder: free room-and-time slots for a session, ranked, that no ``block`` rule refuses.

Per room: its opening hours (or the whole event), clipped to the asked
window, minus every placed session widened by the room's changeover buffer,
leaves free gaps.  A gap long enough gives candidates at its start and at
its end (either leaves one piece of the gap whole: the least fragmentation)
and, when the attendee wished for times, at the wished start.  Candidates
are ranked by

1. how well the room's size fits the expected attendance,
2. distance from the wished times,
3. fragmentation (a left-over piece shorter than the shortest session),
4. the earliest start,

and only then checked with the rule engine, best first, until ``limit``
pass: the finder cannot return a slot that :meth:`ScheduleIndex.check`
refuses, by construction, and it only pays for the checks it returns.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

import msgspec

from konferenco.schedule.model import MINUTE, Session
from konferenco.schedule.rules import Finding, ScheduleIndex, blocking, severity_of

#: At most this many extra starts inside one free gap (its two ends are always candidates).
INTERIOR = 3


class Slot(msgspec.Struct, frozen=True, kw_only=True):
    room_id: str
    room: str
    starts_at: int
    ends_at: int
    score: float
    warnings: list[Finding] = []


class SlotQuery(msgspec.Struct, frozen=True, kw_only=True):
    duration_ms: int
    attendance: int | None = None
    window_from: int | None = None
    window_to: int | None = None
    features: Sequence[str] = ()
    rooms: Sequence[str] = ()  # limit to these rooms (empty: any)
    grassroots: bool = False  # only rooms open to grassroots sessions
    wished: Sequence[tuple[int, int]] = ()  # preferred [from, to) windows
    host: str | None = None  # attendee id that must be free
    limit: int = 10


def _free_gaps(spans: list[tuple[int, int]], busy: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` minus ``busy`` (both sorted lists of [start, end))."""
    gaps: list[tuple[int, int]] = []
    busy = sorted(busy)
    i = 0
    for start, end in spans:
        cursor = start
        while i < len(busy) and busy[i][1] <= cursor:
            i += 1
        j = i
        while j < len(busy) and busy[j][0] < end:
            b_start, b_end = busy[j]
            if b_start > cursor:
                gaps.append((cursor, min(b_start, end)))
            cursor = max(cursor, b_end)
            j += 1
        if cursor < end:
            gaps.append((cursor, end))
    return gaps


def _align_up(t: int, step: int) -> int:
    return -(-t // step) * step


def _align_down(t: int, step: int) -> int:
    return t // step * step


def find_slots(index: ScheduleIndex, query: SlotQuery) -> list[Slot]:
    """The best free slots for ``query``, each passing every ``block`` rule, with its ``warn`` findings."""
    duration = query.duration_ms
    if duration <= 0:
        return []
    frame = index.frame
    lo = max(x for x in (query.window_from, frame.starts_at, 0) if x is not None)
    hi_candidates = [x for x in (query.window_to, frame.ends_at) if x is not None]
    hi = min(hi_candidates) if hi_candidates else lo + 7 * 24 * 60 * MINUTE
    if hi - lo < duration:
        return []
    step = index.settings.slot_step_min * MINUTE
    over_capacity_blocks = severity_of(index.settings, "over_capacity") == "block"
    wanted_rooms = set(query.rooms)
    wanted_features = {f.casefold() for f in query.features}
    shortest = index.settings.grassroots.min_minutes * MINUTE
    # The host's other sessions are busy time in every room when that clash blocks, so a
    # gap is not offered only to be refused slot by slot.
    host_busy = (
        index.busy_for(query.host)
        if query.host and severity_of(index.settings, "person_overlap") == "block"
        else []
    )

    candidates: list[tuple[tuple[float, int], str, int]] = []
    for room_id, room in index.rooms.items():
        if wanted_rooms and room_id not in wanted_rooms:
            continue
        if query.grassroots and not index.grassroots_room(room):
            continue
        if wanted_features and not wanted_features <= {f.casefold() for f in room.features}:
            continue
        fit = 0.0
        if query.attendance is not None and room.capacity is not None:
            if room.capacity < query.attendance:
                if over_capacity_blocks:
                    continue
                fit = 2.0
            elif room.capacity:
                fit = (room.capacity - query.attendance) / room.capacity
        hours = index.open_hours(room_id)
        spans = [(max(a, lo), min(b, hi)) for a, b in (hours if hours is not None else [(lo, hi)])]
        spans = [(a, b) for a, b in spans if b - a >= duration]
        if not spans:
            continue
        buffer = room.buffer_min * MINUTE
        taken = index.in_room(room_id, lo - buffer, hi + buffer)
        busy = [(s.starts_at - buffer, s.ends_at + buffer) for s in taken] + host_busy
        for g_start, g_end in _free_gaps(spans, busy):
            if g_end - g_start < duration:
                continue
            starts = {_align_up(g_start, step)}
            last = _align_down(g_end - duration, step)
            if last >= g_start:
                starts.add(last)
            # A few starts on the hour inside a long gap, so a small venue still gets choices.
            hour = 60 * MINUTE
            first, final = _align_up(g_start, hour), _align_down(g_end - duration, hour)
            if final > first:
                spread = max(hour, _align_up((final - first) // (INTERIOR + 1), hour))
                starts.update(range(first + spread, final, spread)[:INTERIOR])
            for w_from, _w_to in query.wished:
                s0 = _align_up(max(w_from, g_start), step)
                if s0 + duration <= g_end:
                    starts.add(s0)
            for start in starts:
                end = start + duration
                if start < g_start or end > g_end:
                    continue
                before, after = start - g_start, g_end - end
                fragments = sum(1 for piece in (before, after) if 0 < piece < shortest)
                wish = 0.0
                if query.wished:
                    wish = min(
                        0.0 if w_from <= start and end <= w_to else min(abs(start - w_from), abs(end - w_to))
                        for w_from, w_to in query.wished
                    ) / (60 * MINUTE)
                score = round(fit + wish + 0.25 * fragments + (0.1 if before and after else 0.0), 6)
                candidates.append(((score, start), room_id, start))

    picked: list[Slot] = []
    heapq.heapify(candidates)  # linear; each pop is a log: only the checked candidates are ordered
    while candidates and len(picked) < query.limit:
        (score, _), room_id, start = heapq.heappop(candidates)
        probe = Session(
            id="slot-probe",
            title="this session",
            room_id=room_id,
            starts_at=start,
            ends_at=start + duration,
            attendance=query.attendance,
            grassroots=query.grassroots,
            host=query.host,
        )
        found = index.check(probe)
        if blocking(found):
            continue
        picked.append(
            Slot(
                room_id=room_id,
                room=index.room_name(room_id),
                starts_at=start,
                ends_at=start + duration,
                score=score,
                warnings=found,
            )
        )
    return picked
