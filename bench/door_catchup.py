"""Door during catch-up: scans over HTTP while peers push big device logs over /sync.

"The door never waits for sync" (issue): an appliance with a 20,000-attendee
demo event, a door firing 300 scans/s open loop (latency from each scan's
*scheduled* send time, 10 s client timeout), and peers pushing device logs
of 50,000 scans over ``/sync`` while the door is busy.  Targets: p99 ≤ 50 ms,
no gap > 200 ms without an answer, no failed scan, RSS ≤ 250 MB after the
4 x 50,000 catch-up.

Preparation (not timed): ``konferenco demo seed`` (20,000 attendees), the
badge export, a door token, a device-role peer token per pushing device
(``appliance peer-token``), and five device logs of 50,000 realistic scans
each (the event's badge codes and attendees, list ``main``; built in a
pycrdt ``Doc`` 500 appends per transaction, one v1 update per log).

Per repetition, on a fresh copy of the seeded data directory: ``konferenco
appliance serve``, then the door load generator in its own process (raw
HTTP/1.1 keep-alive connections on asyncio + uvloop, at most
:data:`CONNECTIONS`; every scan a distinct nonce and a valid badge, entries
then exits), and three phases: the door alone; one peer pushing one log;
then four peers pushing one log each at once.  A push is a WebSocket to
``/sync/{document}`` with the device's token that answers the box's Step 1
with the whole log as its Step 2 (what a device coming back online sends);
the catch-up lasts until every pushed scan is a row of ``checkin`` (the
appliance's database polled read-only every 50 ms).  The door's scans are
assigned to a phase by their scheduled time.  The machinery is in
``tests/catchup.py``, shared with ``tests/appliance/test_door_catchup.py``.

Runnable alone: ``python -m bench.door_catchup [--repetitions N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import EVENT, BenchResult, Row, Series, Table, Verdict, progress
from tests.catchup import (
    ATTENDEES,
    RECORDS,
    SCAN_TIMEOUT_S,
    CatchUp,
    DeviceLogUpdate,
    DoorConfig,
    DoorFigures,
    DoorLoad,
    Seeded,
    build_logs,
    catch_up,
    device_token,
    memory_mb,
    seed,
    summarise,
    write_codes,
)
from tests.helpers import ApplianceProcess

RATE = 300.0  # door scans per second, open loop
CONNECTIONS = 32  # the door's keep-alive connections at most
WARMUP_S = 2.0  # door load before the "door alone" window
DOOR_ALONE_S = 5.0
SETTLE_S = 2.0  # door alone again between the catch-ups
UNLOAD_S = 12.0  # after the last: the replica drops documents idle for 10 s (Replica.idle_after)
CATCH_UP_LIMIT_S = 300.0
PEERS = ("peer-1", "peer-2", "peer-3", "peer-4", "peer-5")  # peer-1 alone, then the other four at once
PHASES = ("door alone", "during 1x50k catch-up", "during 4x50k catch-up")
TARGET_P99_MS = 50.0
TARGET_GAP_MS = 200.0
TARGET_RSS_MB = 250.0


@dataclass
class Prepared:
    seeded: Seeded
    codes: Path
    logs: list[DeviceLogUpdate] = field(repr=False)
    tokens: dict[str, str] = field(repr=False)


def prepare(root: Path) -> Prepared:
    seeded = seed(root / "template", EVENT, ATTENDEES)
    tokens = {peer: device_token(seeded.data, peer) for peer in PEERS}
    logs = build_logs(EVENT, PEERS, seeded.badges, RECORDS)
    return Prepared(seeded, write_codes(root / "codes.txt", seeded.door_codes), logs, tokens)


@dataclass(frozen=True)
class Outcome:
    """One repetition: the door's figures per phase, the two catch-ups, the box's memory."""

    phases: dict[str, DoorFigures]
    one: CatchUp
    four: CatchUp
    rss_after_one_mb: float
    rss_mb: float  # VmRSS after the 4 x 50k catch-up
    hwm_mb: float  # VmHWM (peak RSS) over the run
    load_mb: float  # the door load generator's VmHWM, for scale


def _sleep_until(t: float) -> None:
    time.sleep(max(0.0, t - time.monotonic()))


def run_once(prepared: Prepared, workdir: Path) -> Outcome:
    data = workdir / "data"
    shutil.copytree(prepared.seeded.data, data)
    db = data / "appliance.db"
    appliance = ApplianceProcess(data).start(timeout=60)
    door: DoorLoad | None = None
    try:
        assert appliance.proc is not None
        pid = appliance.proc.pid
        config = DoorConfig(
            appliance.port, prepared.seeded.door_token, str(prepared.codes), RATE, CONNECTIONS
        )
        door = DoorLoad(config, workdir / "door.log").start()
        alone = door.started + WARMUP_S
        _sleep_until(alone + DOOR_ALONE_S)
        progress(f"door alone for {DOOR_ALONE_S:.0f} s; pushing 1 x {RECORDS:,}")
        one = asyncio.run(catch_up(appliance.url, db, prepared.logs[:1], prepared.tokens, CATCH_UP_LIMIT_S))
        rss_after_one, _ = memory_mb(pid)
        progress(f"1 x {RECORDS:,} projected in {one.seconds:.1f} s; pushing 4 x {RECORDS:,}")
        time.sleep(SETTLE_S)
        four = asyncio.run(catch_up(appliance.url, db, prepared.logs[1:], prepared.tokens, CATCH_UP_LIMIT_S))
        progress(f"4 x {RECORDS:,} projected in {four.seconds:.1f} s")
        time.sleep(UNLOAD_S)  # the door goes on; the pushed shards, now idle, are dropped from memory
        rss, hwm = memory_mb(pid)
        assert door.proc is not None
        _, load_hwm = memory_mb(door.proc.pid)
        scans, door = door.stop(), None
    finally:
        if door is not None:
            door.kill()
        appliance.stop()
        shutil.rmtree(data, ignore_errors=True)
    phases = {
        PHASES[0]: summarise(scans, alone, one.started),
        PHASES[1]: summarise(scans, one.started, one.projected),
        PHASES[2]: summarise(scans, four.started, four.projected),
    }
    return Outcome(phases, one, four, rss_after_one, rss, hwm, load_hwm)


def run(repetitions: int = 3) -> BenchResult:
    outcomes: list[Outcome] = []
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-door-catchup-") as tmp:
        root = Path(tmp)
        progress(
            f"door during catch-up: seeding {ATTENDEES:,} attendees, building {len(PEERS)} device logs "
            f"of {RECORDS:,} scans (not timed)"
        )
        t = time.monotonic()
        prepared = prepare(root)
        biggest = max(len(shard.update) for log in prepared.logs for shard in log.shards)
        progress(f"prepared in {time.monotonic() - t:.1f} s (largest shard ~{biggest / 2**20:.1f} MiB)")
        for rep in range(repetitions):
            progress(f"door during catch-up, repetition {rep + 1}/{repetitions}")
            outcome = run_once(prepared, root / f"run-{rep}")
            outcomes.append(outcome)
            for name, f in outcome.phases.items():
                progress(
                    f"  {name}: p50 {f.p50_ms:.1f} ms, p99 {f.p99_ms:.1f} ms, max {f.max_ms:.0f} ms, "
                    f"longest gap {f.longest_gap_ms:.0f} ms, {f.errors} errors, {f.timeouts} timeouts"
                )
            progress(f"  RSS {outcome.rss_mb:.0f} MB, peak {outcome.hwm_mb:.0f} MB")
    load_note = (
        f"1-minute load average {load_at_start:.2f} when this benchmark started, "
        f"{os.getloadavg()[0]:.2f} when it ended."
    )
    return _result(outcomes, biggest, load_note)


def _series(outcomes: list[Outcome], phase: str, attr: str, unit: str) -> Series:
    return Series.of([float(getattr(o.phases[phase], attr)) for o in outcomes], unit)


def _result(outcomes: list[Outcome], log_bytes: int, load_note: str) -> BenchResult:
    alone = PHASES[0]
    rows: list[Row] = []
    for phase in PHASES:
        baseline = phase != alone
        for attr, label, target in (
            ("p50_ms", "latency p50", ""),
            ("p99_ms", "latency p99", f"≤ {TARGET_P99_MS:.0f} ms"),
            ("max_ms", "latency max", ""),
            ("longest_gap_ms", "longest gap with no answer", f"≤ {TARGET_GAP_MS:.0f} ms"),
        ):
            rows.append(
                Row(
                    f"{label}, {phase}",
                    _series(outcomes, phase, attr, "ms"),
                    _series(outcomes, alone, attr, "ms") if baseline else None,
                    "door alone" if baseline else "",
                    target if baseline else "",
                )
            )
        rows.append(
            Row(
                f"failed scans (errors + timeouts), {phase}",
                _series(outcomes, phase, "failures", "scans"),
                target="0",
            )
        )
    one = Series.of([o.one.seconds for o in outcomes], "s")
    four = Series.of([o.four.seconds for o in outcomes], "s")
    rss = Series.of([o.rss_mb for o in outcomes], "MB")
    hwm = Series.of([o.hwm_mb for o in outcomes], "MB")
    rows += [
        Row(f"catch-up 1 x {RECORDS:,}: push start until all projected", one),
        Row(f"catch-up 4 x {RECORDS:,}: push start until all projected", four),
        Row(
            f"appliance RSS (VmRSS) {UNLOAD_S:.0f} s after the 4 x 50k catch-up",
            rss,
            target=f"≤ {TARGET_RSS_MB:.0f} MB",
        ),
        Row("appliance peak RSS (VmHWM) over the run", hwm),
    ]

    def med(phase: str, attr: str) -> float:
        return _series(outcomes, phase, attr, "").median

    verdicts: list[Verdict] = []
    for phase in PHASES[1:]:
        verdicts += [
            Verdict(
                f"p99 ≤ {TARGET_P99_MS:.0f} ms {phase}",
                f"{med(phase, 'p99_ms'):,.1f} ms",
                med(phase, "p99_ms") <= TARGET_P99_MS,
            ),
            Verdict(
                f"no gap > {TARGET_GAP_MS:.0f} ms without an answer {phase}",
                f"longest {med(phase, 'longest_gap_ms'):,.0f} ms",
                med(phase, "longest_gap_ms") <= TARGET_GAP_MS,
            ),
        ]
    failures = [sum(f.failures for f in o.phases.values()) for o in outcomes]
    verdicts += [
        Verdict(
            "0 failed scans (errors + timeouts), every phase, every repetition",
            f"{max(failures)} in the worst repetition ({', '.join(str(n) for n in failures)})",
            max(failures) == 0,
        ),
        Verdict(
            f"RSS ≤ {TARGET_RSS_MB:.0f} MB after the 4 x 50k catch-up",
            f"{rss.median:,.0f} MB (peak {hwm.median:,.0f} MB)",
            rss.median <= TARGET_RSS_MB,
        ),
    ]

    def cell(phase: str, attr: str, fmt: str) -> str:
        return format(med(phase, attr), fmt)

    def catchup_cells(phase: str) -> tuple[str, str]:
        if phase == PHASES[1]:
            return (
                f"{one.median:.1f}",
                f"{Series.of([o.one.acked_seconds for o in outcomes], 's').median:.1f}",
            )
        if phase == PHASES[2]:
            return (
                f"{four.median:.1f}",
                f"{Series.of([o.four.acked_seconds for o in outcomes], 's').median:.1f}",
            )
        return f"{DOOR_ALONE_S:.0f} (window)", "-"

    details = [
        Table(
            "Per phase (medians over repetitions)",
            (
                "phase",
                "scans due",
                "p50 (ms)",
                "p99 (ms)",
                "max (ms)",
                "longest gap (ms)",
                "errors",
                "timeouts",
                "phase length: catch-up until projected (s)",
                "until acknowledged (s)",
            ),
            tuple(
                (
                    phase,
                    cell(phase, "scans", ",.0f"),
                    cell(phase, "p50_ms", ",.1f"),
                    cell(phase, "p99_ms", ",.1f"),
                    cell(phase, "max_ms", ",.0f"),
                    cell(phase, "longest_gap_ms", ",.0f"),
                    cell(phase, "errors", ".0f"),
                    cell(phase, "timeouts", ".0f"),
                    *catchup_cells(phase),
                )
                for phase in PHASES
            ),
        )
    ]
    results: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for o in outcomes:
        for f in o.phases.values():
            results.update(f.results)
            failed.update(f.failure_kinds)
    mix = ", ".join(f"{k} {v:,}" for k, v in sorted(results.items()))
    rss_one = Series.of([o.rss_after_one_mb for o in outcomes], "MB").median
    notes = [
        f"Answered door scans over all phases and repetitions: {mix}. Entries of attendees the pushed "
        "logs had admitted are `already_admitted`: still a full decision and a durable write.",
        f"Each pushed log is one update of {log_bytes / 2**20:.1f} MiB (real badge codes), sent as one "
        "Step 2 message; the sync message cap is 16 MiB.",
        f"Appliance RSS after the 1 x 50k catch-up: {rss_one:,.0f} MB (median). The door load "
        f"generator's own peak RSS: {Series.of([o.load_mb for o in outcomes], 'MB').median:,.0f} MB.",
        f"Door: {RATE:.0f} scans/s scheduled open loop, at most {CONNECTIONS} keep-alive connections (a due "
        f"scan waits for a free one; that wait counts), {SCAN_TIMEOUT_S:.0f} s timeout from the scheduled "
        "time. A scan belongs to the phase in which it was due; the longest gap is the longest time in "
        "the phase in which no answer arrived, the phase's edges included.",
        f"The appliance, the door load generator and the pushing peers share the machine's "
        f"{os.cpu_count()} cores; the phases are CPU-bound on the appliance.",
        load_note,
    ]
    if failed:
        kinds = "; ".join(f"{n:,} x {kind}" for kind, n in failed.most_common(5))
        notes.append(f"Failed scans over all repetitions, by kind: {kinds}.")
    return BenchResult(
        title=f"Door during catch-up: {RATE:.0f} scans/s while peers push 1 and 4 x {RECORDS:,} scans",
        method=(
            f"`konferenco appliance serve` on a demo event of {ATTENDEES:,} attendees (a fresh copy per "
            f"repetition). A door load generator in its own process sends `POST /api/v1/scans` at "
            f"{RATE:.0f}/s open loop (raw HTTP/1.1 keep-alive, asyncio + uvloop; a distinct nonce and a "
            f"valid badge per scan) and measures each scan's latency from its scheduled send time. After "
            f"{WARMUP_S:.0f} s warm-up and {DOOR_ALONE_S:.0f} s of door alone, one device peer pushes its "
            f"offline log of {RECORDS:,} scans over `WS /sync/{{document}}` (device-role token from "
            f"`appliance peer-token`; the whole log as its Step 2); {SETTLE_S:.0f} s after every pushed scan "
            f"is in `checkin`, four more peers push one such log each at once. A catch-up lasts from the "
            "push until every pushed scan is a `checkin` row (the database polled read-only every 50 ms). "
            "RSS: /proc/PID/status of the appliance process, "
            f"{SETTLE_S:.0f} s after the last catch-up."
        ),
        repetitions=len(outcomes),
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="The door's latency while peers catch up over /sync.")
    parser.add_argument("--repetitions", type=int, default=1)
    args = parser.parse_args()
    from bench.run import render_result

    print("\n".join(render_result(run(repetitions=args.repetitions))))


if __name__ == "__main__":
    main()
