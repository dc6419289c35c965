"""Hub ingest: 50 appliances push 4,000 scans each at once; time until all 200,000 are projected.

"50 simulated appliances each pushing 4,000 scans at once → time until all
200,000 are projected in the hub's ``checkin_scan``.  Target ≥ 5,000
scans/s and ≤ 4x the floor." (issue #4)

Preparation, per repetition, not timed: a fresh PostgreSQL database
migrated by ``hub.db.migrate`` (what ``konferenco hub migrate`` does), an
organization and an event made by the hub's own services, and a real hub —
``konferenco hub serve`` with one worker (``--workers N`` when run
alone), in a child process.  Fifty
devices enrol through the API (one-time tokens, ``POST /api/v1/enrol``).
Each simulated appliance is a :class:`~sync.replica.Replica` over its own
temporary SQLite store, whose device log receives 4,000 scans through
``Replica.log`` (the appliance's own write path, batching up to 64 records
per transaction).

Timed: fifty :class:`~sync.client.SyncClient` (one per appliance, all in
this process, each syncing its own device log only) are started one after
the other; the clock runs from the first ``start()`` until ``SELECT
count(*) FROM checkin_scan WHERE event_id = …``, polled every 100 ms,
reaches 200,000.  Each client does what an appliance does: a WebSocket to
``/sync/event/{e}/device/{d}`` with its credential, Step 1, then its whole
log as one Step 2 (~770 kB).

Floor, in the same database before the push: the same 200,000 rows through
asyncpg's ``copy_records_to_table`` into a table made ``LIKE checkin_scan
INCLUDING ALL`` (same columns, primary key and indexes), one COPY.

Where the time goes, measured after the push (hub stopped) in the same
database, on the same fifty updates, through the hub's own code one update
after another: the validity check ``Replica.covers`` makes (pycrdt
``get_update`` against an empty document), applying the update to a fresh
document with the projection observers attached (what ``Replica.receive``
does; includes msgspec validation of every record), the store's
``append`` of the update and its ``mark_projected`` (``HubProjection``'s
SQL) into scratch copies of the tables.  Alongside, the CPU time the hub,
PostgreSQL (this database's backends and the server's background
processes), the simulated appliances and everything else on the machine
used during the push: on a shared 2-CPU machine that says who was busy.

``python -m bench.hub_ingest [--quick] [--workers N] [--profile DIR]`` prints the result;
``--profile`` attaches py-spy (not a project dependency: ``.venv/bin/pip
install py-spy``) to the hub worker for one push and prints where its
samples fall.

The throw-away database, tenant and hub process helpers here are shared
with :mod:`bench.hub_catalog`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped, unused-ignore]
import uvloop
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pycrdt import Doc, get_update

from bench.common import EVENT, BenchResult, Row, Series, Table, Verdict, progress, scan_fields
from bench.pg_floor import copy_floor
from hub.catalog.events import add_ticket_type, create_event
from hub.catalog.keys import KeySealer
from hub.db.session import Database
from hub.devices.enrolment import create_enrolment
from hub.peer.projection import TABLES, HubProjection
from hub.peer.store import PostgresUpdateStore
from hub.settings import HubSecrets
from hub.tenants.accounts import OrgRole, Principal, create_account, create_organization
from konferenco.badges import b64, raw_public_key
from sync.client import SyncClient
from sync.documents import Change, observe
from sync.names import DocName
from sync.permissions import Capability, PeerIdentity, Role
from sync.records import Scan
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.helpers import HubProcess, create_database, drop_database

DEVICES = 50
SCANS = 4_000
TOTAL = DEVICES * SCANS
TARGET_RATE = 5_000.0  # scans/s
TARGET_RATIO = 4.0  # x the floor
POLL_S = 0.1
TIMEOUT_S = 600.0
#: After the last row is projected, how long to keep waiting for the appliances' acknowledgements.
ACK_GRACE_S = 10.0
CPUS = len(os.sched_getaffinity(0))

OWNER = "owner@bench.example"
PASSWORD = "bench horse battery staple"
SLUG = "bench"

_FLOOR_COLUMNS = (
    "event_id",
    "id",
    "org_id",
    "device_id",
    "doc",
    "nonce",
    "gate",
    "direction",
    "result",
    "reason",
    "attendee_id",
    "list_id",
    "at",
    "device_time",
    "staff",
)


# --- a hub to measure (shared with bench.hub_catalog) --------------------------------------


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """URL of a new database migrated to the newest schema; dropped on exit (as the tests make them)."""
    url = await asyncio.to_thread(create_database, "kf_bench")
    try:
        yield url
    finally:
        await asyncio.to_thread(drop_database, url)


@dataclass(frozen=True)
class Tenant:
    """An organization on the "conference" tier (180k attendees allowed), its owner and one event."""

    url: str
    secrets: Path
    principal: Principal
    event_id: str


async def make_tenant(
    url: str,
    secrets_dir: Path,
    event_id: str,
    *,
    timezone: str = "UTC",
    ticket_types: tuple[tuple[str, str], ...] = (),
) -> Tenant:
    """The organization and event, through the hub's services (what the console does)."""
    db = Database(url, pool_size=1)
    sealer = KeySealer(HubSecrets(secrets_dir).derive("event-keys"))
    try:
        async with db.system() as conn:
            account = await create_account(conn, OWNER, PASSWORD)
            org = await create_organization(conn, "Bench", SLUG, account, "conference")
        principal = Principal(account, org, SLUG, OrgRole.OWNER)
        async with db.tenant(org) as conn:
            await create_event(conn, sealer, principal, "Bench Days", event_id=event_id, timezone=timezone)
            for type_id, name in ticket_types:
                await add_ticket_type(conn, principal, event_id, type_id, name)
    finally:
        await db.close()
    return Tenant(url, secrets_dir, principal, event_id)


