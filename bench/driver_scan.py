"""Scan event to decision through a driver, versus the same scan over ``POST /api/v1/scans``.

"Scan event to decision through a driver: ≤ 5 ms median on top of the API
path." (issue #5)

Preparation (not timed): ``konferenco demo seed`` with 2,000 attendees, their
badge codes exported, a door token, and a serial scanner added with
``konferenco appliance devices add --kind serial --set port=<symlink>``.

Per repetition: a fresh copy of the seeded data directory, a new pty pair
(the symlink re-pointed at its slave), and ``konferenco appliance serve``
started with its output on a pipe.  Then, one scan at a time, each badge a
distinct attendee, the three paths take turns so that drift on a shared
machine touches them alike:

- driver: the badge code and CR LF written to the pty master, as a serial
  scanner sends it; done when the appliance's log line for that scan
  (``<source> at <gate>: <result> (…)``, written by ``appliance.checkin.door``
  after the scan is decided and recorded) arrives on the pipe.  The pipe is
  watched with ``poll()`` in this thread, so no polling interval and no
  thread hand-off sit in the measurement;
- API: ``POST /api/v1/scans`` with httpx (one keep-alive client), request to
  response, as the brief asks;
- API, lean client: the same request over a raw keep-alive socket, to show
  how much of the API figure is httpx's own work on the client side.

Afterwards the database must hold every scan, admitted, by the right staff
(the scanner's device id, the token's staff id).  In this process, the
serial driver alone (pty write → its sink called) is timed too, to say how
much of the driver path the driver itself costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import tty
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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

ATTENDEES = 2_000
GATE = "north"
DEVICE = "bench-scanner"
WARMUP = 30  # per path, per repetition, not measured
SCANS = 300  # per path, per repetition
DRIVER_ONLY_SCANS = 300
TARGET_OVERHEAD_MS = 5.0
DECISION_TIMEOUT_S = 10.0


# --- preparation -------------------------------------------------------------------------


@dataclass
class Prepared:
    root: Path
    template: Path  # seeded data directory with the scanner configured, copied per repetition
    port: Path  # the symlink the scanner is configured with; points at each repetition's pty slave
    codes: list[str] = field(repr=False)
    token: str = field(repr=False)


def prepare(root: Path) -> Prepared:
    template = root / "template"
    port = root / "ttyScanner"
    konferenco("demo", "seed", "--data", str(template), "--event", EVENT, "--attendees", str(ATTENDEES))
    konferenco(
        "appliance", "devices", "add", "--data", str(template), "--id", DEVICE, "--domain", "scanner",
        "--kind", "serial", "--name", "Bench scanner", "--gate", GATE, "--set", f"port={port}",
    )  # fmt: skip
    exported = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(template), "--out", str(exported))
    with exported.open(newline="", encoding="utf-8") as f:
        # Day passes are valid on one day only: left out, so every scan is an admission and a write.
        codes = [row["badge_code"] for row in csv.DictReader(f) if row["ticket_type"] != "Day pass"]
    token = konferenco(
        "appliance", "issue-token", "--data", str(template), "--role", "door", "--name", "bench"
    ).strip()
    return Prepared(root, template, port, codes, token)


# --- the server and its log ----------------------------------------------------------------


class LogStream:
    """The server's output read as it is written: ``poll()`` then a non-blocking read, lines timestamped.

    A line's time is when ``poll()`` said the bytes were there (``perf_counter_ns``),
    so the only cost between the server's ``write()`` and our clock is a pipe
    and one wake-up of this thread.
    """

    def __init__(self, fd: int) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)
        self._partial = b""
        self.tail: deque[str] = deque(maxlen=40)

    def _read(self, timeout_ms: int) -> list[tuple[int, str]]:
        if not self._poll.poll(timeout_ms):
            return []
        at = time.perf_counter_ns()
        try:
            data = os.read(self._fd, 1 << 16)
        except BlockingIOError:
            return []
        if not data:
            raise RuntimeError("the server closed its output:\n" + "\n".join(self.tail))
        *complete, self._partial = (self._partial + data).split(b"\n")
        lines = [line.decode("utf-8", "replace") for line in complete]
        self.tail.extend(lines)
        return [(at, line) for line in lines]

    def drain(self) -> None:
        """Read whatever is there now, so that an old line cannot be taken for the next answer."""
        while self._read(0):
            pass

    def wait_for(self, wanted: Callable[[str], bool], timeout_s: float) -> tuple[int, str]:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            for at, line in self._read(max(1, int(left * 1000))):
                if wanted(line):
                    return at, line
        raise TimeoutError(f"no matching log line within {timeout_s} s:\n" + "\n".join(self.tail))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``konferenco appliance serve`` as a child process, its output (stdout and stderr) on a pipe."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log: LogStream | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        # Text log lines whatever KONFERENCO_LOG_FORMAT says: the driver path ends at one of them.
        args = [
            "--log-format",
            "text",
            "appliance",
            "serve",
            "--data",
            str(self.data),
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(
            [*konferenco_command(), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.proc.stdout is not None
        self.log = LogStream(self.proc.stdout.fileno())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self.log.drain()
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}: " + "\n".join(self.log.tail)
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise TimeoutError("the server was not healthy after 60 s: " + "\n".join(self.log.tail))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by PID: the server this object started
                self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the three paths -------------------------------------------------------------------------


class RawClient:
    """``POST /api/v1/scans`` over one keep-alive socket with no HTTP library: the lean API baseline."""

    def __init__(self, port: int, token: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")
        self.head = (
            f"POST /api/v1/scans HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: "
        ).encode()

    def scan(self, body: bytes) -> tuple[int, bytes]:
        self.sock.sendall(self.head + str(len(body)).encode() + b"\r\n\r\n" + body)
        status = int(self.file.readline()[9:12])
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, self.file.read(length)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@dataclass
class Paths:
    """Per-scan latencies (ms) of one repetition, and what the appliance answered."""

    driver: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)


_DECIDED = re.compile(r" appliance\.checkin\.door: (?P<source>\S+) at (?P<gate>\S+): (?P<result>\w+) ")


def measure(prepared: Prepared, data: Path, scans: int) -> Paths:
    """One server, ``scans`` measured scans on each path after ``WARMUP`` each (module docstring)."""
    if len(prepared.codes) < 3 * (WARMUP + scans):
        raise RuntimeError(f"only {len(prepared.codes)} badges for {3 * (WARMUP + scans)} scans")
    shutil.copytree(prepared.template, data)
    master, slave = os.openpty()
    tty.setraw(slave)
    prepared.port.unlink(missing_ok=True)
    prepared.port.symlink_to(os.ttyname(slave))
    source = f"serial:{prepared.port}"
    out = Paths()
    try:
        with (
            Server(data) as server,
            httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {prepared.token}"}, timeout=10
            ) as client,
        ):
            assert server.log is not None
            log = server.log
            _wait_connected(client, log)
            raw = RawClient(server.port, prepared.token)
            try:
                codes = iter(prepared.codes)
                for i in range(WARMUP + scans):
                    keep = i >= WARMUP
                    # The driver: bytes on the serial line → the appliance's log line for that scan.
                    log.drain()
                    t0 = time.perf_counter_ns()
                    os.write(master, next(codes).encode() + b"\r\n")
                    at, line = log.wait_for(
                        lambda text: (m := _DECIDED.search(text)) is not None and m["source"] == source,
                        DECISION_TIMEOUT_S,
                    )
                    decided = _DECIDED.search(line)
                    assert decided is not None
                    _count(out, "driver", decided["result"], keep, (at - t0) / 1e6, out.driver)
                    # The API, with httpx.
                    body = _body(next(codes), f"api-{i}")
                    t0 = time.perf_counter_ns()
                    response = client.post("/api/v1/scans", content=body)
                    t1 = time.perf_counter_ns()
                    if response.status_code != 200:
                        raise RuntimeError(f"API scan {i}: {response.status_code} {response.text}")
                    _count(out, "api", response.json()["result"], keep, (t1 - t0) / 1e6, out.api)
                    # The API, with a raw socket.
                    body = _body(next(codes), f"raw-{i}")
                    t0 = time.perf_counter_ns()
                    status, payload = raw.scan(body)
                    t1 = time.perf_counter_ns()
                    if status != 200:
                        raise RuntimeError(f"raw API scan {i}: {status} {payload[:300]!r}")
                    _count(out, "raw", json.loads(payload)["result"], keep, (t1 - t0) / 1e6, out.raw)
            finally:
                raw.close()
        _check_recorded(data, prepared, WARMUP + scans)
    finally:
        os.close(master)
        os.close(slave)
        shutil.rmtree(data, ignore_errors=True)
    return out


def _body(code: str, nonce: str) -> bytes:
    return json.dumps({"code": code, "nonce": f"{os.getpid()}-{nonce}", "gate": GATE}).encode()


def _count(out: Paths, path: str, result: str, keep: bool, ms: float, into: list[float]) -> None:
    if result != "admitted":
        raise RuntimeError(f"a {path} scan was {result}, not admitted: the paths would not compare")
    out.results[f"{path} {result}"] += 1
    if keep:
        into.append(ms)


def _wait_connected(client: httpx.Client, log: LogStream) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        log.drain()
        devices = {d["id"]: d for d in client.get("/api/v1/devices").raise_for_status().json()}
        state = devices[DEVICE]["state"]
        if state["state"] == "connected":
            return
        time.sleep(0.05)
    raise TimeoutError(f"the scanner did not connect: {state}")


def _check_recorded(data: Path, prepared: Prepared, per_path: int) -> None:
    """Every scan, on every path, is in the database as an admission by the right staff."""
    conn = sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True)
    try:
        rows = dict(
            conn.execute(
                "SELECT staff, count(*) FROM checkin WHERE result = 'admitted' AND gate = ? GROUP BY staff",
                (GATE,),
            ).fetchall()
        )
    finally:
        conn.close()
    if rows.get(DEVICE) != per_path or rows.get("token-bench") != 2 * per_path:
        raise RuntimeError(f"recorded admissions by staff {rows}, expected {per_path} / {2 * per_path}")


# --- the driver alone, in this process -------------------------------------------------------


async def _driver_only(codes: list[str]) -> list[float]:
    """pty write → ``SerialScanner``'s sink called, in this process: what the driver itself costs (ms)."""
    from drivers.base import ScanEvent
    from drivers.scanner import SerialScanner

    master, slave = os.openpty()
    tty.setraw(slave)
    got = asyncio.Event()

    async def sink(event: ScanEvent) -> None:
        got.set()

    scanner = SerialScanner(sink, port=os.ttyname(slave), debounce_ms=0)
    await scanner.connect()
    latencies: list[float] = []
    try:
        for i, code in enumerate(codes):
            got.clear()
            t0 = time.perf_counter_ns()
            os.write(master, code.encode() + b"\r\n")
            await asyncio.wait_for(got.wait(), DECISION_TIMEOUT_S)
            if i >= WARMUP:
                latencies.append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        await scanner.disconnect()
        os.close(master)
        os.close(slave)
    return latencies


