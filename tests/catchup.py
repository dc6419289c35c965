"""A door under load while peers catch up over /sync: what the test and the benchmark share.

``tests/appliance/test_door_catchup.py`` and ``bench/door_catchup.py`` both

* seed a demo appliance (:func:`seed`) and serve it as a real process
  (:class:`~tests.helpers.ApplianceProcess`);
* build other devices' logs of the same event, 50,000 realistic scans each
  (:func:`build_logs`: a pycrdt ``Doc``, :data:`BATCH` appends per
  transaction, one v1 update per log — what that device's Step 2 carries);
* run an open-loop door load over HTTP in a process of its own
  (:class:`DoorLoad`: ``POST /api/v1/scans`` at a fixed rate, raw HTTP/1.1
  keep-alive connections on asyncio + uvloop, latency measured from each
  scan's *scheduled* send time, so a stalled server cannot slow the
  generator down and hide its own stall);
* push logs as device peers (:func:`catch_up`: a raw WebSocket per log
  speaking the sync protocol with a device token from ``appliance
  peer-token``) and wait until every pushed scan is in ``checkin``;
* summarise the door's scans in a time window (:func:`summarise`).

Times are ``time.monotonic()`` in every process: on Linux one system-wide
clock, so the load generator's timestamps and the parent's compare.

The load generator runs as ``python -m tests.catchup door CONFIG_JSON``: it
prints ``{"event": "ready", ...}``, scans until a line ``stop`` (or EOF) on
stdin, waits for the scans still in flight (each at most its timeout), then
prints ``{"event": "done", ...}`` with one entry per scan.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import itertools
import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.helpers import ROOT, konferenco

ATTENDEES = 20_000
RECORDS = 50_000  # one device's offline log (sharded by sync.shards.SHARD_RECORDS)
HANDSHAKES = 4  # a device's shards in their first exchange at once (sync.client.SyncClient.handshakes)
BATCH = 500  # appends per transaction: pycrdt's memory per transaction grows with the square of its inserts
GATE = "north"
SCAN_TIMEOUT_S = 10.0
KEEP_ALIVE_S = 2.0  # the door reuses a connection idle for less than this (uvicorn keeps one 5 s)
DB_FILE = "appliance.db"


# --- the appliance ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Badge:
    attendee_id: str
    code: str
    day_pass: bool


@dataclass(frozen=True)
class Seeded:
    """A seeded demo data directory and what the door and the peers need to talk to it."""

    data: Path
    event: str
    badges: list[Badge] = field(repr=False)
    door_token: str = field(repr=False)

    @property
    def door_codes(self) -> list[str]:
        """Codes the door admits on any day (day passes are valid on one day of three only)."""
        return [b.code for b in self.badges if not b.day_pass]


def seed(data: Path, event: str = "demo", attendees: int = ATTENDEES) -> Seeded:
    """``demo seed``, ``appliance badges`` and a door token, with the real CLI."""
    konferenco("demo", "seed", "--data", str(data), "--event", event, "--attendees", str(attendees))
    exported = data.parent / f"{data.name}-badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(exported))
    with exported.open(newline="", encoding="utf-8") as f:
        badges = [
            Badge(row["attendee_id"], row["badge_code"], row["ticket_type"] == "Day pass")
            for row in csv.DictReader(f)
        ]
    door = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door", "--name", "door")
    return Seeded(data, event, badges, door.stdout.strip())


def device_token(data: Path, device: str) -> str:
    """A device-role peer token for ``device`` (it may write that device's logs), as the box issues it."""
    out = konferenco(
        "appliance", "peer-token", "--data", str(data), "--role", "device",
        "--peer-id", device, "--device-id", device,
    )  # fmt: skip
    return out.stdout.strip()


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB, from /proc/PID/status."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def projected_rows(db: Path, docs: Sequence[str]) -> int:
    """``checkin`` rows of these documents, read from the appliance's database read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
        sql = f"SELECT count(*) FROM checkin WHERE doc IN ({','.join('?' * len(docs))})"
        return int(conn.execute(sql, list(docs)).fetchone()[0])


# --- other devices' logs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """One document of a device log as one v1 update, and the state vector a replica holding it reports."""

    name: str
    state_vector: dict[int, int]
    update: bytes = field(repr=False)


@dataclass(frozen=True)
class DeviceLogUpdate:
    """A whole device log, sharded as the device's replica shards it (:mod:`sync.shards`)."""

    device: str
    records: int
    shards: tuple[Shard, ...]

    @property
    def names(self) -> list[str]:
        return [shard.name for shard in self.shards]


def build_log(
    event: str, device: str, badges: Sequence[Badge], records: int = RECORDS, seed: int = 0
) -> DeviceLogUpdate:
    """``records`` scans another door made offline at gates of this event, for its attendees.

    Shaped like the appliance's own scans: the signed badge code, the attendee,
    list ``main``, a north or south gate, nine in ten admitted, one scan a
    second or so over the last hours; a new shard every
    :data:`~sync.shards.SHARD_RECORDS` records, as the device's replica does.
    """
    from pycrdt import Doc

    from sync.documents import DeviceLog, checked
    from sync.names import DocName
    from sync.protocol import decode_state_vector
    from sync.records import DeviceRecord, Scan
    from sync.shards import SHARD_RECORDS

    rng = random.Random(seed)
    shards: list[Shard] = []
    doc: Doc[Any] = Doc()
    log = DeviceLog(doc)

    def close_shard() -> None:
        name = str(DocName.device(event, device, len(shards)))
        shards.append(Shard(name, decode_state_vector(doc.get_state()), doc.get_update()))

    start = int(time.time() * 1000) - records * 1000
    for first in range(0, records, BATCH):
        if first and first % SHARD_RECORDS == 0:
            close_shard()
            doc = Doc()
            log = DeviceLog(doc)
        values = []
        for i in range(first, min(records, first + BATCH, (first // SHARD_RECORDS + 1) * SHARD_RECORDS)):
            badge = badges[rng.randrange(len(badges))]
            scan = Scan(
                at=start + i * 1000 + rng.randrange(1000),
                nonce=f"{device}-{i}",
                gate=rng.choice(("north", "south")),
                result="admitted" if rng.random() < 0.9 else "already_admitted",
                code=badge.code,
                attendee_id=badge.attendee_id,
                list_id="main",
            )
            values.append(checked(scan, DeviceRecord))
        with doc.transaction():
            log.extend_checked(values)
    close_shard()
    return DeviceLogUpdate(device, records, tuple(shards))


def build_logs(
    event: str, devices: Sequence[str], badges: Sequence[Badge], records: int = RECORDS
) -> list[DeviceLogUpdate]:
    """:func:`build_log` for each device, two processes at a time (~2 s and ~150 MB each)."""
    if len(devices) == 1:
        return [build_log(event, devices[0], badges, records, seed=0)]
    with ProcessPoolExecutor(max_workers=min(2, len(devices))) as pool:
        jobs = [pool.submit(build_log, event, d, badges, records, i) for i, d in enumerate(devices)]
        return [job.result() for job in jobs]


# --- pushing logs as device peers ---------------------------------------------------------------


@dataclass(frozen=True)
class CatchUp:
    """One catch-up: when the pushes started, when each was acknowledged, when all were projected."""

    started: float
    acked: tuple[float, ...]
    projected: float
    records: int

    @property
    def seconds(self) -> float:
        return self.projected - self.started

    @property
    def acked_seconds(self) -> float:
        return max(self.acked) - self.started


async def _push(url: str, log: Shard, token: str, hold: asyncio.Event, slots: asyncio.Semaphore) -> float:
    """Connect as the device, answer the box's Step 1 with the whole shard, and wait for the ack.

    The ack is a Step 1 from the box whose state vector covers the shard. As
    :class:`sync.client.SyncClient` does, a device has a few shards in their
    first exchange at a time (``slots``), each until it is acknowledged. The
    connection stays open (as a device's would) until ``hold`` is set. Returns
    when the shard was acknowledged.
    """
    from websockets.asyncio.client import connect

    from sync.protocol import (
        DEFAULT_MAX_MESSAGE,
        SyncMessage,
        SyncType,
        decode,
        decode_state_vector,
        encode_state_vector,
        step1,
        step2,
    )

    ws_url = url.replace("http://", "ws://", 1) + f"/sync/{log.name}"
    await slots.acquire()
    released = False
    try:
        async with connect(
            ws_url,
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=DEFAULT_MAX_MESSAGE + 64,
            open_timeout=30,
            ping_interval=None,  # a stalled box must not end the push: the stall is what is measured
        ) as ws:
            await ws.send(step1(encode_state_vector(log.state_vector)))
            pushed = False
            while True:
                frame = await ws.recv()
                if isinstance(frame, str):
                    raise RuntimeError(f"{log.name}: a text frame from the box")
                message = decode(frame, DEFAULT_MAX_MESSAGE + 64)
                if not (isinstance(message, SyncMessage) and message.kind == SyncType.STEP1):
                    continue
                theirs = decode_state_vector(message.payload)
                if all(theirs.get(client, 0) >= clock for client, clock in log.state_vector.items()):
                    acked = time.monotonic()
                    slots.release()
                    released = True
                    break
                if not pushed:  # the box's first Step 1: answer with what it lacks, the whole shard
                    await ws.send(step2(log.update))
                    pushed = True
            await hold.wait()
            return acked
    finally:
        if not released:
            slots.release()


async def catch_up(
    url: str, db: Path, logs: Sequence[DeviceLogUpdate], tokens: dict[str, str], limit_s: float
) -> CatchUp:
    """Push ``logs`` at once, one device peer each; return when every scan of them is in ``checkin``.

    Polls the appliance's database read-only every 50 ms (the count of
    ``checkin`` rows of these documents). Raises ``TimeoutError`` after
    ``limit_s`` seconds, or the first push's error.
    """
    docs = [name for log in logs for name in log.names]
    expected = sum(log.records for log in logs)
    hold = asyncio.Event()
    started = time.monotonic()
    # Every shard at once, each on its own WebSocket, as a device's sync client does.
    slots = {log.device: asyncio.Semaphore(HANDSHAKES) for log in logs}
    pushes = [
        asyncio.create_task(_push(url, shard, tokens[log.device], hold, slots[log.device]))
        for log in logs
        for shard in log.shards
    ]
    try:
        while True:
            for task in pushes:
                if task.done() and task.exception() is not None:
                    raise RuntimeError(f"a push failed: {task.exception()!r}")
            rows = await asyncio.to_thread(projected_rows, db, docs)
            if rows >= expected:
                projected = time.monotonic()
                break
            if time.monotonic() - started > limit_s:
                raise TimeoutError(f"{rows:,} of {expected:,} pushed scans projected after {limit_s:.0f} s")
            await asyncio.sleep(0.05)
        hold.set()
        async with asyncio.timeout(30):
            acked = await asyncio.gather(*pushes)
    finally:
        for task in pushes:
            task.cancel()
        await asyncio.gather(*pushes, return_exceptions=True)
    return CatchUp(started, tuple(acked), projected, expected)


# --- the door: an open-loop load generator --------------------------------------------------------


@dataclass(frozen=True)
class DoorConfig:
    port: int
    token: str
    codes_file: str  # one badge code per line
    rate: float  # scans per second, scheduled whatever the answers
    connections: int  # at most this many keep-alive connections (a scan waits for a free one)
    timeout: float = SCAN_TIMEOUT_S  # from the scheduled time
    gate: str = GATE
    run_id: str = "door"


@dataclass(frozen=True)
class DoorScan:
    """One scheduled scan: when it was due, when its answer came (None: none), and what it was."""

    scheduled: float
    answered: float | None
    outcome: str  # "ok", "http NNN", "timeout" or "error: ..."
    result: str = ""  # the door's result for "ok"

    @property
    def latency_ms(self) -> float | None:
        return None if self.answered is None else (self.answered - self.scheduled) * 1000


async def _door(cfg: DoorConfig, codes: list[str], stop: asyncio.Event) -> list[DoorScan]:
    head = (
        f"POST /api/v1/scans HTTP/1.1\r\nHost: 127.0.0.1:{cfg.port}\r\n"
        f"Authorization: Bearer {cfg.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: {}\r\n\r\n"
    )
    length = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")
    slots = asyncio.Semaphore(cfg.connections)
    # Idle keep-alive connections, the last used on top, with when they were last used. One idle
    # for longer than KEEP_ALIVE_S is closed rather than reused: uvicorn closes it after 5 s, and a
    # request racing that close would fail for the load generator's sake, not the server's.
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    scans: list[DoorScan] = []
    loop = asyncio.get_running_loop()

    async def scan(i: int, due: float) -> None:
        n, rnd = i % len(codes), i // len(codes)
        body = json.dumps(
            {
                "code": codes[n],
                "nonce": f"{cfg.run_id}-{i}",
                "gate": cfg.gate,
                "direction": "entry" if rnd % 2 == 0 else "exit",
            }
        ).encode()
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            async with asyncio.timeout_at(loop.time() + due + cfg.timeout - time.monotonic()), slots:
                try:
                    while idle and conn is None:
                        reader, writer, used = idle.pop()
                        if time.monotonic() - used < KEEP_ALIVE_S and not reader.at_eof():
                            conn = reader, writer
                        else:
                            writer.close()
                    if conn is None:
                        conn = await asyncio.open_connection("127.0.0.1", cfg.port)
                    reader, writer = conn
                    writer.write(head.format(len(body)).encode() + body)
                    header = await reader.readuntil(b"\r\n\r\n")
                    found = length.search(header)
                    if found is None:
                        raise RuntimeError(f"no Content-Length in {header[:200]!r}")
                    payload = await reader.readexactly(int(found.group(1)))
                    answered = time.monotonic()
                    idle.append((reader, writer, answered))
                    conn = None
                finally:
                    if conn is not None:  # its answer never came or broke off: no use for another scan
                        conn[1].close()
            status = int(header[9:12])
            if status == 200:
                scans.append(DoorScan(due, answered, "ok", str(json.loads(payload)["result"])))
            else:
                text = payload[:200].decode(errors="replace")
                scans.append(DoorScan(due, answered, f"http {status}", text))
        except TimeoutError:
            scans.append(DoorScan(due, None, "timeout"))
        except Exception as exc:
            scans.append(DoorScan(due, None, f"error: {type(exc).__name__}: {exc}"[:200]))

    tasks: set[asyncio.Task[None]] = set()
    t0 = time.monotonic() + 0.05
    for i in itertools.count():
        due = t0 + i / cfg.rate
        delay = due - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
        if stop.is_set():
            break
        task = asyncio.create_task(scan(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    for _, writer, _ in idle:
        writer.close()
    return sorted(scans, key=lambda s: s.scheduled)


def door_main(config: str) -> None:
    """The load generator's process: scan until ``stop`` on stdin, then print every scan."""
    cfg = DoorConfig(**json.loads(config))
    codes = [c for c in Path(cfg.codes_file).read_text().split("\n") if c]

    async def main() -> list[DoorScan]:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def read_stdin() -> None:
            for line in sys.stdin:
                if line.strip() == "stop":
                    break
            loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
        print(json.dumps({"event": "ready", "t": time.monotonic()}), flush=True)
        return await _door(cfg, codes, stop)

    try:
        import uvloop
    except ImportError:
        scans = asyncio.run(main())
    else:
        scans = uvloop.run(main())
    # The event loop may leave stdout non-blocking; then a write of this one long line into a full
    # pipe stops at 64 KiB and the parent reads half a JSON document (seen: "char 65536").
    os.set_blocking(sys.stdout.fileno(), True)
    print(json.dumps({"event": "done", "scans": [asdict(s) for s in scans]}), flush=True)


class DoorLoad:
    """The load generator as a child process (its own interpreter: it shares no GIL with the pushes)."""

    def __init__(self, cfg: DoorConfig, log: Path) -> None:
        self.cfg = cfg
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.started = 0.0

    def start(self) -> DoorLoad:
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.catchup", "door", json.dumps(asdict(self.cfg))],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"the door load generator exited: {self.log.read_text()[-2000:]}")
        self.started = float(json.loads(line)["t"])
        return self

    def stop(self) -> list[DoorScan]:
        """Stop scheduling scans; every scan scheduled so far, once answered or timed out."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        out, _ = self.proc.communicate(timeout=self.cfg.timeout + 60)
        if self.proc.returncode != 0:
            raise RuntimeError(f"the door load generator failed: {self.log.read_text()[-2000:]}")
        raw = json.loads(out.strip().splitlines()[-1])
        return [DoorScan(**s) for s in raw["scans"]]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # by PID: the process this object started
            self.proc.wait(timeout=10)


# --- what the door saw ------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100), as :func:`bench.common.percentile`."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class DoorFigures:
    """The door's scans scheduled in one window of time."""

    scans: int
    p50_ms: float
    p99_ms: float
    max_ms: float  # of answered scans; a timed-out one counts as the timeout
    longest_gap_ms: float  # the longest time in the window in which no scan was answered
    errors: int
    timeouts: int
    results: dict[str, int]  # the door's answers to the scans answered 200
    failure_kinds: dict[str, int]  # "timeout", "http 503 ...", "error: ..." and how many

    @property
    def failures(self) -> int:
        return self.errors + self.timeouts


def summarise(
    scans: Sequence[DoorScan], start: float, end: float, timeout: float = SCAN_TIMEOUT_S
) -> DoorFigures:
    """Figures of the scans scheduled in [start, end).

    Latency is from the scheduled time to the answer; a scan with no answer
    counts as ``timeout`` in the percentiles. The longest gap runs between
    consecutive answers (any status) inside the window, its edges included.
    """
    window = [s for s in scans if start <= s.scheduled < end]
    if not window:
        raise ValueError("no scans in the window")
    latencies = [s.latency_ms if s.latency_ms is not None else timeout * 1000 for s in window]
    answers = sorted(s.answered for s in scans if s.answered is not None and start <= s.answered < end)
    edges = [start, *answers, end]
    gap = max(b - a for a, b in itertools.pairwise(edges))
    failed = [s for s in window if s.outcome != "ok"]
    return DoorFigures(
        scans=len(window),
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99),
        max_ms=max(latencies),
        longest_gap_ms=gap * 1000,
        errors=sum(s.outcome not in ("ok", "timeout") for s in window),
        timeouts=sum(s.outcome == "timeout" for s in window),
        results=dict(Counter(s.result for s in window if s.outcome == "ok")),
        failure_kinds=dict(Counter(f"{s.outcome} {s.result}".strip()[:120] for s in failed)),
    )


def write_codes(path: Path, codes: Sequence[str]) -> Path:
    path.write_text("\n".join(codes) + "\n")
    return path


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "door":
        sys.exit("usage: python -m tests.catchup door CONFIG_JSON")
    door_main(sys.argv[2])