async def enrolment_tokens(tenant: Tenant, count: int, hub_url: str, capabilities: list[str]) -> list[str]:
    """One-time tokens, as an organizer creates them in the console."""
    db = Database(tenant.url, pool_size=1)
    try:
        async with db.tenant(tenant.principal.org_id) as conn:
            return [
                (
                    await create_enrolment(
                        conn, tenant.principal, tenant.event_id, capabilities, hub_url, name=f"bench-{n}"
                    )
                ).token
                for n in range(count)
            ]
    finally:
        await db.close()


@asynccontextmanager
async def running_hub(
    url: str, secrets_dir: Path, port: int | None = None, workers: int = 1
) -> AsyncIterator[HubProcess]:
    """``konferenco hub serve`` on ``port`` (default: a free one); stopped on exit."""
    hub = HubProcess(url, secrets_dir, port, workers=workers)
    await asyncio.to_thread(hub.start, 60)
    try:
        yield hub
    finally:
        await asyncio.to_thread(hub.stop)


def hub_worker(hub: HubProcess) -> psutil.Process:
    """The process serving requests (one worker: uvicorn serves in the CLI's own process)."""
    assert hub.proc is not None
    main = psutil.Process(hub.proc.pid)
    children = main.children(recursive=True)
    return children[0] if len(children) == 1 else main


def hub_processes(hub: HubProcess) -> list[psutil.Process]:
    """The hub's processes: the CLI's (the worker itself when there is one) and its workers."""
    assert hub.proc is not None
    main = psutil.Process(hub.proc.pid)
    return [main, *main.children(recursive=True)]


def hub_cpu(hub: HubProcess) -> dict[int, float]:
    """CPU seconds of each of the hub's processes, by pid."""
    out: dict[int, float] = {}
    for proc in hub_processes(hub):
        with contextlib.suppress(psutil.Error):
            out[proc.pid] = _cpu(proc)
    return out


