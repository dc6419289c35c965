"""Sync convergence: four offline devices meet through a hub (the issue's main benchmark).

"Four devices each with 50,000 scan records made offline, then all sync
through one hub-like peer on loopback: time to full convergence, bytes
sent, peak RSS; plus the floor measured in the same run: inserting the same
200,000 rows into SQLite in one transaction.  Target: convergence ≤ 3 s and
≤ 3x the floor."

Preparation (not timed) writes each device's log as a device does: through
``Replica.log``, :data:`CHUNK` scans at a time (which the replica stores as
append batches of up to ``MAX_LOG_BATCH``), so the replica picks the shard
(``Replica.device_log``) and rolls over to the next every
:data:`~sync.shards.SHARD_RECORDS` records: 25 documents of 2,000 per device.
Each repetition then copies those directories, starts the hub
(``bench.hub_peer``, uvicorn) and four device processes
(``bench.device_peer``), waits until every device has loaded its replica,
and starts the clock when it tells them all to connect.  Each process
reports when every document matches its expected state vector and record
count, then when its ``sync_record`` table holds all 200,000 rows.

Also runnable alone, with cProfile in every process:
``python -m bench.sync_convergence --profile DIR`` (``--discover``: the
devices learn the documents from ``GET /sync`` instead of being given them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pstats
import queue
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench import receive_cost
from bench.common import EVENT, BenchResult, Row, Series, Table, Verdict, progress, scan_fields
from bench.peer_common import DB_FILE, Expected
from sync.documents import DeviceLog
from sync.names import DocName
from sync.permissions import PeerIdentity, Role
from sync.projection import SCHEMA as RECORD_SCHEMA
from sync.projection import RecordProjection
from sync.protocol import DEFAULT_MAX_MESSAGE, decode_state_vector
from sync.records import Scan
from sync.replica import Replica
from sync.shards import SHARD_RECORDS
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import connect, execute_script
from sync.tokens import TokenSigner

ROOT = Path(__file__).resolve().parent.parent
DEVICES = ("dev1", "dev2", "dev3", "dev4")
RECORDS = 50_000
# Scans logged concurrently per preparation step (``Replica.log`` stores them in batches of at most
# MAX_LOG_BATCH, each one small transaction: in pycrdt 0.14.13 the memory of one transaction grows
# with the square of its inserts).  A step never crosses a shard boundary, so the replica's count of
# the current shard is up to date when it picks the shard of the next step.
CHUNK = 500
TIMEOUT = 300.0
TARGET_S = 3.0
TARGET_FLOOR_RATIO = 3.0
PROCESSES = ("hub", *DEVICES)
# Device logs received in a run: the hub gets all 4, each device the other 3.
_RECEIVED_LOGS = len(DEVICES) + len(DEVICES) * (len(DEVICES) - 1)


# --- preparation -------------------------------------------------------------------------


@dataclass(frozen=True)
class _PreparedShard:
    name: str
    state_vector: dict[int, int]
    records: int
    update: bytes = field(repr=False)  # the whole shard as one v1 update (what its Step 2 carries)


async def _prepare_device(data: Path, device: str, seed: int, shard_records: int) -> list[_PreparedShard]:
    replica = Replica(
        SQLiteUpdateStore(data / DB_FILE, projector=RecordProjection(), synchronous="NORMAL"),
        shard_records=shard_records,
    )
    await replica.start()
    rng = random.Random(seed)
    try:
        written = 0
        while written < RECORDS:
            n = min(CHUNK, shard_records - written % shard_records, RECORDS - written)
            scans = [Scan(**scan_fields(device, i, rng)) for i in range(written, written + n)]
            await asyncio.gather(*(replica.log(EVENT, device, scan) for scan in scans))
            written += n
        shards = []
        for name in replica.shards.names(EVENT, device):
            await replica.compact(name, full=True)
            shards.append(
                _PreparedShard(
                    str(name),
                    decode_state_vector(await replica.state_vector(name)),
                    await replica.read(name, lambda doc: len(DeviceLog(doc))),
                    await replica.diff(name),
                )
            )
        return shards
    finally:
        await replica.close()


def _prepare_device_sync(data: Path, device: str, seed: int, shard_records: int) -> list[_PreparedShard]:
    data.mkdir(parents=True)
    return asyncio.run(_prepare_device(data, device, seed, shard_records))


@dataclass
class Prepared:
    devices: dict[str, Path]
    expected: Expected
    shard_records: int
    updates: dict[str, bytes] = field(repr=False)  # per document: what its Step 2 carries
    rows: list[tuple[Any, ...]] = field(repr=False)  # the 200,000 projected rows, for the floor

    @property
    def shards_per_device(self) -> int:
        return len(self.updates) // len(self.devices)


def prepare(root: Path, shard_records: int = SHARD_RECORDS) -> Prepared:
    """Build the four devices' offline logs, two processes at a time (2 cores)."""
    dirs = {d: root / "prepared" / d for d in DEVICES}
    with ProcessPoolExecutor(max_workers=min(len(DEVICES), os.cpu_count() or 1)) as pool:
        futures = [
            pool.submit(_prepare_device_sync, dirs[d], d, i, shard_records) for i, d in enumerate(DEVICES)
        ]
        done = [shard for f in futures for shard in f.result(timeout=TIMEOUT)]
    # The replica must have sharded each log as a device's would: full shards, then the rest.
    want = [min(shard_records, RECORDS - first) for first in range(0, RECORDS, shard_records)]
    for device in DEVICES:
        got = [s.records for s in done if DocName.parse(s.name).device_id == device]
        if got != want:
            raise RuntimeError(f"{device}: the replica made shards of {got} records, expected {want}")
    expected = Expected({s.name: s.state_vector for s in done}, {s.name: s.records for s in done})
    rows: list[tuple[Any, ...]] = []
    for path in dirs.values():
        with contextlib.closing(sqlite3.connect(path / DB_FILE)) as conn:
            rows += conn.execute("SELECT doc, root, id, kind, at, body FROM sync_record").fetchall()
    if len(rows) != RECORDS * len(DEVICES):
        raise RuntimeError(f"preparation made {len(rows)} projected rows, expected {RECORDS * len(DEVICES)}")
    return Prepared(dirs, expected, shard_records, {s.name: s.update for s in done}, rows)


