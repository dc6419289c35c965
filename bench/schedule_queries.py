"""Slot finder and rule check on a trade-show schedule: 200 rooms x 5 days x 5,000 sessions.

Target (issue #12): a slot query and a rule check each ≤ 20 ms (median and
p99 reported).  Every query runs on one :class:`ScheduleIndex`, built once
per schedule version as the appliance and hub do; building it is timed too.

Baselines in the same run, on the same schedule and the same queries:

* **naive rule check**: compare the session with every one of the 5,000
  (what a first version without an index would do);
* **naive slot scan**: every room, every 15-minute start of the window,
  checked against every session of that room by a linear scan, the free
  ones ranked by capacity fit and start.  Both answer the same question
  (the best free slots that pass the block rules), so the ratio is what the
  index, the free gaps and the pruning buy.

``python -m bench.schedule_queries [--repetitions N]`` runs it alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from bench.common import BenchResult, Row, Series, Table, Verdict, percentile, progress
from konferenco.schedule.model import (
    MINUTE,
    EventFrame,
    Room,
    ScheduleSettings,
    Session,
    at_local,
)
from konferenco.schedule.rules import ScheduleIndex, blocking
from konferenco.schedule.slots import SlotQuery, find_slots

ROOMS = 200
DAYS = 5
SESSIONS = 5_000
QUERIES = 200
NAIVE_QUERIES = 20
TARGET_MS = 20.0
SEED = 12
TZ = "Europe/Berlin"
FIRST_DAY = "2027-03-01"
FEATURES = ("projector", "stream", "hybrid", "recording")


def build(rng: random.Random) -> tuple[dict[str, Room], dict[str, Session], EventFrame]:
    zone = ZoneInfo(TZ)
    days = [f"2027-03-0{d + 1}" for d in range(DAYS)]
    rooms = {
        f"r{i:03d}": Room(
            id=f"r{i:03d}",
            name=f"Room {i}",
            capacity=rng.choice([20, 40, 80, 150, 300, 800]),
            features=rng.sample(FEATURES, rng.randint(0, 3)),
            grassroots=i % 4 == 0,
            buffer_min=rng.choice([0, 5, 10, 15]),
        )
        for i in range(ROOMS)
    }
    speakers = [f"Speaker {n}" for n in range(3_000)]
    sessions: dict[str, Session] = {}
    per_room_day = SESSIONS // (ROOMS * DAYS)  # 5
    n = 0
    for room_id, room in rooms.items():
        for day in days:
            cursor = at_local(day, "09:00", zone)
            for _ in range(per_room_day):
                cursor += rng.choice([0, 15, 30, 45]) * MINUTE + room.buffer_min * MINUTE
                length = rng.choice([30, 45, 60, 90]) * MINUTE
                who = rng.sample(speakers, rng.randint(1, 3))
                sessions[f"s{n}"] = Session(
                    id=f"s{n}",
                    title=f"Session {n}",
                    room_id=room_id,
                    starts_at=cursor,
                    ends_at=cursor + length,
                    speakers=who,
                    speaker_ids=[w.replace(" ", "-").lower() for w in who],
                    attendance=rng.randint(10, 400),
                )
                cursor += length
                n += 1
    frame = EventFrame(
        event_id="bench",
        timezone=TZ,
        starts_at=at_local(days[0], "08:00", zone),
        ends_at=at_local(days[-1], "20:00", zone),
    )
    return rooms, sessions, frame


def queries(rng: random.Random, frame: EventFrame) -> list[SlotQuery]:
    out = []
    day_ms = 24 * 60 * MINUTE
    for _ in range(QUERIES):
        day = rng.randrange(DAYS)
        whole_event = rng.random() < 0.3
        start = frame.starts_at or 0
        out.append(
            SlotQuery(
                duration_ms=rng.choice([30, 60, 90, 120]) * MINUTE,
                attendance=rng.choice([None, rng.randint(10, 500)]),
                window_from=None if whole_event else start + day * day_ms,
                window_to=None if whole_event else start + day * day_ms + 12 * 60 * MINUTE,
                features=rng.sample(FEATURES, rng.choice([0, 0, 1])),
                grassroots=rng.random() < 0.3,
                host=rng.choice([None, f"speaker-{rng.randrange(3000)}"]),
                limit=10,
            )
        )
    return out


def naive_check(session: Session, sessions: list[Session], rooms: dict[str, Room]) -> bool:
    """Does anything block ``session``: a linear pass over every session (overlap, buffer, people)."""
    room = rooms[session.room_id]
    buffer = room.buffer_min * MINUTE
    people = set(session.speaker_ids)
    for other in sessions:
        if other.id == session.id:
            continue
        if other.room_id == session.room_id and (
            other.starts_at < session.ends_at + buffer and other.ends_at + buffer > session.starts_at
        ):
            return True
        if (
            people & set(other.speaker_ids)
            and other.starts_at < session.ends_at
            and other.ends_at > session.starts_at
        ):
            return True
    return False


def naive_slots(query: SlotQuery, sessions: list[Session], rooms: dict[str, Room], frame: EventFrame) -> int:
    """Every room, every 15-minute start, a linear check; the free ones ranked by capacity fit, then start."""
    lo = query.window_from if query.window_from is not None else frame.starts_at or 0
    hi = query.window_to if query.window_to is not None else frame.ends_at or lo
    free: list[tuple[float, int, str]] = []
    for room_id, room in rooms.items():
        if query.grassroots and not room.grassroots:
            continue
        if query.features and not set(query.features) <= set(room.features):
            continue
        fit = 0.0
        if query.attendance is not None and room.capacity:
            fit = abs(room.capacity - query.attendance) / room.capacity
        in_room = [s for s in sessions if s.room_id == room_id]
        start = lo
        while start + query.duration_ms <= hi:
            probe = Session(
                id="probe", title="p", room_id=room_id, starts_at=start, ends_at=start + query.duration_ms
            )
            if not naive_check(probe, in_room, rooms):
                free.append((fit, start, room_id))
            start += 15 * MINUTE
    return len(sorted(free)[: query.limit])


def _timed(work: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    work()
    return (time.perf_counter() - t0) * 1000


def run(repetitions: int = 5) -> BenchResult:
    rng = random.Random(SEED)
    rooms, sessions, frame = build(rng)
    all_sessions = list(sessions.values())
    qs = queries(random.Random(SEED + 1), frame)
    probes = [
        Session(
            id=f"probe{i}",
            title="probe",
            room_id=rng.choice(list(rooms)),
            starts_at=(frame.starts_at or 0) + rng.randrange(0, DAYS * 24 * 60, 15) * MINUTE,
            ends_at=0,
            speaker_ids=[f"speaker-{rng.randrange(3000)}"],
        )
        for i in range(QUERIES)
    ]
    probes = [Session(**{**_fields(p), "ends_at": p.starts_at + 60 * MINUTE}) for p in probes]
    build_ms: list[float] = []
    slot_medians, slot_p99s, check_medians, check_p99s = [], [], [], []
    naive_slot_medians, naive_check_medians = [], []
    returned: list[int] = []
    for rep in range(repetitions):
        progress(
            f"schedule queries, repetition {rep + 1}/{repetitions}: index, {QUERIES} slot queries and checks"
        )
        t0 = time.perf_counter()
        index = ScheduleIndex(rooms, sessions, frame, ScheduleSettings())
        build_ms.append((time.perf_counter() - t0) * 1000)
        slot_times = []
        for q in qs:
            out: list[int] = []
            slot_times.append(_timed(lambda q=q, out=out, ix=index: out.append(len(find_slots(ix, q)))))
            returned.append(out[0])
        check_times = [_timed(lambda p=p, ix=index: blocking(ix.check(p))) for p in probes]
        slot_medians.append(statistics.median(slot_times))
        slot_p99s.append(percentile(slot_times, 99))
        check_medians.append(statistics.median(check_times))
        check_p99s.append(percentile(check_times, 99))
        progress(f"schedule queries, repetition {rep + 1}/{repetitions}: the naive baselines")
        naive_slot_medians.append(
            statistics.median(
                _timed(lambda q=q: naive_slots(q, all_sessions, rooms, frame)) for q in qs[:NAIVE_QUERIES]
            )
        )
        naive_check_medians.append(
            statistics.median(_timed(lambda p=p: naive_check(p, all_sessions, rooms)) for p in probes)
        )
    slot_med = Series.of(slot_medians, "ms")
    slot_p99 = Series.of(slot_p99s, "ms")
    check_med = Series.of(check_medians, "ms")
    check_p99 = Series.of(check_p99s, "ms")
    naive_slot = Series.of(naive_slot_medians, "ms")
    naive_check_s = Series.of(naive_check_medians, "ms")
    rows = [
        Row("slot query: median", slot_med, naive_slot,
            "naive scan: every room, every 15 min, linear check, ranked", f"≤ {TARGET_MS:.0f} ms"),
        Row("slot query: p99", slot_p99, target=f"≤ {TARGET_MS:.0f} ms"),
        Row("rule check of one session: median", check_med, naive_check_s, "linear pass over all sessions",
            f"≤ {TARGET_MS:.0f} ms"),
        Row("rule check of one session: p99", check_p99, target=f"≤ {TARGET_MS:.0f} ms"),
        Row("building the index (once per schedule version)", Series.of(build_ms, "ms")),
    ]  # fmt: skip
    verdicts = [
        Verdict(
            f"slot query ≤ {TARGET_MS:.0f} ms (p99)",
            f"median {slot_med.median:.1f} ms, p99 {slot_p99.median:.1f} ms "
            f"({naive_slot.median / slot_med.median:.0f}x faster than the naive scan)",
            slot_p99.median <= TARGET_MS,
        ),
        Verdict(
            f"rule check ≤ {TARGET_MS:.0f} ms (p99)",
            f"median {check_med.median:.3f} ms, p99 {check_p99.median:.3f} ms "
            f"({naive_check_s.median / check_med.median:.0f}x faster than the linear pass)",
            check_p99.median <= TARGET_MS,
        ),
    ]
    details = [
        Table(
            "The schedule",
            ("what", "value"),
            (
                ("rooms / days / sessions", f"{ROOMS} / {DAYS} / {len(sessions):,}"),
                ("slot queries per repetition (naive: the first)", f"{QUERIES} ({NAIVE_QUERIES})"),
                ("slots returned per query (median)", f"{statistics.median(returned):.0f} (limit 10)"),
            ),
        )
    ]
    notes = [
        "Queries mix durations 30-120 min, attendance 10-500 or none, one day or the whole event, "
        "a feature or none, grassroots rooms only in 30 %, and a host who must be free in half of them.",
        "The rule check is the one an edit, an approval and every returned slot pay; the slot query "
        "includes checking each slot it returns.",
    ]
    return BenchResult(
        title="Schedule: slot finder and rule check",
        method=(
            f"`konferenco.schedule.slots.find_slots` and `ScheduleIndex.check` on a generated schedule of "
            f"{ROOMS} rooms x {DAYS} days x {SESSIONS:,} sessions (5 per room and day, 30-90 min, 1-3 "
            "speakers out of 3,000, changeover buffers 0-15 min), timed one query at a time with "
            "`time.perf_counter` in this process; a repetition's value is the median (or p99) of its "
            "queries. Baselines in the same repetition on the same queries: a naive slot scan and a linear "
            "rule check (see the module's docstring)."
        ),
        repetitions=repetitions,
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def _fields(session: Session) -> dict[str, object]:
    return {f: getattr(session, f) for f in session.__struct_fields__}


def main() -> None:
    parser = argparse.ArgumentParser(description="Slot finder and rule check benchmark.")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    from bench.run import render_result

    print("\n".join(render_result(run(args.repetitions))))


if __name__ == "__main__":
    main()
