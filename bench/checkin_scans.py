"""Scans over HTTP: sustained throughput and latency of ``POST /api/v1/scans`` on the real server.

"Sustained scans over HTTP from a load generator on the same machine
(concurrency 16): throughput, p50/p99 latency.  Target ≥ 1,000 scans/s with
p99 ≤ 10 ms, on this 2-core machine.  The floor in the same run: Ed25519
verify + one SQLite insert-and-commit per scan.  Target: a full scan costs
≤ 5x the floor." (issue #3)

Preparation (not timed): ``konferenco demo seed`` with 20,000 attendees,
``konferenco appliance badges`` to export their codes, and a door token from
``konferenco appliance issue-token``.

Per repetition and per ``--synchronous`` mode: a fresh copy of the seeded
data directory, ``konferenco appliance serve`` on it, then a load generator
in a separate process (its own interpreter, so it does not share the
server's GIL): raw HTTP/1.1 keep-alive connections on asyncio + uvloop, each
scan a distinct badge with a unique nonce.  First one connection (the
per-scan latency), then 16 concurrent ones (throughput, p50, p99), each with
a warm-up before its measured window.  The badges are taken in order;
after the last one the generator starts over with exits, then entries again,
so every scan is admitted and recorded: the full decision and a durable
write each time.

The floor, in the same run: for the same badge codes, ``konferenco.badges.verify``
(base-45 decoding, payload parsing, one Ed25519 verification) plus one
``INSERT`` of a check-in row and a ``COMMIT`` per scan, stdlib ``sqlite3``,
WAL, the same ``synchronous`` mode, in the same temporary directory, just
before and just after each server run (fsync times on a shared disk drift).
To split HTTP from the check-in work, ``CheckinService.scan`` is also called
directly in this process on another copy of the data directory.

Also runnable alone, with cProfile in the server process:
``python -m bench.checkin_scans --profile DIR`` (cProfile sees the event
loop's thread only, not the SQLite writer thread).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import itertools
import json
import os
import pstats
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    EVENT,
    ROOT,
    BenchResult,
    Row,
    Series,
    Table,
    Verdict,
    konferenco,
    konferenco_command,
    percentile,
    progress,
)

ATTENDEES = 20_000
SEED = 1
GATE = "north"
CONCURRENCY = 16
WARMUP_S = 2.0
WINDOW_S = 10.0
SEQUENTIAL_WARMUP_S = 1.0
SEQUENTIAL_WINDOW_S = 5.0
FLOOR_SCANS = 2_000
FLOOR_WARMUP = 200
MODES = ("FULL", "NORMAL")
TARGET_PER_S = 1_000.0
TARGET_P99_MS = 10.0
TARGET_FLOOR_RATIO = 5.0


# --- the load generator (runs in its own process) ----------------------------------------


@dataclass(frozen=True)
class LoadConfig:
    port: int
    token: str
    badges: str  # file with one badge code per line
    concurrency: int
    warmup_s: float
    window_s: float
    run_id: str
    server_pid: int
    offset: int = 0  # index of the first badge to scan (continues an earlier run on the same server)


def _process_cpu_s(pid: int) -> float:
    """User+system CPU of a process (all its threads) so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds every core of the machine spent busy so far (not idle, not waiting for I/O)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(values[:8]) - values[3] - values[4]  # user..steal, minus idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _cpu_sample(server_pid: int) -> tuple[float, float, float]:
    return _process_cpu_s(server_pid), _own_cpu_s(), _machine_busy_s()