# --- the floor ---------------------------------------------------------------------------


def floor(path: Path, rows: list[tuple[Any, ...]]) -> float:
    """Seconds to insert ``rows`` into ``sync_record`` in one transaction (stdlib sqlite3)."""
    conn = connect(path, synchronous="FULL")
    try:
        execute_script(conn, RECORD_SCHEMA)
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO sync_record VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        conn.close()


# --- one convergence run -----------------------------------------------------------------


@dataclass
class Outcome:
    """One repetition: seconds from "go" per process, and each process's final stats."""

    docs_s: dict[str, float]
    projected_s: dict[str, float]
    stats: dict[str, dict[str, Any]]

    @property
    def docs_converged(self) -> float:
        return max(self.docs_s.values())

    @property
    def projected(self) -> float:
        return max(self.projected_s.values())

    def total(self, key: str) -> float:
        return float(sum(s[key] for s in self.stats.values()))


class _Peers:
    """The child processes of one run and the JSON lines they print."""

    def __init__(self, workdir: Path, profile: Path | None) -> None:
        self.workdir = workdir
        self.profile = profile
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.logs: dict[str, IO[str]] = {}
        self.events: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
        if self.profile is not None:
            full_env["BENCH_PROFILE"] = str(self.profile / f"{name}.prof")
        self.logs[name] = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 (closed in kill_all)
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=full_env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.logs[name],
        )
        self.procs[name] = proc
        threading.Thread(target=self._read, args=(name, proc), daemon=True).start()

    def _read(self, name: str, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                self.events.put((name, json.loads(line)))
            except ValueError:
                print(f"[{name}] {line.rstrip()}", file=sys.stderr)
        self.events.put((name, {"event": "exited"}))

    def tell(self, name: str, line: str) -> None:
        proc = self.procs[name]
        if proc.stdin is not None and proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                proc.stdin.write(line + "\n")
                proc.stdin.flush()

    def wait_for(self, event: str, names: list[str], deadline: float) -> dict[str, dict[str, Any]]:
        """Block until each of ``names`` printed ``event``; raise if one exits or time runs out."""
        got: dict[str, dict[str, Any]] = {}
        while len(got) < len(names):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(set(names) - set(got))
                raise TimeoutError(f"timed out waiting for {event!r} from {', '.join(missing)}")
            try:
                name, message = self.events.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if message["event"] == "exited" and name not in got:
                raise RuntimeError(f"{name} exited before {event!r}: {self.tail(name)}")
            if message["event"] == event and name in names:
                got[name] = message
        return got

    def tail(self, name: str) -> str:
        self.logs[name].flush()
        text = (self.workdir / f"{name}.log").read_text(errors="replace")
        return text[-2000:] or "(no output)"

    def stop_all(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for name, proc in self.procs.items():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                progress(f"{name} did not exit after 'stop'; killing it")

    def kill_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()  # by PID: only processes this run started
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for log in self.logs.values():
            log.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the hub never listened on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def converge_once(
    prepared: Prepared, workdir: Path, profile: Path | None = None, *, discover: bool = False
) -> Outcome:
    """Run hub + four devices from copies of the prepared data until all converge.

    ``discover``: the devices' ``SyncClient`` gets no document list and learns
    it from ``GET /sync``, as an appliance does (off for the benchmark: see the notes).
    """
    deadline = time.monotonic() + TIMEOUT
    workdir.mkdir(parents=True)
    expect = workdir / "expected.json"
    prepared.expected.dump(expect)
    (workdir / "hub").mkdir()
    for device, source in prepared.devices.items():
        shutil.copytree(source, workdir / device)
    secret = os.urandom(32)
    signer = TokenSigner(secret)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    peers = _Peers(workdir, profile)
    try:
        peers.spawn(
            "hub",
            [
                "-m",
                "bench.hub_peer",
                "--data",
                str(workdir / "hub"),
                "--port",
                str(port),
                "--expect",
                str(expect),
            ],
            {"BENCH_TOKEN_SECRET": secret.hex()},
        )
        peers.wait_for("ready", ["hub"], deadline)
        _wait_port(port, deadline)
        for device in DEVICES:
            identity = PeerIdentity(
                peer_id=f"device:{device}", role=Role.DEVICE, events=(EVENT,), device_id=device
            )
            peers.spawn(
                device,
                [
                    "-m",
                    "bench.device_peer",
                    "--data",
                    str(workdir / device),
                    "--device",
                    device,
                    "--url",
                    url,
                    "--expect",
                    str(expect),
                    *(["--discover"] if discover else []),
                ],
                {"BENCH_TOKEN": signer.issue(identity)},
            )
        peers.wait_for("ready", list(DEVICES), deadline)
        t0 = time.monotonic()
        for name in PROCESSES:
            peers.tell(name, "go")
        # Each process prints docs_converged before projected, so both are in the queue in order.
        docs: dict[str, float] = {}
        projected: dict[str, float] = {}
        while len(projected) < len(PROCESSES):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(set(PROCESSES) - set(projected))
                raise TimeoutError(
                    f"no convergence after {TIMEOUT:.0f} s; still waiting for {', '.join(missing)}"
                )
            try:
                name, message = peers.events.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if message["event"] == "exited":
                raise RuntimeError(f"{name} exited during sync: {peers.tail(name)}")
            if message["event"] == "docs_converged":
                docs[name] = message["t"] - t0
            elif message["event"] == "projected":
                projected[name] = message["t"] - t0
        for name in PROCESSES:
            peers.tell(name, "stop")
        stats = peers.wait_for("stats", list(PROCESSES), time.monotonic() + 60)
        peers.stop_all(timeout=20)
        return Outcome(docs, projected, stats)
    finally:
        peers.kill_all()


# --- the benchmark -----------------------------------------------------------------------


def _mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def run(repetitions: int = 3, step_repetitions: int = 5, shard_records: int = SHARD_RECORDS) -> BenchResult:
    """Prepare once, then per repetition measure the floor and a full convergence.

    ``step_repetitions`` is for the per-step cost table (:mod:`bench.receive_cost`);
    ``shard_records`` is the device replicas' shard size (the code's own by default).
    """
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-sync-") as tmp:
        root = Path(tmp)
        progress(
            f"sync convergence: preparing {len(DEVICES)} devices x {RECORDS:,} scans in shards of "
            f"{shard_records:,} (not timed)"
        )
        t = time.monotonic()
        prepared = prepare(root, shard_records)
        progress(f"prepared in {time.monotonic() - t:.1f} s")
        floors: list[float] = []
        outcomes: list[Outcome] = []
        for rep in range(repetitions):
            progress(
                f"floor: {len(prepared.rows):,} rows in one transaction, repetition {rep + 1}/{repetitions}"
            )
            floors.append(floor(root / f"floor-{rep}.db", prepared.rows))
            progress(f"convergence, repetition {rep + 1}/{repetitions}")
            outcome = converge_once(prepared, root / f"run-{rep}")
            progress(
                f"converged: documents {outcome.docs_converged:.2f} s, "
                f"projections {outcome.projected:.2f} s (floor {floors[-1]:.2f} s)"
            )
            outcomes.append(outcome)
            shutil.rmtree(root / f"run-{rep}", ignore_errors=True)
    progress(f"cost of each step of receiving one shard, {step_repetitions} repetitions")
    name, update = next(iter(prepared.updates.items()))  # the first device's shard 0 (a full shard)
    cpu = Series.of([o.total("cpu_s") for o in outcomes], "s").median
    steps = receive_cost.measure(
        DocName.parse(name),
        update,
        step_repetitions,
        cpu,
        scale_to=RECORDS,
        receives=_RECEIVED_LOGS * prepared.shards_per_device,
    )
    return _result(prepared, floors, outcomes, steps)


def _result(prepared: Prepared, floors: list[float], outcomes: list[Outcome], steps: Table) -> BenchResult:
    floor_s = Series.of(floors, "s")
    docs = Series.of([o.docs_converged for o in outcomes], "s")
    projected = Series.of([o.projected for o in outcomes], "s")
    floor_label = "floor: 200k rows, 1 txn"
    rows = [
        Row(
            "time until documents converged (last of 5 replicas)",
            docs,
            floor_s,
            floor_label,
            f"≤ {TARGET_S:.0f} s and ≤ {TARGET_FLOOR_RATIO:.0f}x floor",
        ),
        Row(
            "time until projections complete (last of 5 replicas)",
            projected,
            floor_s,
            floor_label,
            f"≤ {TARGET_S:.0f} s and ≤ {TARGET_FLOOR_RATIO:.0f}x floor",
        ),
        Row(
            "sync messages sent, all processes",
            Series.of([o.total("frame_bytes") / 1e6 for o in outcomes], "MB"),
        ),
        Row(
            "TCP bytes on loopback, both ways (after permessage-deflate)",
            Series.of([(o.total("wire_sent") + o.total("wire_received")) / 1e6 for o in outcomes], "MB"),
        ),
        Row(
            "peak RSS, largest process",
            Series.of([max(s["peak_rss_mb"] for s in o.stats.values()) for o in outcomes], "MB"),
        ),
        Row(
            "peak RSS, sum of the 5 processes",
            Series.of([sum(s["peak_rss_mb"] for s in o.stats.values()) for o in outcomes], "MB"),
        ),
        Row(
            "CPU time from go to stop, sum of the 5 processes (user+sys)",
            Series.of([o.total("cpu_s") for o in outcomes], "s"),
        ),
        Row(
            f"cores kept busy on average, of {os.cpu_count()} (that CPU / time to projections complete)",
            Series.of([o.total("cpu_s") / o.projected for o in outcomes], "cores"),
        ),
    ]
    verdicts = []
    for label, series in (("documents converged", docs), ("projections complete", projected)):
        ratio = series.median / floor_s.median
        verdicts.append(
            Verdict(f"{label} ≤ {TARGET_S:.0f} s", f"{series.median:.2f} s", series.median <= TARGET_S)
        )
        verdicts.append(
            Verdict(
                f"{label} ≤ {TARGET_FLOOR_RATIO:.0f}x the floor",
                f"{ratio:.1f}x ({floor_s.median:.2f} s floor)",
                ratio <= TARGET_FLOOR_RATIO,
            )
        )

    def med(values: list[float]) -> float:
        return Series.of(values, "").median

    def stat(name: str, key: str) -> float:
        return med([float(o.stats[name].get(key, 0)) for o in outcomes])

    per_process = tuple(
        (
            name,
            f"{med([o.docs_s[name] for o in outcomes]):.2f}",
            f"{med([o.projected_s[name] for o in outcomes]):.2f}",
            f"{med([o.stats[name]['cpu_s'] for o in outcomes]):.1f}",
            f"{med([o.stats[name]['peak_rss_mb'] for o in outcomes]):.0f}",
            f"{med([o.stats[name]['frames'] for o in outcomes]):.0f}",
            f"{med([o.stats[name]['frame_bytes'] / 1e6 for o in outcomes]):.1f}",
        )
        for name in PROCESSES
    )
    details = [
        Table(
            "Per process (medians over repetitions)",
            (
                "process",
                "documents converged (s)",
                "projections complete (s)",
                "CPU from go (s)",
                "peak RSS (MB)",
                "messages sent",
                "MB sent",
            ),
            per_process,
        ),
        steps,
    ]
    shard = prepared.shard_records
    per_device = prepared.shards_per_device
    documents = len(prepared.updates)
    biggest = max(len(u) for u in prepared.updates.values())
    log_bytes = sum(len(u) for u in prepared.updates.values()) / len(DEVICES)
    hub_done = med([o.projected_s["hub"] for o in outcomes])
    first_device = med([min(o.docs_s[d] for d in DEVICES) for o in outcomes])
    notes = [
        f"The hub held and had projected all four logs {hub_done:.1f} s after go; the first device held "
        f"all four at {first_device:.1f} s (medians).",
        f"Each device's log is {per_device} shards of {shard:,} records ({documents} documents in all, "
        f"plus the control document, each on its own WebSocket: {len(DEVICES) * (documents + 1)} "
        f"connections to the hub). A full shard as one update (what its Step 2 carries) is at most "
        f"{_mb(biggest)}, a whole log {_mb(log_bytes)}; the message cap (DEFAULT_MAX_MESSAGE) is "
        f"{_mb(DEFAULT_MAX_MESSAGE)}, so one Step 2 could carry about "
        f"{DEFAULT_MAX_MESSAGE * shard // biggest:,} such scans, far more than a shard holds.",
        "The devices' `SyncClient` is given the full list of documents (the control document and every "
        "shard of the four logs). Left to discover them (`GET /sync`, `refresh_interval` = 30 s), a "
        "device would learn another device's shards only at the first refresh after the hub holds "
        "them, which puts convergence at 30 s or more whatever the sync costs (one run with "
        "`python -m bench.sync_convergence --discover` here: the hub held all logs at 9 s, the "
        "devices at 52-53 s).",
        f"The per-step table measures one {shard:,}-record shard; its last column multiplies by "
        f"{RECORDS // shard} to give the cost per {RECORDS:,} records (one device's log), comparable with "
        "earlier runs that received a log as one 50,000-record document. Fixed per-update costs (a commit, "
        f"a message) are paid once per shard, so the scaled column counts them {RECORDS // shard} times.",
        "SQLite writer, per process (medians): foreground jobs (here: peers' state vectors saved "
        "on each Step 1, documents loaded), background jobs (stored remote updates, projection "
        "chunks, compaction), the time in these and the pauses the writer imposed after them because "
        "foreground work was about; documents dropped from memory after idling, and documents in "
        "memory at the end; and, for the peers' updates this process stored, the mean and longest "
        "wait from asking the writer to store one until it was stored (it is relayed only then): "
        + "; ".join(
            f"{name} {stat(name, 'writer_jobs') - stat(name, 'background_jobs'):.0f} foreground jobs, "
            f"{stat(name, 'background_jobs'):.0f} background, "
            f"{stat(name, 'background_s'):.1f} s in them, "
            f"{stat(name, 'paced_s'):.1f} s paused, "
            f"{stat(name, 'unloaded'):.0f} dropped, "
            f"{stat(name, 'loaded'):.0f} loaded, "
            f"{stat(name, 'remote_append_s') / max(1.0, stat(name, 'remote_appends')) * 1000:.0f} ms mean / "
            f"{stat(name, 'remote_append_max_s'):.1f} s longest wait to store one of "
            f"{stat(name, 'remote_appends'):.0f} updates"
            for name in PROCESSES
        )
        + ".",
        "The floor uses the projection's own schema (`sync_record`, WITHOUT ROWID, with its (kind, at) "
        "index), `synchronous=FULL`, WAL, and the very rows the devices projected, inserted with one "
        "`executemany` in one transaction.",
        "Hub and devices use `synchronous=FULL` (the appliance default), uvloop, and websockets' default "
        "permessage-deflate on both ends. Clocks: each process stamps its events with the system-wide "
        "monotonic clock; zero is when the parent tells the (already loaded) devices to connect.",
        f"The machine has {os.cpu_count()} cores for 5 processes: the times are CPU-bound and "
        "include contention between the processes.",
    ]
    return BenchResult(
        title="Sync convergence: 4 devices x 50,000 scans through a hub",
        method=(
            f"{len(DEVICES)} device data directories, each with its own device log of {RECORDS:,} scans "
            f"written offline as a device writes them, through `Replica.log` (not timed): the replica "
            f"shards the log every {shard:,} records, so each device holds {per_device} log documents. "
            "Per repetition: a hub-like peer "
            "(uvicorn + Litestar, `SyncService` + `sync_router`, `SQLiteUpdateStore` + `RecordProjection`) "
            "and four device processes (a `Replica` on a copy of the prepared directory plus a `SyncClient` "
            f"for the control document and all {documents} shards of the four device logs, one WebSocket "
            "each, with a device-role token), all on "
            "127.0.0.1. Measured from the moment the devices start connecting until every one of the 5 "
            f"replicas holds all four logs — (a) every one of the {documents} documents with the state "
            "vector and record count its writer left, (b) 200,000 rows in `sync_record` too. "
            "Bytes: every sync message sent by any process "
            "(counted by wrapping the channels' `send`), and the TCP bytes of the devices' WebSockets. "
            "Peak RSS: each process's own `VmHWM` at the end (not `ru_maxrss`, which on Linux "
            "carries the parent's peak across `exec`). Floor, measured in the same run before each "
            "convergence: stdlib `sqlite3`, WAL, one transaction inserting the same 200,000 rows."
        ),
        repetitions=len(outcomes),
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def _print_profiles(directory: Path, top: int) -> None:
    for name in ("hub", DEVICES[0]):
        path = directory / f"{name}.prof"
        if path.exists():
            print(f"\n===== {name}: top {top} by own time =====")
            pstats.Stats(str(path)).sort_stats("tottime").print_stats(top)
            print(f"\n===== {name}: top {top} by cumulative time =====")
            pstats.Stats(str(path)).sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run one convergence with cProfile in every process.")
    parser.add_argument("--profile", type=Path, required=True, help="Directory for the .prof files.")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--shard-records", type=int, default=SHARD_RECORDS)
    parser.add_argument("--discover", action="store_true", help="devices learn documents from GET /sync")
    args = parser.parse_args()
    args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-sync-") as tmp:
        prepared = prepare(Path(tmp), args.shard_records)
        outcome = converge_once(
            prepared, Path(tmp) / "run", profile=args.profile.resolve(), discover=args.discover
        )
    progress(
        f"documents {outcome.docs_converged:.2f} s, projections {outcome.projected:.2f} s "
        f"(cProfile slows everything down)"
    )
    _print_profiles(args.profile, args.top)


if __name__ == "__main__":
    main()
