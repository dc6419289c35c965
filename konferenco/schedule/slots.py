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
#: Candidates kept before rooms with a worse capacity fit are skipped (at least 4 x the limit).
KEEP = 40


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

    eligible: list[tuple[float, str]] = []
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
        eligible.append((fit, room_id))
    eligible.sort()

    def gather(prune: bool) -> tuple[list[tuple[float, int, str]], bool]:
        """Candidates, best rooms first; with ``prune``, what cannot reach the best few is skipped.

        Every candidate of a room scores at least the room's fit, and the
        ranking is by (score, start).  So once :data:`KEEP` candidates rank
        better than ``(fit, t)``, a room with a worse fit (and every later
        one: they are sorted by fit) is left out, and a room with the same
        fit only needs its gaps that begin before ``t``.
        """
        keep = max(KEEP, query.limit * 4)
        worst: list[tuple[float, int]] = []  # a max-heap (negated) of the best ``keep`` (score, start)
        candidates: list[tuple[float, int, str]] = []
        pruned = False
        for fit, room_id in eligible:
            until = hi
            if prune and len(worst) >= keep:
                bound_score, bound_start = -worst[0][0], -worst[0][1]
                if fit > bound_score:
                    pruned = True
                    break
                if fit == bound_score:
                    until, pruned = bound_start, True
            found = _room_candidates(index, query, room_id, fit, lo, hi, step, shortest, host_busy, until)
            for candidate in found:
                candidates.append(candidate)
                if prune:
                    rank = (-candidate[0], -candidate[1])
                    if len(worst) < keep:
                        heapq.heappush(worst, rank)
                    elif rank > worst[0]:
                        heapq.heapreplace(worst, rank)
        return candidates, pruned

    candidates, pruned = gather(prune=True)
    picked = _check(index, query, candidates)
    if len(picked) < query.limit and pruned:  # the best few were refused by the rules: look everywhere
        picked = _check(index, query, gather(prune=False)[0])
    return picked


def _room_candidates(
    index: ScheduleIndex,
    query: SlotQuery,
    room_id: str,
    fit: float,
    lo: int,
    hi: int,
    step: int,
    shortest: int,
    host_busy: list[tuple[int, int]],
    gaps_before: int,
) -> list[tuple[float, int, str]]:
    """One room's candidate slots as ``(score, start, room_id)``: gap ends, a few hours inside, wishes.

    Gaps that begin at or after ``gaps_before`` are not looked at (see ``gather``).
    """
    duration = query.duration_ms
    hours = index.open_hours(room_id)
    spans = [(max(a, lo), min(b, hi)) for a, b in (hours if hours is not None else [(lo, hi)])]
    spans = [(a, b) for a, b in spans if b - a >= duration]
    if not spans:
        return []
    room = index.rooms[room_id]
    buffer = room.buffer_min * MINUTE
    taken = index.in_room(room_id, lo - buffer, hi + buffer)
    busy = [(s.starts_at - buffer, s.ends_at + buffer) for s in taken] + host_busy
    hour = 60 * MINUTE
    out: list[tuple[float, int, str]] = []
    for g_start, g_end in _free_gaps(spans, busy):
        if g_start >= gaps_before:
            break
        if g_end - g_start < duration:
            continue
        first = -(-g_start // step) * step
        last = (g_end - duration) // step * step
        starts = [first]
        if last > first:
            starts.append(last)
        # A few starts on the hour inside a long gap, so a small venue still gets choices.
        h_first, h_final = -(-g_start // hour) * hour, (g_end - duration) // hour * hour
        if h_final > h_first:
            spread = max(hour, -(-((h_final - h_first) // (INTERIOR + 1)) // hour) * hour)
            starts.extend(
                x for x in range(h_first + spread, h_final, spread)[:INTERIOR] if x not in (first, last)
            )
        for w_from, _w_to in query.wished:
            s0 = -(-max(w_from, g_start) // step) * step
            if s0 + duration <= g_end and s0 not in starts:
                starts.append(s0)
        for start in starts:
            end = start + duration
            if end > g_end:
                continue
            ahead, behind = start - g_start, g_end - end  # what the slot leaves of its gap
            score = fit
            if 0 < ahead < shortest:
                score += 0.25
            if 0 < behind < shortest:
                score += 0.25
            if ahead and behind:
                score += 0.1
            if query.wished:
                score += (
                    min(
                        0.0 if w_from <= start and end <= w_to else min(abs(start - w_from), abs(end - w_to))
                        for w_from, w_to in query.wished
                    )
                    / hour
                )
            out.append((score, start, room_id))
    return out


def _check(index: ScheduleIndex, query: SlotQuery, candidates: list[tuple[float, int, str]]) -> list[Slot]:
    """The best candidates that pass the rules, checked best first until ``limit`` pass."""
    duration = query.duration_ms
    picked: list[Slot] = []
    heapq.heapify(candidates)  # linear; each pop is a log: only the checked candidates are ordered
    while candidates and len(picked) < query.limit:
        score, start, room_id = heapq.heappop(candidates)
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
                score=round(score, 6),
                warnings=found,
            )
        )
    return picked