def log_tail(hub: HubProcess, chars: int = 3000) -> str:
    try:
        return hub.log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no hub log)"


def _cpu(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


async def postgres_cpu(conn: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds, by pid, of this database's backends and the server's background processes.

    Other databases' backends are left out: the server is shared (tests run
    on it too).  Needs the server on this machine, in this PID namespace.
    """
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() OR datname IS NULL"
    )
    out: dict[int, float] = {}
    for row in rows:
        with contextlib.suppress(psutil.Error):
            out[row["pid"]] = _cpu(psutil.Process(row["pid"]))
    return out


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots (a process born in between counts whole; one gone is lost)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def machine_cpu() -> float:
    """CPU seconds used by everything on this machine so far (all CPUs)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb(proc: psutil.Process) -> float:
    """VmHWM: the process's peak resident set since it started (or since :func:`reset_peak_rss`)."""
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e6
    return float("nan")


def reset_peak_rss(proc: psutil.Process) -> bool:
    """Start VmHWM again from the current RSS (Linux ``clear_refs`` 5); False if not permitted."""
    try:
        Path(f"/proc/{proc.pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


# --- the simulated appliances ---------------------------------------------------------------


@dataclass
class Appliance:
    device_id: str
    credential: str
    replica: Replica
    doc: DocName
    scans: list[Scan] = field(repr=False)
    client: SyncClient | None = None

    def acknowledged(self) -> bool:
        return self.replica.acks.pending("hub", str(self.doc)).count == 0


async def enrol(http: httpx.AsyncClient, hub_url: str, token: str) -> tuple[str, str]:
    """``POST /api/v1/enrol`` as an appliance does; its device id and credential."""
    public = b64(raw_public_key(Ed25519PrivateKey.generate().public_key()))
    response = await http.post(f"{hub_url}/api/v1/enrol", json={"token": token, "badge_public_key": public})
    if response.status_code != 201:
        raise RuntimeError(f"enrolment refused ({response.status_code}): {response.text[:500]}")
    grant = response.json()
    return str(grant["device_id"]), str(grant["credential"])


async def make_appliance(root: Path, event_id: str, device_id: str, credential: str, seed: int) -> Appliance:
    """A replica whose device log holds SCANS scans, logged the way the check-in service logs them."""
    rng = random.Random(seed)
    replica = Replica(SQLiteUpdateStore(root / f"{device_id}.db"))
    await replica.start()
    scans = [Scan(**scan_fields(device_id, i, rng)) for i in range(SCANS)]
    names = set(await asyncio.gather(*(replica.log(event_id, device_id, scan) for scan in scans)))
    if len(names) != 1:
        raise RuntimeError(f"{device_id}: the scans went to {len(names)} log shards, expected one")
    return Appliance(device_id, credential, replica, names.pop(), scans)


def floor_rows(appliances: list[Appliance], event_id: str, org_id: str) -> list[tuple[Any, ...]]:
    """The ``checkin_scan`` rows the projection makes of the appliances' logs."""
    org = uuid.UUID(org_id)
    return [
        (
            event_id,
            s.id,
            org,
            a.device_id,
            str(a.doc),
            s.nonce,
            s.gate,
            s.direction,
            s.result,
            s.reason,
            s.attendee_id,
            s.list_id,
            s.at,
            s.device_time,
            s.staff,
        )
        for a in appliances
        for s in a.scans
    ]


async def floor(dsn: str, rows: list[tuple[Any, ...]]) -> float:
    """Seconds for one COPY of ``rows`` into a table shaped like ``checkin_scan`` (with its indexes)."""
    return await copy_floor(dsn, "checkin_scan", rows, _FLOOR_COLUMNS)


# --- the push -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Push:
    projected_s: float  # first start() → all TOTAL rows in checkin_scan
    first_row_s: float  # → the first row in checkin_scan
    stored_s: float  # → all DEVICES updates in sync_update (stored, maybe not yet projected)
    acknowledged_s: float | None  # → every appliance holds the hub's acknowledgement of its whole log
    hub_cpu_s: float
    postgres_cpu_s: float
    appliances_cpu_s: float
    machine_cpu_s: float  # everything on the machine, all CPUs
    hub_peak_mb: float
    last_count_ms: float  # how long the poll's count(*) took at 200,000 rows


@dataclass
class _Clock:
    t0: float
    first_row: float | None = None
    stored: float | None = None
    projected: float | None = None
    acknowledged: float | None = None

    def mark(self, attribute: str) -> None:
        if getattr(self, attribute) is None:
            setattr(self, attribute, time.perf_counter() - self.t0)


#: Stored and projected updates of the event's device logs: 50 small rows (the updates stay in TOAST).
_COUNT = "SELECT count(*) FROM checkin_scan WHERE event_id = $1"
#: How many of the event's device-log updates are stored (50 small rows: the updates stay in TOAST).
_STORED = "SELECT count(*) FROM sync_update WHERE doc LIKE $1"


def _client(a: Appliance, hub_url: str, event_id: str) -> SyncClient:
    """The appliance's sync client to the hub, as ``appliance serve --upstream`` makes it."""
    identity = PeerIdentity(
        peer_id=a.device_id,
        role=Role.DEVICE,
        events=(event_id,),
        device_id=a.device_id,
        capabilities=(Capability.SCANNER,),
    )
    return SyncClient(a.replica, hub_url, a.credential, identity, remote_peer="hub", documents=[str(a.doc)])


async def push(hub: HubProcess, dsn: str, event_id: str, appliances: list[Appliance]) -> Push:
    """Start every appliance's sync client; poll until all scans are projected (module docstring)."""
    docs_like = str(DocName.device(event_id, "x")).rsplit("/", 1)[0] + "/%"
    conn = await asyncpg.connect(dsn)
    try:
        hub_cpu0, pg_cpu0, own_cpu0, machine0 = (
            hub_cpu(hub),
            await postgres_cpu(conn),
            self_cpu(),
            machine_cpu(),
        )
        clock = _Clock(time.perf_counter())
        for a in appliances:
            a.client = _client(a, hub.url, event_id)
            a.client.start()
        projected, count_s = 0, 0.0
        while True:
            if clock.projected is None:
                t0 = time.perf_counter()
                projected = await conn.fetchval(_COUNT, event_id)
                count_s = time.perf_counter() - t0
                if projected:
                    clock.mark("first_row")
                if projected >= TOTAL:
                    clock.projected = t0 - clock.t0
            if clock.stored is None and await conn.fetchval(_STORED, docs_like) >= DEVICES:
                clock.mark("stored")
            if all(a.acknowledged() for a in appliances):
                clock.mark("acknowledged")
            elapsed = time.perf_counter() - clock.t0
            if clock.projected is not None and (
                clock.acknowledged is not None or elapsed > clock.projected + ACK_GRACE_S
            ):
                break
            if elapsed > TIMEOUT_S:
                states = Counter(s.state for a in appliances if a.client for s in a.client.status.values())
                errors = {s.last_error for a in appliances if a.client for s in a.client.status.values()}
                raise RuntimeError(
                    f"only {projected:,} of {TOTAL:,} scans projected after {TIMEOUT_S:.0f} s; clients "
                    f"{dict(states)}, errors {sorted(errors - {''})[:5]}; hub log:\n{log_tail(hub)}"
                )
            await asyncio.sleep(POLL_S)
        hub_cpu1, pg_cpu, own_cpu, machine = hub_cpu(hub), await postgres_cpu(conn), self_cpu(), machine_cpu()
        if projected != TOTAL:
            raise RuntimeError(f"checkin_scan holds {projected:,} rows of the event, expected {TOTAL:,}")
    finally:
        await conn.close()
        for a in appliances:
            if a.client is not None:
                await a.client.stop()
    assert clock.projected is not None and clock.first_row is not None and clock.stored is not None
    return Push(
        projected_s=clock.projected,
        first_row_s=clock.first_row,
        stored_s=clock.stored,
        acknowledged_s=clock.acknowledged,
        hub_cpu_s=cpu_since(hub_cpu0, hub_cpu1),
        postgres_cpu_s=cpu_since(pg_cpu0, pg_cpu),
        appliances_cpu_s=own_cpu - own_cpu0,
        machine_cpu_s=machine - machine0,
        hub_peak_mb=max(peak_rss_mb(p) for p in hub_processes(hub)),
        last_count_ms=count_s * 1000,
    )


# --- where the time goes ------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    check_s: float  # Replica.covers' decode of each update against an empty document
    apply_s: float  # apply each update to a fresh document with the projection observers
    append_s: float  # PostgresUpdateStore.append of each update (log row + NOTIFY)
    project_s: float  # PostgresUpdateStore.mark_projected: HubProjection's SQL + the projected flag
    update_bytes: int  # total size of the fifty updates


_SCRATCH = "bench_split"


async def split(dsn: str, appliances: list[Appliance]) -> Split:
    """Time the hub's receive path piece by piece on the same updates (module docstring)."""
    updates = [(a.doc, await a.replica.diff(a.doc)) for a in appliances]
    t0 = time.perf_counter()
    for _, update in updates:
        get_update(update, Doc().get_state())
    check = time.perf_counter() - t0
    changes: list[list[Change]] = []
    t0 = time.perf_counter()
    for name, update in updates:
        doc: Doc[Any] = Doc()
        seen: list[Change] = []
        subscriptions = observe(name, doc, seen.append)
        with doc.transaction(origin="bench"):
            doc.apply_update(update)
        changes.append(seen)
        del subscriptions
    apply = time.perf_counter() - t0
    if sum(len(c) for c in changes) != TOTAL:
        raise RuntimeError(f"applying the updates observed {sum(len(c) for c in changes):,} records")

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"CREATE SCHEMA {_SCRATCH}")
        for table in ("sync_update", "sync_authored", "sync_quarantine", *(t.name for t in TABLES)):
            await conn.execute(f"CREATE TABLE {_SCRATCH}.{table} (LIKE public.{table} INCLUDING ALL)")
    finally:
        await conn.close()
    # The store's own SQL names its tables unqualified: the scratch copies come first on the path.
    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=1, server_settings={"search_path": f"{_SCRATCH}, public"}
    )
    try:
        store = PostgresUpdateStore(pool, projector=HubProjection())
        seqs = []
        t0 = time.perf_counter()
        for name, update in updates:
            seqs.append(await store.append(str(name), update, "bench"))
        append = time.perf_counter() - t0
        t0 = time.perf_counter()
        for (name, _), seq, seen in zip(updates, seqs, changes, strict=True):
            await store.mark_projected(str(name), seq, seen)
        project = time.perf_counter() - t0
        rows = await pool.fetchval(f"SELECT count(*) FROM {_SCRATCH}.checkin_scan")
        if rows != TOTAL:
            raise RuntimeError(f"the scratch projection holds {rows:,} rows, expected {TOTAL:,}")
        await pool.execute(f"DROP SCHEMA {_SCRATCH} CASCADE")
    finally:
        await pool.close()
    return Split(check, apply, append, project, sum(len(u) for _, u in updates))