async def _load(cfg: LoadConfig, codes: list[str]) -> dict[str, Any]:
    head = (
        f"POST /api/v1/scans HTTP/1.1\r\nHost: 127.0.0.1:{cfg.port}\r\n"
        f"Authorization: Bearer {cfg.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\n\r\n"
    )
    counter = itertools.count(cfg.offset)
    latencies: list[float] = []  # ms, of scans completed inside the window
    results: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    issued = completed = 0
    started = time.perf_counter()
    window_starts = started + cfg.warmup_s
    window_ends = window_starts + cfg.window_s
    samples: list[tuple[float, float, float]] = []

    async def sampler() -> None:
        """CPU of the server, of this process and of the whole machine at the window's edges."""
        for edge in (window_starts, window_ends):
            await asyncio.sleep(max(0.0, edge - time.perf_counter()))
            samples.append(_cpu_sample(cfg.server_pid))

    async def worker(w: int) -> None:
        nonlocal issued, completed
        reader, writer = await asyncio.open_connection("127.0.0.1", cfg.port)
        try:
            while True:
                t0 = time.perf_counter()
                if t0 >= window_ends:
                    return
                i = next(counter)
                n, rnd = i % len(codes), i // len(codes)
                body = json.dumps(
                    {
                        "code": codes[n],
                        "nonce": f"{cfg.run_id}-{i}",
                        "gate": GATE,
                        "direction": "entry" if rnd % 2 == 0 else "exit",
                    }
                ).encode()
                writer.write(head.format(len(body)).encode() + body)
                issued += 1
                header = await reader.readuntil(b"\r\n\r\n")
                status = int(header[9:12])
                found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", header)
                if found is None:
                    raise RuntimeError(f"no Content-Length in the response: {header!r}")
                payload = await reader.readexactly(int(found.group(1)))
                t1 = time.perf_counter()
                completed += 1
                if window_starts <= t1 <= window_ends:
                    latencies.append((t1 - t0) * 1000)
                    statuses[status] += 1
                    if status == 200:
                        results[json.loads(payload)["result"]] += 1
                    elif len(failures) < 5:
                        failures.append(f"{status}: {payload[:300]!r}")
        finally:
            writer.close()

    await asyncio.gather(sampler(), *(worker(w) for w in range(cfg.concurrency)))
    (server0, own0, machine0), (server1, own1, machine1) = samples
    return {
        "scans": len(latencies),
        "per_s": len(latencies) / cfg.window_s,
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "results": dict(results),
        "statuses": {str(k): v for k, v in statuses.items()},
        "failures": failures,
        "issued": issued,
        "completed": completed,
        "server_cpu_s": server1 - server0,
        "loadgen_cpu_s": own1 - own0,
        "machine_busy_s": machine1 - machine0,
    }


def loadgen_main(config: str) -> None:
    cfg = LoadConfig(**json.loads(config))
    codes = [c for c in Path(cfg.badges).read_text().split("\n") if c]
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(_load(cfg, codes))
    else:
        result = uvloop.run(_load(cfg, codes))
    print(json.dumps(result), flush=True)


# --- preparation -------------------------------------------------------------------------


@dataclass
class Prepared:
    template: Path  # the seeded data directory, copied for each server
    badges: Path  # one code per line
    codes: list[str] = field(repr=False)
    token: str = field(repr=False)