def driver_only(codes: list[str]) -> list[float]:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(_driver_only(codes))
    return uvloop.run(_driver_only(codes))


# --- the report ------------------------------------------------------------------------------


def _fmt(ms: float) -> str:
    return f"{ms:.2f}"


def run(repetitions: int = 3, scans: int = SCANS) -> BenchResult:
    """``scans`` measured scans per path in each of ``repetitions`` server runs (module docstring)."""
    runs: list[Paths] = []
    alone: list[list[float]] = []
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-driver-") as tmp:
        progress(f"seeding {ATTENDEES:,} attendees, a serial scanner, badges, a token")
        prepared = prepare(Path(tmp))
        for rep in range(repetitions):
            progress(f"repetition {rep + 1}/{repetitions}: {scans} scans per path after {WARMUP} warm-up")
            runs.append(measure(prepared, Path(tmp) / f"rep-{rep}", scans))
            alone.append(driver_only(prepared.codes[: WARMUP + DRIVER_ONLY_SCANS]))
            r = runs[-1]
            progress(
                f"driver p50 {percentile(r.driver, 50):.2f} ms, API (httpx) p50 {percentile(r.api, 50):.2f} "
                f"ms, API (raw socket) p50 {percentile(r.raw, 50):.2f} ms, driver alone p50 "
                f"{percentile(alone[-1], 50) * 1000:.0f} µs"
            )

    def series(pick: Callable[[Paths], list[float]], q: float) -> Series:
        return Series.of([percentile(pick(r), q) for r in runs], "ms")

    driver50, driver90 = series(lambda r: r.driver, 50), series(lambda r: r.driver, 90)
    api50, api90 = series(lambda r: r.api, 50), series(lambda r: r.api, 90)
    raw50 = series(lambda r: r.raw, 50)
    overhead = Series.of([d - a for d, a in zip(driver50.values, api50.values, strict=True)], "ms")
    overhead_raw = Series.of([d - a for d, a in zip(driver50.values, raw50.values, strict=True)], "ms")
    alone50 = Series.of([percentile(a, 50) * 1000 for a in alone], "µs")
    target = f"≤ API + {TARGET_OVERHEAD_MS:.0f} ms"
    rows = [
        Row("Scan to decision through the serial driver, p50", driver50, api50, "API, httpx", target),
        Row("Scan to decision through the serial driver, p90", driver90, api90, "API, httpx"),
        Row("API path `POST /api/v1/scans`, raw socket client, p50", raw50),
        Row(
            "Driver overhead: driver p50 - API (httpx) p50",
            overhead,
            target=f"≤ {TARGET_OVERHEAD_MS:.0f} ms",
        ),
        Row("Driver overhead: driver p50 - API (raw socket) p50", overhead_raw),
        Row("The serial driver alone (pty write → its sink), p50", alone50),
    ]
    verdicts = [
        Verdict(
            f"Scan event to decision through a driver: ≤ {TARGET_OVERHEAD_MS:.0f} ms median on top of the "
            "API path",
            f"driver {driver50.median:.2f} ms vs API {api50.median:.2f} ms (httpx) / {raw50.median:.2f} ms "
            f"(raw socket): {overhead.median:+.2f} / {overhead_raw.median:+.2f} ms",
            max(overhead.median, overhead_raw.median) <= TARGET_OVERHEAD_MS,
        )
    ]
    per_rep = tuple(
        (
            str(i + 1),
            f"{_fmt(percentile(r.driver, 50))} / {_fmt(percentile(r.driver, 90))} / {_fmt(max(r.driver))}",
            f"{_fmt(percentile(r.api, 50))} / {_fmt(percentile(r.api, 90))} / {_fmt(max(r.api))}",
            f"{_fmt(percentile(r.raw, 50))} / {_fmt(percentile(r.raw, 90))} / {_fmt(max(r.raw))}",
            f"{percentile(r.driver, 50) - percentile(r.api, 50):+.2f}",
            f"{percentile(r.driver, 50) / percentile(r.api, 50):.2f}x",
            f"{percentile(a, 50) * 1000:.0f} / {percentile(a, 90) * 1000:.0f}",
        )
        for i, (r, a) in enumerate(zip(runs, alone, strict=True))
    )
    details = [
        Table(
            "Per repetition (ms unless said; p50 / p90 / max)",
            (
                "repetition",
                "driver path",
                "API, httpx",
                "API, raw socket",
                "driver - API httpx (p50)",
                "driver / API httpx (p50)",
                "driver alone p50 / p90 (µs)",
            ),
            per_rep,
        )
    ]
    mix: Counter[str] = Counter()
    for r in runs:
        mix.update(r.results)
    notes = [
        "Every scan was admitted and is in the database with the right staff (warm-up included): "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(mix.items()))
        + ".",
        "The driver path's end is the appliance's INFO log line for that scan (`appliance.checkin.door`, "
        "written after `Door.scan` returned, i.e. after the durable write), read from the server's "
        "stdout pipe with `poll()`; it includes formatting and writing that line and one pipe hop, which "
        "the API path does not pay (access log off, the default). The API path's end is the last byte of "
        "the HTTP response; it includes the HTTP client's own work.",
        f"{os.cpu_count()} cores, shared by the server, this process and other work on the machine; "
        "SQLite `synchronous=FULL` (the default), so each scan's durable write is an fsync on the "
        "temporary directory's filesystem.",
        f"The driver alone: `SerialScanner` on a fresh pty in this process (uvloop), debounce off, "
        f"{DRIVER_ONLY_SCANS} codes after {WARMUP} warm-up; from `os.write` on the master to the sink "
        "being called (pyserial's tty set-up, the loop's `add_reader`, line splitting, the ScanEvent).",
    ]
    return BenchResult(
        title="Scan to decision through a driver vs the API path",
        method=(
            f"`konferenco appliance serve` (demo event, {ATTENDEES:,} attendees) with a serial scanner "
            "configured on a pty (`appliance devices add --kind serial --set port=<symlink to the pty "
            f"slave>`), a fresh copy of the data directory per repetition. Per repetition {scans} "
            f"sequential scans on each path after {WARMUP} warm-up, paths taking turns scan by scan, each "
            "scan a distinct attendee (no day passes, so every scan is an admission and a write). Driver "
            "path: badge code + CR LF written to the pty master → the appliance's log line for that scan "
            "read from its stdout pipe. API path: `POST /api/v1/scans` with a door token, request → "
            "response, with httpx (keep-alive) and with a raw keep-alive socket. Overhead = driver p50 - "
            "API p50 within a repetition; ratio = driver p50 / API p50."
        ),
        repetitions=repetitions,
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def main() -> None:
    import argparse

    from bench.run import render_result

    parser = argparse.ArgumentParser(description="Scan to decision through a driver vs the API path.")
    parser.add_argument("--quick", action="store_true", help="one repetition")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    result = run(1 if args.quick else args.repetitions)
    print("\n".join(render_result(result)))


if __name__ == "__main__":
    main()