# --- one repetition ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Repetition:
    push: Push
    floor_s: float
    split: Split
    setup_s: float


@dataclass
class Profile:
    """py-spy attached to the hub worker during the push (``--profile``)."""

    out: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, pid: int) -> None:
        """Attach; give it a second (``await asyncio.sleep``) before starting the clock."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.proc = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw"),
                *("--idle", "--nonblocking", "--output", str(self.out)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(
                f"py-spy failed: {self.proc.stderr.read().decode() if self.proc.stderr else ''}"
            )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()  # by pid: the py-spy this benchmark started
                self.proc.wait()


async def repetition(
    root: Path, seed: int, profile: Profile | None = None, *, workers: int = 1
) -> Repetition:
    setup_t0 = time.perf_counter()
    async with fresh_database() as url:
        secrets_dir = root / "secrets"
        tenant = await make_tenant(url, secrets_dir, EVENT)
        async with running_hub(url, secrets_dir, workers=workers) as hub:
            tokens = await enrolment_tokens(tenant, DEVICES, hub.url, [Capability.SCANNER.value])
            async with httpx.AsyncClient(timeout=60) as http:
                grants = await asyncio.gather(*(enrol(http, hub.url, t) for t in tokens))
            appliances = await asyncio.gather(
                *(
                    make_appliance(root, EVENT, device, credential, seed * 1000 + n)
                    for n, (device, credential) in enumerate(grants)
                )
            )
            try:
                floor_s = await floor(url, floor_rows(appliances, EVENT, tenant.principal.org_id))
                setup_s = time.perf_counter() - setup_t0
                progress(
                    f"hub ingest: {DEVICES} appliances ready ({setup_s:.1f} s), "
                    f"floor {floor_s:.2f} s; pushing"
                )
                if profile is not None:
                    profile.start(hub_worker(hub).pid)
                    await asyncio.sleep(1.0)  # attached before the clock starts
                    profile.check()
                try:
                    pushed = await push(hub, url, EVENT, appliances)
                finally:
                    if profile is not None:
                        profile.stop()
            except BaseException:
                for a in appliances:
                    await a.replica.close()
                raise
        progress(
            f"hub ingest: {TOTAL:,} projected in {pushed.projected_s:.2f} s "
            f"({TOTAL / pushed.projected_s:,.0f} scans/s); timing the receive path's parts"
        )
        try:
            parts = await split(url, appliances)
        finally:
            for a in appliances:
                await a.replica.close()
    return Repetition(pushed, floor_s, parts, setup_s)


def run(repetitions: int = 3, *, workers: int = 1) -> BenchResult:
    reps: list[Repetition] = []
    for rep in range(repetitions):
        progress(
            f"hub ingest, repetition {rep + 1}/{repetitions}: fresh database, hub and {DEVICES} appliances"
        )
        with tempfile.TemporaryDirectory(prefix="konferenco-bench-ingest-") as tmp:
            reps.append(uvloop.run(repetition(Path(tmp), seed=rep + 1, workers=workers)))
    return result(reps, workers=workers)


# --- the report ------------------------------------------------------------------------------


def _others(p: Push) -> float:
    return max(0.0, p.machine_cpu_s - p.hub_cpu_s - p.postgres_cpu_s - p.appliances_cpu_s)


def result(reps: list[Repetition], *, workers: int = 1) -> BenchResult:
    def series(values: list[float], unit: str) -> Series:
        return Series.of(values, unit)

    def med(values: list[float]) -> float:
        return Series.of(values, "").median

    pushes = [r.push for r in reps]
    hub_label = "one worker" if workers == 1 else f"{workers} workers"
    wall = series([p.projected_s for p in pushes], "s")
    floor_s = series([r.floor_s for r in reps], "s")
    rate = series([TOTAL / p.projected_s for p in pushes], "scans/s")
    floor_rate = series([TOTAL / r.floor_s for r in reps], "scans/s")
    ratio = wall.median / floor_s.median
    acked = [p.acknowledged_s for p in pushes if p.acknowledged_s is not None]
    label = f"floor: COPY of the {TOTAL // 1000}k rows"
    rows = [
        Row(
            f"{DEVICES} appliances x {SCANS:,} scans at once: until all {TOTAL:,} are in `checkin_scan`",
            wall,
            floor_s,
            label,
            f"≤ {TARGET_RATIO:.0f}x the floor",
        ),
        Row("the same, as a rate", rate, floor_rate, label, f"≥ {TARGET_RATE:,.0f} scans/s"),
        Row("until the first row is in `checkin_scan`", series([p.first_row_s for p in pushes], "s")),
        Row(
            f"until all {DEVICES} updates are stored (`sync_update`)",
            series([p.stored_s for p in pushes], "s"),
        ),
    ]
    if acked:
        rows.append(
            Row("until every appliance holds the hub's acknowledgement of its log", series(acked, "s"))
        )
    rows += [
        Row(f"hub CPU ({hub_label}, user+sys) during the push", series([p.hub_cpu_s for p in pushes], "s")),
        Row(
            "PostgreSQL CPU during the push (this database's backends, the poll's included, "
            "and the server's background processes)",
            series([p.postgres_cpu_s for p in pushes], "s"),
        ),
        Row(
            f"the {DEVICES} simulated appliances' CPU (this process) during the push",
            series([p.appliances_cpu_s for p in pushes], "s"),
        ),
        Row(
            "everything else on the machine (other processes: it is shared; the kernel) during the push",
            series([_others(p) for p in pushes], "s"),
        ),
        Row(
            f"CPU available during the push ({CPUS} CPUs x wall time)",
            series([CPUS * p.projected_s for p in pushes], "s"),
        ),
        Row(
            "hub worker peak RSS (VmHWM of the largest worker, freshly started)",
            series([p.hub_peak_mb for p in pushes], "MB"),
        ),
    ]
    verdicts = [
        Verdict(
            f"ingest ≥ {TARGET_RATE:,.0f} scans/s",
            f"{rate.median:,.0f} scans/s ({wall.median:.2f} s for {TOTAL:,})",
            rate.median >= TARGET_RATE,
        ),
        Verdict(
            f"ingest ≤ {TARGET_RATIO:.0f}x the floor (one COPY of the same rows)",
            f"{ratio:.1f}x ({wall.median:.2f} s vs {floor_s.median:.2f} s)",
            ratio <= TARGET_RATIO,
        ),
    ]
    splits = [r.split for r in reps]
    parts_sum = [s.check_s + s.apply_s + s.append_s + s.project_s for s in splits]
    where = Table(
        "Where the time goes: the hub's receive path on the same 50 updates, one after another, "
        "hub stopped (medians, seconds for all 200,000 scans)",
        ("part", "seconds", "share of the push's wall time"),
        tuple(
            (label_, f"{med(values):.2f}", f"{med(values) / wall.median:.0%}")
            for label_, values in (
                ("check: `get_update` of each update against an empty document (`Replica.covers`)",
                 [s.check_s for s in splits]),
                ("apply each update to a fresh document with the projection observers "
                 "(pycrdt events + msgspec validation of every record)", [s.apply_s for s in splits]),
                ("store: `PostgresUpdateStore.append` (the update's log row + NOTIFY)",
                 [s.append_s for s in splits]),
                ("project: `mark_projected` (`HubProjection`'s unnest INSERT + the projected flag)",
                 [s.project_s for s in splits]),
                ("sum of the parts", parts_sum),
                ("the floor: one COPY of the 200,000 rows", [r.floor_s for r in reps]),
                ("the push, end to end (wall)", [p.projected_s for p in pushes]),
                ("hub CPU during the push", [p.hub_cpu_s for p in pushes]),
                ("PostgreSQL CPU during the push", [p.postgres_cpu_s for p in pushes]),
                ("other processes' CPU during the push", [_others(p) for p in pushes]),
            )
        ),
    )  # fmt: skip
    poll_note = (
        "The count is polled every 100 ms (the time is that of the first count that saw all rows), so "
        "the wall times are up to 0.1 s late; the poll itself is PostgreSQL work during the push (its "
        f"count took {med([p.last_count_ms for p in pushes]):.0f} ms at 200,000 rows)."
    )
    notes = [
        "Each repetition runs on a fresh database and a freshly started hub "
        f"(`konferenco hub serve --workers {workers}`); the appliances, their enrolment and their logs "
        f"are made before the clock starts (median {med([r.setup_s for r in reps]):.0f} s, with the floor).",
        f"The fifty sync clients run in this benchmark's process, on uvloop, one `SyncClient` over one "
        f"`Replica` and one SQLite store per appliance, each syncing only its own device log (a real "
        f"appliance also syncs the control document and the other devices' logs; left out, as they "
        f"carry nothing here). The {DEVICES} Step 2 messages total "
        f"{med([s.update_bytes for s in splits]) / 1e6:.1f} MB before WebSocket compression.",
        poll_note,
        "The acknowledgement is the hub's Step 1 (sent 0.2 s after it stored and projected an update) "
        "as the appliance counts it (`AckTracker.pending`).",
        f"The machine has {CPUS} CPUs shared by the hub, PostgreSQL and the simulated appliances "
        "(and by whatever else runs on it: see the 'everything else' row): the CPU rows say which "
        "of them was busy. The parts in 'where the time goes' are timed alone, one update after "
        "another; during the push the hub's Python work and PostgreSQL's overlap on the two CPUs.",
    ]
    return BenchResult(
        title=f"Hub ingest: {DEVICES} appliances x {SCANS:,} scans"
        + ("" if workers == 1 else f" ({hub_label})"),
        method=(
            f"A real hub (`konferenco hub serve`, {hub_label}, fresh PostgreSQL database per repetition); "
            f"{DEVICES} devices enrolled through `POST /api/v1/enrol`; each simulated appliance holds a "
            f"device log of {SCANS:,} scans written through `Replica.log` before the clock starts. Timed: "
            f"from starting the first of {DEVICES} `SyncClient`s (WebSocket to "
            f"`/sync/event/{{e}}/device/{{d}}` with the device credential, whole log as one Step 2) until "
            f"`SELECT count(*) FROM checkin_scan WHERE event_id = …`, polled every 100 ms, reaches "
            f"{TOTAL:,}. Floor, same database, same run: asyncpg `copy_records_to_table` of the same "
            f"{TOTAL:,} rows into a table `LIKE checkin_scan INCLUDING ALL` (same primary key and indexes)."
        ),
        repetitions=len(reps),
        rows=rows,
        verdicts=verdicts,
        details=[where],
        notes=notes,
    )


# --- profiling ----------------------------------------------------------------------------------


def summarize_raw(path: Path, top: int) -> str:
    """py-spy's raw (collapsed) stacks: the share of samples per function, self and inclusive."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    out = [f"{total:,} samples (idle included)"]
    for title, counter in (("self", own), ("inclusive", inclusive)):
        out.append(f"\n== top {top} by {title} ==")
        out += [f"{n / total:6.1%}  {frame}" for frame, n in counter.most_common(top)]
    return "\n".join(out)


def main() -> None:
    from bench.run import render_result

    parser = argparse.ArgumentParser(description="Run the hub ingest benchmark and print its result.")
    parser.add_argument("--quick", action="store_true", help="one repetition instead of 3")
    parser.add_argument("--profile", type=Path, help="py-spy the hub worker during one push; raw output here")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--workers", type=int, default=1, help="hub worker processes (default 1)")
    args = parser.parse_args()
    if args.profile is not None and args.workers != 1:
        parser.error("--profile samples the one worker of a one-worker hub: leave --workers at 1")
    if args.profile is None:
        print("\n".join(render_result(run(1 if args.quick else 3, workers=args.workers))))
        return
    args.profile.mkdir(parents=True, exist_ok=True)
    profile = Profile(args.profile.resolve() / "hub-ingest.raw")
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-ingest-") as tmp:
        rep = uvloop.run(repetition(Path(tmp), seed=1, profile=profile, workers=args.workers))
    print("\n".join(render_result(result([rep], workers=args.workers))))
    print(summarize_raw(profile.out, args.top))


if __name__ == "__main__":
    main()