def prepare(root: Path) -> Prepared:
    template = root / "template"
    konferenco("demo", "seed", "--data", str(template), "--event", EVENT, "--attendees", str(ATTENDEES))
    exported = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(template), "--out", str(exported))
    with exported.open(newline="", encoding="utf-8") as f:
        # Day passes are valid on one of the event's three days: left out, so every entry is admitted.
        codes = [row["badge_code"] for row in csv.DictReader(f) if row["ticket_type"] != "Day pass"]
    badges = root / "badges.txt"
    badges.write_text("\n".join(codes) + "\n")
    token = konferenco(
        "appliance", "issue-token", "--data", str(template), "--role", "door", "--name", "bench"
    )
    return Prepared(template, badges, codes, token.strip())


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``konferenco appliance serve`` on a copy of the template, as a child process."""

    def __init__(self, data: Path, synchronous: str, profile: Path | None = None) -> None:
        self.data = data
        self.synchronous = synchronous
        self.port = _free_port()
        self.log = data.with_suffix(".log")
        command = konferenco_command()
        if profile is not None:
            command = [sys.executable, "-m", "cProfile", "-o", str(profile), "-m", "konferenco.cli"]
        self.args = [
            *command,
            "appliance",
            "serve",
            "--data",
            str(data),
            "--port",
            str(self.port),
            "--synchronous",
            synchronous,
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        import httpx

        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise TimeoutError(f"the server was not healthy after 60 s: {self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else "(no output)"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def commits(self) -> int:
        import httpx

        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10).text
        found = re.search(r"^konferenco_sqlite_commits (\S+)$", text, re.MULTILINE)
        return int(float(found.group(1))) if found else 0

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)  # graceful: a profiled server writes its profile
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # by PID: the server this object started
            self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Load:
    """One load-generator run, seen from both sides."""

    per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    scans: int  # completed inside the window
    completed: int  # including the warm-up
    results: dict[str, int]
    # CPU seconds during the measured window:
    loadgen_cpu_s: float
    server_cpu_s: float
    machine_busy_s: float  # every process on the machine, these two included
    window_s: float
    commits: int  # during the whole run, warm-up included

    @property
    def others_cores(self) -> float:
        """Cores kept busy by other processes during the window (a shared machine)."""
        return max(0.0, self.machine_busy_s - self.server_cpu_s - self.loadgen_cpu_s) / self.window_s


def load(
    server: Server, prepared: Prepared, concurrency: int, warmup: float, window: float, offset: int
) -> Load:
    cfg = LoadConfig(
        port=server.port,
        token=prepared.token,
        badges=str(prepared.badges),
        concurrency=concurrency,
        warmup_s=warmup,
        window_s=window,
        run_id=f"{os.getpid()}-{time.monotonic_ns()}",
        server_pid=server.pid,
        offset=offset,
    )
    commits = server.commits()
    done = subprocess.run(
        [sys.executable, "-m", "bench.checkin_scans", "--loadgen", json.dumps(cfg.__dict__)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=warmup + window + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed: {done.stderr[-2000:]}\nserver: {server.tail()}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["failures"] or set(out["statuses"]) != {"200"}:
        raise RuntimeError(f"scans failed: {out['statuses']} {out['failures']}")
    return Load(
        out["per_s"],
        out["p50_ms"],
        out["p99_ms"],
        out["max_ms"],
        out["scans"],
        out["completed"],
        out["results"],
        out["loadgen_cpu_s"],
        out["server_cpu_s"],
        out["machine_busy_s"],
        window,
        server.commits() - commits,
    )


@dataclass
class ServerRun:
    sequential: Load
    concurrent: Load


def serve_and_load(
    prepared: Prepared, data: Path, synchronous: str, profile: Path | None = None
) -> ServerRun:
    shutil.copytree(prepared.template, data)
    try:
        with Server(data, synchronous, profile) as server:
            one = load(server, prepared, 1, SEQUENTIAL_WARMUP_S, SEQUENTIAL_WINDOW_S, 0)
            many = load(server, prepared, CONCURRENCY, WARMUP_S, WINDOW_S, one.completed)
        return ServerRun(one, many)
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --- the service alone, in this process (no HTTP) ----------------------------------------

SERVICE_WARMUP = 100
SERVICE_SCANS = 1_000
SERVICE_CONCURRENT_SCANS = 4_000


@dataclass(frozen=True)
class InProcess:
    """``CheckinService.scan`` called directly: what a scan costs without HTTP and Litestar."""

    p50_ms: float  # one at a time
    cpu_ms: float  # CPU of this process (all threads) per scan, one at a time
    per_s: float  # CONCURRENCY tasks scanning at once
    concurrent_cpu_ms: float


async def _in_process(data: Path, codes: list[str], synchronous: str) -> InProcess:
    from appliance.checkin.service import CheckinService
    from appliance.checkin.structs import ScanRequest
    from appliance.config import DataDir
    from appliance.storage import open_replica
    from sync.names import DocName

    appliance = DataDir(data)
    config = appliance.load()
    replica = open_replica(appliance, "FULL" if synchronous == "FULL" else "NORMAL")
    await replica.start()
    conn = appliance.reader()
    try:
        for event in config.events:
            await replica.open(DocName.control(event))
            await replica.open(replica.device_log(event, config.device_id))
        service = CheckinService(replica, conn, config.events, config.device_id)

        async def scan(i: int) -> None:
            answer = await service.scan(
                ScanRequest(code=codes[i], nonce=f"in-process-{i}", gate=GATE), "bench"
            )
            if answer.result != "admitted":
                raise RuntimeError(f"in-process scan {i}: {answer.result} ({answer.reason})")

        latencies: list[float] = []
        cpu = 0.0
        for i in range(SERVICE_WARMUP + SERVICE_SCANS):
            if i == SERVICE_WARMUP:
                cpu = time.process_time()
            t0 = time.perf_counter_ns()
            await scan(i)
            if i >= SERVICE_WARMUP:
                latencies.append((time.perf_counter_ns() - t0) / 1e6)
        cpu = time.process_time() - cpu
        start = SERVICE_WARMUP + SERVICE_SCANS
        counter = itertools.count(start)
        end = start + SERVICE_CONCURRENT_SCANS

        async def worker() -> None:
            while (i := next(counter)) < end:
                await scan(i)

        cpu_many, t0_many = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        wall_many, cpu_many = time.perf_counter() - t0_many, time.process_time() - cpu_many
        return InProcess(
            percentile(latencies, 50),
            cpu * 1000 / SERVICE_SCANS,
            SERVICE_CONCURRENT_SCANS / wall_many,
            cpu_many * 1000 / SERVICE_CONCURRENT_SCANS,
        )
    finally:
        await replica.close()
        conn.close()


def in_process(prepared: Prepared, data: Path, synchronous: str) -> InProcess:
    if len(prepared.codes) < SERVICE_WARMUP + SERVICE_SCANS + SERVICE_CONCURRENT_SCANS:
        raise RuntimeError("not enough badges for the in-process run")
    shutil.copytree(prepared.template, data)
    try:
        try:
            import uvloop
        except ImportError:
            return asyncio.run(_in_process(data, prepared.codes, synchronous))
        return uvloop.run(_in_process(data, prepared.codes, synchronous))
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --- the floor -----------------------------------------------------------------------------

_FLOOR_TABLE = """
CREATE TABLE checkin (
    doc TEXT, id TEXT, event_id TEXT NOT NULL, device_id TEXT NOT NULL, nonce TEXT NOT NULL,
    attendee_id TEXT, list_id TEXT, gate TEXT, direction TEXT NOT NULL, result TEXT NOT NULL,
    reason TEXT, code TEXT, nfc_uid TEXT, at INTEGER NOT NULL, device_time INTEGER, staff TEXT,
    PRIMARY KEY (doc, id)
)
"""


@dataclass(frozen=True)
class Floor:
    """Per-scan samples (ms) of the floor: measured before and after each server run, pooled."""

    total: tuple[float, ...] = field(repr=False)  # verify + INSERT + COMMIT
    verifying: tuple[float, ...] = field(repr=False)
    committing: tuple[float, ...] = field(repr=False)
    before_ms: float = 0.0  # median of the series measured before the server run
    after_ms: float = 0.0

    @property
    def per_scan_ms(self) -> float:
        return percentile(list(self.total), 50)

    @property
    def verify_ms(self) -> float:
        return percentile(list(self.verifying), 50)

    @property
    def commit_ms(self) -> float:
        return percentile(list(self.committing), 50)

    def then(self, after: Floor) -> Floor:
        """This series (measured before) pooled with ``after``."""
        return Floor(
            self.total + after.total,
            self.verifying + after.verifying,
            self.committing + after.committing,
            self.per_scan_ms,
            after.per_scan_ms,
        )


def floor(path: Path, template: Path, codes: list[str], synchronous: str) -> Floor:
    """Per scan: verify the badge code, then INSERT one check-in row and COMMIT."""
    from appliance.checkin.catalog_cache import CatalogCache
    from konferenco.badges import verify
    from konferenco.types import new_id
    from sync.sqlite_writer import connect

    with contextlib.closing(sqlite3.connect(template / "appliance.db")) as source:
        ring = CatalogCache(source, [EVENT]).event(EVENT).keys
    conn = connect(path, synchronous="FULL" if synchronous == "FULL" else "NORMAL")
    try:
        conn.execute(_FLOOR_TABLE)
        total: list[float] = []
        verifying: list[float] = []
        committing: list[float] = []
        doc = f"event/{EVENT}/device/floor"
        for i in range(FLOOR_WARMUP + FLOOR_SCANS):
            code = codes[i % len(codes)]
            t0 = time.perf_counter_ns()
            badge = verify(code, ring, EVENT)
            t1 = time.perf_counter_ns()
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO checkin VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc, new_id(), EVENT, "floor", f"floor-{i}", badge.payload.attendee, "main", GATE,
                    "entry", "admitted", "Welcome.", code, None, int(time.time() * 1000), None, "bench",
                ),
            )  # fmt: skip
            conn.execute("COMMIT")
            t2 = time.perf_counter_ns()
            if i >= FLOOR_WARMUP:
                total.append((t2 - t0) / 1e6)
                verifying.append((t1 - t0) / 1e6)
                committing.append((t2 - t1) / 1e6)
        return Floor(tuple(total), tuple(verifying), tuple(committing))
    finally:
        conn.close()


# --- the benchmark -----------------------------------------------------------------------


def run(repetitions: int = 3) -> BenchResult:
    floors: dict[str, list[Floor]] = {m: [] for m in MODES}
    runs: dict[str, list[ServerRun]] = {m: [] for m in MODES}
    alone: dict[str, list[InProcess]] = {m: [] for m in MODES}
    load_at_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-scans-") as tmp:
        root = Path(tmp)
        progress(f"scans: seeding a demo appliance with {ATTENDEES:,} attendees (not timed)")
        prepared = prepare(root)
        for rep in range(repetitions):
            for mode in MODES:
                step = f"scans {mode}, repetition {rep + 1}/{repetitions}"
                progress(f"{step}: floor")
                before = floor(root / f"floor-{mode}-{rep}-a.db", prepared.template, prepared.codes, mode)
                progress(f"{step}: server + load generator")
                outcome = serve_and_load(prepared, root / f"run-{mode}-{rep}", mode)
                runs[mode].append(outcome)
                progress(f"{step}: floor again")
                after = floor(root / f"floor-{mode}-{rep}-b.db", prepared.template, prepared.codes, mode)
                floors[mode].append(before.then(after))
                progress(f"{step}: the service alone, in process")
                alone[mode].append(in_process(prepared, root / f"alone-{mode}-{rep}", mode))
                many, one = outcome.concurrent, outcome.sequential
                progress(
                    f"{mode}: {many.per_s:,.0f} scans/s, p50 {many.p50_ms:.2f} ms, p99 {many.p99_ms:.2f} ms; "
                    f"one at a time {one.p50_ms:.2f} ms (in process {alone[mode][-1].p50_ms:.2f} ms, "
                    f"floor {floors[mode][-1].per_scan_ms:.2f} ms)"
                )
    load_note = f"1-minute load average {load_at_start:.2f} when this benchmark started, "
    load_note += f"{os.getloadavg()[0]:.2f} when it ended."
    return _result(prepared, floors, runs, alone, load_note)


def _med(values: list[float]) -> float:
    return Series.of(values, "").median


def _result(
    prepared: Prepared,
    floors: dict[str, list[Floor]],
    runs: dict[str, list[ServerRun]],
    alone: dict[str, list[InProcess]],
    load_note: str,
) -> BenchResult:
    rows: list[Row] = []
    verdicts: list[Verdict] = []
    for mode in MODES:
        many = [r.concurrent for r in runs[mode]]
        one = [r.sequential for r in runs[mode]]
        floor_ms = Series.of([f.per_scan_ms for f in floors[mode]], "ms")
        label = f"floor: verify + INSERT+COMMIT ({mode})"
        throughput = Series.of([x.per_s for x in many], "scans/s")
        p99 = Series.of([x.p99_ms for x in many], "ms")
        sequential = Series.of([x.p50_ms for x in one], "ms")
        default = " (the default)" if mode == "FULL" else ""
        rows += [
            Row(
                f"throughput, concurrency {CONCURRENCY}, synchronous={mode}{default}",
                throughput,
                target=f"≥ {TARGET_PER_S:,.0f} scans/s",
            ),
            Row(
                f"latency p50, concurrency {CONCURRENCY}, synchronous={mode}",
                Series.of([x.p50_ms for x in many], "ms"),
            ),
            Row(
                f"latency p99, concurrency {CONCURRENCY}, synchronous={mode}",
                p99,
                target=f"≤ {TARGET_P99_MS:.0f} ms",
            ),
            Row(
                f"per-scan latency, concurrency 1, median, synchronous={mode}",
                sequential,
                floor_ms,
                label,
                f"≤ {TARGET_FLOOR_RATIO:.0f}x floor",
            ),
            Row(
                f"per-scan latency, concurrency 1, p99, synchronous={mode}",
                Series.of([x.p99_ms for x in one], "ms"),
            ),
            Row(f"floor per scan: verify + INSERT+COMMIT, median, synchronous={mode}", floor_ms),
            Row(
                f"same scan in process (`CheckinService.scan`, no HTTP), concurrency 1, median, "
                f"synchronous={mode}",
                Series.of([x.p50_ms for x in alone[mode]], "ms"),
                floor_ms,
                label,
            ),
            Row(
                f"in process, {CONCURRENCY} concurrent tasks, no HTTP: throughput, synchronous={mode}",
                Series.of([x.per_s for x in alone[mode]], "scans/s"),
            ),
        ]
        if mode != "FULL":
            continue
        ratio = sequential.median / floor_ms.median
        verdicts += [
            Verdict(
                f"≥ {TARGET_PER_S:,.0f} scans/s at concurrency {CONCURRENCY} (synchronous=FULL)",
                f"{throughput.median:,.0f} scans/s",
                throughput.median >= TARGET_PER_S,
            ),
            Verdict(
                f"p99 ≤ {TARGET_P99_MS:.0f} ms at concurrency {CONCURRENCY} (synchronous=FULL)",
                f"{p99.median:.2f} ms",
                p99.median <= TARGET_P99_MS,
            ),
            Verdict(
                f"a full scan costs ≤ {TARGET_FLOOR_RATIO:.0f}x the floor (synchronous=FULL)",
                f"full scan costs {ratio:.1f}x the floor ({sequential.median:.2f} ms at concurrency 1 "
                f"vs {floor_ms.median:.3f} ms)",
                ratio <= TARGET_FLOOR_RATIO,
            ),
        ]

    where = []
    for mode in MODES:
        for name, attribute in (("1", "sequential"), (str(CONCURRENCY), "concurrent")):
            loads = [getattr(r, attribute) for r in runs[mode]]
            where.append(
                (
                    mode,
                    name,
                    f"{_med([x.server_cpu_s * 1000 / x.scans for x in loads]):.2f}",
                    f"{_med([x.loadgen_cpu_s * 1000 / x.scans for x in loads]):.2f}",
                    f"{_med([x.server_cpu_s / x.window_s for x in loads]):.2f}",
                    f"{_med([x.others_cores for x in loads]):.2f}",
                    f"{_med([x.completed / max(1, x.commits) for x in loads]):.1f}",
                    f"{_med([x.max_ms for x in loads]):.1f}",
                )
            )
    http_split = tuple(
        (
            mode,
            f"{_med([r.sequential.p50_ms for r in runs[mode]]):.2f}",
            f"{_med([x.p50_ms for x in alone[mode]]):.2f}",
            f"{_med([r.sequential.p50_ms for r in runs[mode]]) - _med([x.p50_ms for x in alone[mode]]):.2f}",
            f"{_med([x.cpu_ms for x in alone[mode]]):.2f}",
            f"{_med([x.concurrent_cpu_ms for x in alone[mode]]):.2f}",
        )
        for mode in MODES
    )
    floor_split = tuple(
        (
            mode,
            f"{_med([f.per_scan_ms for f in floors[mode]]):.3f}",
            f"{_med([f.before_ms for f in floors[mode]]):.3f} / "
            f"{_med([f.after_ms for f in floors[mode]]):.3f}",
            f"{_med([f.verify_ms for f in floors[mode]]):.3f}",
            f"{_med([f.commit_ms for f in floors[mode]]):.3f}",
        )
        for mode in MODES
    )
    results: Counter[str] = Counter()
    for mode in MODES:
        for r in runs[mode]:
            results.update(r.concurrent.results)
            results.update(r.sequential.results)
    details = [
        Table(
            "Where the time goes: CPU during the measured windows (medians over repetitions)",
            (
                "synchronous",
                "concurrency",
                "server CPU per scan (ms)",
                "load generator CPU per scan (ms)",
                "server cores busy",
                f"other processes' cores busy (of {os.cpu_count()})",
                "scans per SQLite commit",
                "slowest scan in window (ms)",
            ),
            tuple(where),
        ),
        Table(
            "HTTP and framework versus the check-in service (medians; concurrency 1 unless said)",
            (
                "synchronous",
                "over HTTP (ms)",
                "in process, no HTTP (ms)",
                "difference: HTTP, Litestar, staff-token guard, load generator (ms)",
                "in-process CPU per scan (ms)",
                f"in-process CPU per scan, {CONCURRENCY} tasks (ms)",
            ),
            http_split,
        ),
        Table(
            "The floor, split (median per scan)",
            (
                "synchronous",
                "verify + INSERT + COMMIT (ms)",
                "the same, before / after the server run (ms)",
                "verify only (ms)",
                "INSERT + COMMIT only (ms)",
            ),
            floor_split,
        ),
    ]
    mix = ", ".join(f"{k} {v:,}" for k, v in sorted(results.items()))
    notes = [
        f"Every scan was answered 200; results over all measured windows: {mix}.",
        f"The server is `konferenco appliance serve` (uvicorn + uvloop + httptools, Litestar, one process, "
        "its log output to a file), started on a fresh copy of the seeded data directory for each "
        f"repetition and mode. Badges: the {len(prepared.codes):,} exported codes that are not day passes, "
        f"at gate `{GATE}` (list `main`, re-entry after exit).",
        f"The load generator and the server share the machine's {os.cpu_count()} cores; the generator's "
        "own CPU per scan is in the table above. Latency is measured by the generator from writing the "
        "request to reading the whole response.",
        "CPU is sampled from /proc at the start and end of each measured window: the server process's "
        "user+system time (all its threads: the event loop and the SQLite writer), the load "
        "generator's own, and the whole machine's busy time; what remains is other processes' (this "
        "machine is shared). Scans per commit counts the warm-up too.",
        f"With a closed loop of {CONCURRENCY} connections, the mean latency is {CONCURRENCY} / "
        f"throughput (Little's law): a p99 ≤ {TARGET_P99_MS:.0f} ms at concurrency {CONCURRENCY} needs "
        f"well over {CONCURRENCY * 1000 / TARGET_P99_MS:,.0f} scans/s, whatever the mean.",
        "The in-process rows call `CheckinService.scan` on the same kind of data directory, replica and "
        "read connection as the server's (uvloop, in the benchmark's own process) — the decision, the "
        "device-log append and the durable write, without HTTP, Litestar or the staff-token guard.",
        load_note,
    ]
    return BenchResult(
        title=f"Scans over HTTP: concurrency {CONCURRENCY} and 1",
        method=(
            f"`POST /api/v1/scans` to the real server on 127.0.0.1 (demo event, {ATTENDEES:,} attendees), "
            "with a door token, from a load generator in a separate process (raw HTTP/1.1 keep-alive "
            "connections, asyncio + uvloop). Each scan: a distinct badge code, a unique nonce; entries, "
            "then exits once every badge has been used, so each scan is admitted and does the full "
            f"decision and a durable write. Per repetition and mode: one connection for "
            f"{SEQUENTIAL_WARMUP_S:.0f} s warm-up + {SEQUENTIAL_WINDOW_S:.0f} s measured, then "
            f"{CONCURRENCY} connections for {WARMUP_S:.0f} s warm-up + {WINDOW_S:.0f} s measured; "
            "throughput = scans completed in the window / window. Floor, in the same run: "
            f"`konferenco.badges.verify` of the same codes + one `INSERT` of a check-in row and a "
            f"`COMMIT` per scan (stdlib `sqlite3`, WAL, same `synchronous`): {FLOOR_SCANS:,} scans after "
            f"{FLOOR_WARMUP} warm-up just before and again just after each server run, median of both "
            "series pooled. The ratio to the floor is the median "
            "latency at concurrency 1 over the floor's median."
        ),
        repetitions=len(runs[MODES[0]]),
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


# --- profiling -----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Scan load generator, or one profiled server run.")
    parser.add_argument("--loadgen", metavar="JSON", help="(internal) run the load generator")
    parser.add_argument("--profile", type=Path, help="run once with cProfile in the server; .prof files here")
    parser.add_argument("--synchronous", choices=MODES, default="FULL")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    if args.loadgen:
        loadgen_main(args.loadgen)
        return
    if args.profile is None:
        parser.error("give --profile DIR")
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile.resolve() / "server.prof"
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-scans-") as tmp:
        prepared = prepare(Path(tmp))
        outcome = serve_and_load(prepared, Path(tmp) / "profiled", args.synchronous, profile=out)
    progress(
        f"{outcome.concurrent.per_s:,.0f} scans/s, p99 {outcome.concurrent.p99_ms:.2f} ms; "
        f"one at a time {outcome.sequential.p50_ms:.2f} ms (cProfile slows everything down)"
    )
    for order in ("tottime", "cumulative"):
        print(f"\n===== server (event loop thread): top {args.top} by {order} =====")
        pstats.Stats(str(out)).sort_stats(order).print_stats(args.top)


if __name__ == "__main__":
    main()
