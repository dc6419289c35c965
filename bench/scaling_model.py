"""Trade-show scaling model: 180,000 attendees, 40 appliances, most of them in the first 30 minutes.

A small deterministic model, on paper: no benchmark runs here.  Every input
is a named constant below with where it comes from — a figure measured on
the 2-core benchmark machine (``docs/benchmarks.md``, named by its section),
a value read from the code or PostgreSQL's settings, or a planning
assumption (or, marked as such, a guess where nothing was measured).

The model:

- **Arrivals.** ``BURST_FRACTION`` of the attendees arrive in the first
  ``BURST_MIN`` minutes after the doors open, on a triangular curve peaking
  at ``BURST_MODE_MIN``; the rest arrive evenly over the remaining day.  The
  curve is integrated exactly per ``STEP_S`` step, so the steps add up to
  ``ATTENDEES``.
- **Gates.** Each appliance serves ``LANES_PER_APPLIANCE`` lanes, each a
  person with a scanner who needs ``HANDLING_S`` seconds per attendee; the
  arrivals are split evenly between the appliances (``IMBALANCE`` for the
  busiest entrance).  A fluid FIFO queue per appliance:
  ``Q(t+dt) = max(0, Q(t) + arrivals - lanes * dt / handling)``, and the wait
  of someone arriving at ``t`` is ``Q(t) / (lanes / handling)``.  Where the
  lanes keep up, the fluid queue is empty; the M/M/K (Erlang C) mean wait at
  the peak arrival rate says what random arrivals add.
- **The box, the hub, PostgreSQL**: rates times the measured costs (CPU,
  bytes, rows/s), compared with the measured capacities.

``python -m bench.scaling_model`` prints the generated Markdown;
``--write`` puts it into ``docs/scaling.md`` between the markers
``<!-- model:begin -->`` and ``<!-- model:end -->``; ``--check`` exits 1 if
the page is not what the model produces.
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import sync.shards

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "scaling.md"
BEGIN = "<!-- model:begin -->"
END = "<!-- model:end -->"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"

# --- measured here: read from docs/benchmarks.md (medians; section named in SOURCES) -------------
# ``make bench`` rewrites that page and then this model's section of docs/scaling.md, so the
# model always runs on the figures of the last benchmark run.

NUMBER = r"([\d,]+(?:\.\d+)?)"

#: Each measured input: the benchmarks.md section it comes from, the pattern that finds it there,
#: and the factor from the page's unit to the constant's.
MEASURED: dict[str, tuple[str, str, float]] = {
    "SCAN_C1_MS": (
        "Scans over HTTP",
        rf"\| per-scan latency, concurrency 1, median, synchronous=FULL \| \*\*{NUMBER} ms",
        1,
    ),
    "SCAN_C1_SERVER_CPU_MS": ("Scans over HTTP", rf"\| FULL \| 1 \| {NUMBER} \|", 1),
    "SCAN_C16_PER_S": (
        "Scans over HTTP",
        rf"\| throughput, concurrency 16, synchronous=FULL \(the default\) \| \*\*{NUMBER} scans/s",
        1,
    ),
    "SCAN_C16_P99_MS": (
        "Scans over HTTP",
        rf"\| latency p99, concurrency 16, synchronous=FULL \| \*\*{NUMBER} ms",
        1,
    ),
    "SCAN_C16_SERVER_CPU_MS": ("Scans over HTTP", rf"\| FULL \| 16 \| {NUMBER} \|", 1),
    "LOCAL_APPEND_MS": (
        "Local append",
        rf"\| append latency, median \(synchronous=FULL\) \| \*\*{NUMBER} ms",
        1,
    ),
    "CONV_DEVICES": ("Sync convergence", rf"^## Sync convergence: {NUMBER} devices x", 1),
    "CONV_SCANS_PER_DEVICE": ("Sync convergence", rf"^## Sync convergence: \d+ devices x {NUMBER} scans", 1),
    "CONV_MESSAGE_BYTES": (
        "Sync convergence",
        rf"\| sync messages sent, all processes \| \*\*{NUMBER} MB",
        1e6,
    ),
    "CONV_TCP_BYTES": ("Sync convergence", rf"\| TCP bytes on loopback[^|]*\| \*\*{NUMBER} MB", 1e6),
    "CONV_HUB_CPU_S": ("Sync convergence", rf"\| hub \| [\d.]+ \| [\d.]+ \| {NUMBER} \|", 1),
    "CONV_RECEIVE_LOG_S": (
        "Sync convergence",
        # the per-50,000-records column: one device's whole log, however it is sharded
        rf"\| = Replica\.receive end to end \(fresh replica\) \| [\d,.]+ \| [\d,.-]+ \| {NUMBER} \|",
        1e-3,
    ),
    "INGEST_ROWS": ("Hub ingest", rf"until all {NUMBER} are in `checkin_scan`", 1),
    "INGEST_ROWS_PER_S": ("Hub ingest", rf"\| the same, as a rate \| \*\*{NUMBER} scans/s", 1),
    "INGEST_HUB_CPU_S": (
        "Hub ingest",
        rf"\| hub CPU \(one worker, user\+sys\) during the push \| \*\*{NUMBER} s",
        1,
    ),
    "INGEST_PG_CPU_S": ("Hub ingest", rf"\| PostgreSQL CPU during the push[^|]*\| \*\*{NUMBER} s", 1),
    "INGEST_STEP2_BYTES": ("Hub ingest", rf"Step 2 messages total {NUMBER} MB", 1e6),
    "INGEST_WORKER_RSS_MB": ("Hub ingest", rf"\| hub worker peak RSS[^|]*\| \*\*{NUMBER} MB", 1),
    "COPY_FLOOR_ROWS_PER_S": (
        "Hub ingest",
        rf"\| the same, as a rate \| \*\*[\d,]+ scans/s\*\* \| [^|]*\| {NUMBER} scans/s \(floor",
        1,
    ),
    "FRESH_WORKER_RSS_MB": (
        "Hub catalog",
        rf"\| hub worker RSS before the request \(fresh worker\) \| \*\*{NUMBER} MB",
        1,
    ),
}


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}") + 1
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def measured_inputs(text: str) -> dict[str, float]:
    """Each measured input's value, found in the benchmarks page ``text`` (ValueError if one is not)."""
    values: dict[str, float] = {}
    for name, (title, pattern, factor) in MEASURED.items():
        found = re.search(pattern, _section(text, title), re.MULTILINE)
        if found is None:
            raise ValueError(f"{name}: not found in docs/benchmarks.md '{title}' (the page changed shape?)")
        values[name] = float(found.group(1).replace(",", "")) * factor
    return values


def bench_run(text: str) -> str:
    date = re.search(r"^- Date: (\S+ \S+ UTC)", text, re.MULTILINE)
    if date is None:
        raise ValueError("docs/benchmarks.md has no '- Date:' line")
    return f"docs/benchmarks.md of {date.group(1)}"


_PAGE = BENCHMARKS.read_text(encoding="utf-8")
_MEASURED = measured_inputs(_PAGE)
BENCH_RUN = bench_run(_PAGE)

SCAN_C1_MS = _MEASURED["SCAN_C1_MS"]
SCAN_C1_SERVER_CPU_MS = _MEASURED["SCAN_C1_SERVER_CPU_MS"]
SCAN_C16_PER_S = _MEASURED["SCAN_C16_PER_S"]
SCAN_C16_P99_MS = _MEASURED["SCAN_C16_P99_MS"]
SCAN_C16_SERVER_CPU_MS = _MEASURED["SCAN_C16_SERVER_CPU_MS"]
LOCAL_APPEND_MS = _MEASURED["LOCAL_APPEND_MS"]

CONV_DEVICES = int(_MEASURED["CONV_DEVICES"])
CONV_SCANS_PER_DEVICE = int(_MEASURED["CONV_SCANS_PER_DEVICE"])
CONV_MESSAGE_BYTES = _MEASURED["CONV_MESSAGE_BYTES"]
CONV_TCP_BYTES = _MEASURED["CONV_TCP_BYTES"]
CONV_HUB_CPU_S = _MEASURED["CONV_HUB_CPU_S"]
CONV_RECEIVE_LOG_S = _MEASURED["CONV_RECEIVE_LOG_S"]

INGEST_ROWS = int(_MEASURED["INGEST_ROWS"])
INGEST_ROWS_PER_S = _MEASURED["INGEST_ROWS_PER_S"]
INGEST_HUB_CPU_S = _MEASURED["INGEST_HUB_CPU_S"]
INGEST_PG_CPU_S = _MEASURED["INGEST_PG_CPU_S"]
INGEST_STEP2_BYTES = _MEASURED["INGEST_STEP2_BYTES"]
INGEST_WORKER_RSS_MB = _MEASURED["INGEST_WORKER_RSS_MB"]
COPY_FLOOR_ROWS_PER_S = _MEASURED["COPY_FLOOR_ROWS_PER_S"]
FRESH_WORKER_RSS_MB = _MEASURED["FRESH_WORKER_RSS_MB"]

# --- read from the code and from PostgreSQL's settings (not measured) -----------------------------

SHARD_RECORDS = sync.shards.SHARD_RECORDS
PG_MAX_CONNECTIONS = 100
PG_RESERVED_CONNECTIONS = 3
WORKER_PG_CONNECTIONS = 29
PG_COMMITS_PER_LIVE_UPDATE = 2

# --- the trade show (planning assumptions) -------------------------------------------------------

ATTENDEES = 180_000
APPLIANCES = 40
LANES_PER_APPLIANCE = 12
HANDLING_S = 4.5
HANDLING_SWEEP_S = (3.0, 4.5, 6.0)
LANES_SWEEP = (4, 8, 12, 16, 20)
BURST_FRACTION = 0.65
BURST_FRACTION_HIGH = 0.70
BURST_MIN = 30.0
BURST_MODE_MIN = 10.0
DAY_H = 9.0
SCANS_PER_ARRIVAL = 1
IMBALANCE = 1.5
OUTAGE_H = 1.0
SCANS_PER_ATTENDEE_SHOW = 4
PLAN_UTILISATION = 0.5
CONCURRENT_VENUES = 10
WAIT_TARGETS_MIN = (20.0, 10.0, 5.0)
STEP_S = 1.0

# --- guesses where nothing was measured (replace by a measurement) -------------------------------

LIVE_UPDATE_MS = (0.5, 2.0)
LIVE_RELAY_US = (20.0, 100.0)

_SCANS = "Scans over HTTP"
_APPEND = "Local append"
_CONV = "Sync convergence"
_INGEST = "Hub ingest"
_CATALOG = "Hub catalog"

#: Every input, with its unit and where it comes from (rendered as the model's first table).
SOURCES: dict[str, tuple[str, str]] = {
    "SCAN_C1_MS": ("ms", f"{_SCANS}: per-scan latency, concurrency 1, median, synchronous=FULL"),
    "SCAN_C1_SERVER_CPU_MS": ("ms", f"{_SCANS}: server CPU per scan, FULL, concurrency 1"),
    "SCAN_C16_PER_S": ("scans/s", f"{_SCANS}: throughput, concurrency 16, synchronous=FULL"),
    "SCAN_C16_P99_MS": ("ms", f"{_SCANS}: latency p99, concurrency 16, synchronous=FULL"),
    "SCAN_C16_SERVER_CPU_MS": ("ms", f"{_SCANS}: server CPU per scan, FULL, concurrency 16"),
    "LOCAL_APPEND_MS": ("ms", f"{_APPEND}: append latency, median, synchronous=FULL"),
    "CONV_DEVICES": ("devices", f"{_CONV}: 4 devices x 50,000 scans through a hub"),
    "CONV_SCANS_PER_DEVICE": ("scans", f"{_CONV}: 4 devices x 50,000 scans through a hub"),
    "CONV_MESSAGE_BYTES": (
        "bytes",
        f"{_CONV}: sync messages sent, all processes ({CONV_MESSAGE_BYTES / 1e6:,.0f} MB)",
    ),
    "CONV_TCP_BYTES": ("bytes", f"{_CONV}: TCP bytes on loopback, both ways, after permessage-deflate"),
    "CONV_HUB_CPU_S": ("s", f"{_CONV}: per process, hub, CPU from go"),
    "CONV_RECEIVE_LOG_S": ("s", f"{_CONV}: Replica.receive end to end of one 50,000-scan log"),
    "INGEST_ROWS": ("rows", f"{_INGEST}: 50 appliances x 4,000 scans"),
    "INGEST_ROWS_PER_S": ("rows/s", f"{_INGEST}: the same, as a rate (one worker)"),
    "INGEST_HUB_CPU_S": ("s", f"{_INGEST}: hub CPU (one worker, user+sys) during the push"),
    "INGEST_PG_CPU_S": ("s", f"{_INGEST}: PostgreSQL CPU during the push"),
    "INGEST_STEP2_BYTES": ("bytes", f"{_INGEST}, notes: the 50 Step 2 messages total 40.1 MB"),
    "INGEST_WORKER_RSS_MB": ("MB", f"{_INGEST}: hub worker peak RSS"),
    "COPY_FLOOR_ROWS_PER_S": ("rows/s", f"{_INGEST}: floor, COPY of the 200k rows, as a rate"),
    "FRESH_WORKER_RSS_MB": ("MB", f"{_CATALOG}: hub worker RSS before the request (fresh worker)"),
    "SHARD_RECORDS": (
        "records",
        "code: a device log opens a new shard every 50,000 records (sync/shards.py)",
    ),
    "PG_MAX_CONNECTIONS": ("connections", "PostgreSQL default max_connections (also this machine's)"),
    "PG_RESERVED_CONNECTIONS": ("connections", "PostgreSQL default superuser_reserved_connections"),
    "WORKER_PG_CONNECTIONS": (
        "connections",
        "code: per hub worker, SQLAlchemy pool 10 + overflow 10 (hub/db/session.py), "
        "asyncpg pool max 8 (hub/app.py), 1 LISTEN (hub/peer/fanout.py)",
    ),
    "PG_COMMITS_PER_LIVE_UPDATE": (
        "commits",
        "code: a received update is one append (+ NOTIFY) and one mark_projected (hub/peer/store.py)",
    ),
    "ATTENDEES": ("people", "assumption: the trade show"),
    "APPLIANCES": ("boxes", "assumption: the trade show"),
    "LANES_PER_APPLIANCE": ("lanes", "assumption: the plan modelled in detail (the sweep varies it)"),
    "HANDLING_S": ("s/person", "assumption: a volunteer with a handheld scanner (3-6 s)"),
    "BURST_FRACTION": ("of attendees", "assumption: 60-70 % arrive in the first 30 min"),
    "BURST_FRACTION_HIGH": ("of attendees", "assumption: the top of that range, for the hub's design load"),
    "BURST_MIN": ("min", "assumption: the morning rush lasts 30 min"),
    "BURST_MODE_MIN": ("min", "assumption: the rush peaks 10 min after the doors open"),
    "DAY_H": ("h", "assumption: doors open 9 h (the rest arrive evenly after the rush)"),
    "SCANS_PER_ARRIVAL": ("scans", "assumption: one admitted scan per arrival (no rescans)"),
    "IMBALANCE": ("x share", "assumption: the busiest entrance gets 1.5x its even share"),
    "OUTAGE_H": ("h", "assumption: the venue loses the internet at the doors' opening"),
    "SCANS_PER_ATTENDEE_SHOW": ("rows", "assumption: entries and re-entries over a 3-day show"),
    "PLAN_UTILISATION": ("of capacity", "assumption: plan to run at most half the measured capacity"),
    "CONCURRENT_VENUES": ("venues", "assumption: shows like this one peaking on one hub at once"),
    "HANDLING_SWEEP_S": ("s/person", "model: handling times in the gates table"),
    "LANES_SWEEP": ("lanes", "model: lanes per appliance in the gates table"),
    "WAIT_TARGETS_MIN": ("min", "model: longest waits the lanes-needed table aims at"),
    "STEP_S": ("s", "model: time step"),
    "LIVE_UPDATE_MS": (
        "ms",
        "GUESS, not measured: hub worker CPU per single-scan update "
        "(decode, store + NOTIFY, apply, project), low and high",
    ),
    "LIVE_RELAY_US": (
        "µs",
        "GUESS, not measured: hub worker CPU per small message relayed (frame, deflate, send), low and high",
    ),
}


# --- derived figures ------------------------------------------------------------------------------


def record_hops_in_convergence() -> int:
    """Records delivered in the convergence run: each once to the hub and once to every other device."""
    return CONV_DEVICES * CONV_SCANS_PER_DEVICE * CONV_DEVICES


def bytes_per_record() -> float:
    """Sync message bytes per scan record per hop, before WebSocket compression."""
    return CONV_MESSAGE_BYTES / record_hops_in_convergence()


def deflate_ratio() -> float:
    """TCP bytes over message bytes: what permessage-deflate leaves."""
    return CONV_TCP_BYTES / CONV_MESSAGE_BYTES


def wire_bytes_per_record() -> float:
    return bytes_per_record() * deflate_ratio()


def ingest_cpu_per_row_s() -> float:
    """Hub worker CPU per row ingested (bulk: 4,000-scan updates)."""
    return INGEST_HUB_CPU_S / INGEST_ROWS


def pg_cpu_per_row_s() -> float:
    return INGEST_PG_CPU_S / INGEST_ROWS


def relay_cpu_per_hop_s() -> float:
    """Hub CPU per record relayed to one peer (bulk): the convergence hub's CPU minus its 4 receives."""
    relayed = CONV_DEVICES * (CONV_DEVICES - 1) * CONV_SCANS_PER_DEVICE
    return (CONV_HUB_CPU_S - CONV_DEVICES * CONV_RECEIVE_LOG_S) / relayed


def worker_rss_per_record_b() -> float:
    """Peak RSS a hub worker gained per record ingested (an upper bound on what it holds)."""
    return (INGEST_WORKER_RSS_MB - FRESH_WORKER_RSS_MB) * 1e6 / INGEST_ROWS


# --- arrivals -------------------------------------------------------------------------------------


def _triangle_cdf(t: float, end: float, mode: float) -> float:
    if t <= 0:
        return 0.0
    if t >= end:
        return 1.0
    if t <= mode:
        return t * t / (end * mode)
    return 1.0 - (end - t) ** 2 / (end * (end - mode))


def arrived_by(t: float, fraction: float = BURST_FRACTION, mode_min: float = BURST_MODE_MIN) -> float:
    """Share of the attendees who have arrived ``t`` seconds after the doors opened."""
    burst, day = BURST_MIN * 60, DAY_H * 3600
    rest = min(max((t - burst) / (day - burst), 0.0), 1.0)
    return fraction * _triangle_cdf(t, burst, mode_min * 60) + (1 - fraction) * rest


@cache
def arrivals(fraction: float = BURST_FRACTION, mode_min: float = BURST_MODE_MIN) -> tuple[float, ...]:
    """Attendees arriving in each step of the day, venue-wide (they add up to ``ATTENDEES``)."""
    steps = round(DAY_H * 3600 / STEP_S)
    cdf = [arrived_by(i * STEP_S, fraction, mode_min) for i in range(steps + 1)]
    return tuple(ATTENDEES * (b - a) for a, b in itertools.pairwise(cdf))


# --- gates ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gates:
    """One appliance's queue over the day (the arrivals split evenly, times ``share``)."""

    lanes: int
    handling_s: float
    appliances: int
    peak_arrivals_per_s: float  # at this appliance
    peak_scans_per_s: float  # at this appliance
    max_queue: float  # people waiting at this appliance
    max_wait_s: float
    queue_gone_s: float  # when its queue last held a person
    served: float  # people over the day
    served_by_minute: tuple[float, ...]  # cumulative: [m] is everyone served in the first m + 1 minutes

    @property
    def capacity_per_s(self) -> float:
        return self.lanes / self.handling_s

    def erlang_wait_s(self) -> float | None:
        """Mean wait at the peak arrival rate with random arrivals (M/M/K); None if overloaded."""
        return erlang_c_wait(self.peak_arrivals_per_s, self.lanes, self.handling_s)


@cache
def simulate(
    lanes: int,
    handling_s: float,
    appliances: int = APPLIANCES,
    *,
    share: float = 1.0,
    fraction: float = BURST_FRACTION,
    mode_min: float = BURST_MODE_MIN,
) -> Gates:
    """The fluid FIFO queue at one appliance, step by step over the day."""
    rate = lanes / handling_s
    capacity = rate * STEP_S
    queue = max_queue = peak_in = peak_out = served = gone = 0.0
    served_by: list[float] = []
    per_minute = round(60 / STEP_S)
    for i, venue in enumerate(arrivals(fraction, mode_min)):
        come = venue * share / appliances
        out = min(queue + come, capacity)
        queue += come - out
        served += out
        if (i + 1) % per_minute == 0:
            served_by.append(served)
        peak_in, peak_out, max_queue = max(peak_in, come), max(peak_out, out), max(max_queue, queue)
        if queue >= 1.0:
            gone = (i + 1) * STEP_S
    return Gates(
        lanes=lanes,
        handling_s=handling_s,
        appliances=appliances,
        peak_arrivals_per_s=peak_in / STEP_S,
        peak_scans_per_s=peak_out / STEP_S,
        max_queue=max_queue,
        max_wait_s=max_queue / rate,
        queue_gone_s=gone,
        served=served,
        served_by_minute=tuple(served_by),
    )


def erlang_c_wait(arrival_per_s: float, lanes: int, handling_s: float) -> float | None:
    """Mean wait in an M/M/K queue (Erlang C), or None when the lanes cannot keep up."""
    load = arrival_per_s * handling_s  # offered load, in busy lanes
    if load >= lanes:
        return None
    term, total = 1.0, 1.0  # load^k / k!, summed for k < lanes
    for k in range(1, lanes):
        term *= load / k
        total += term
    last = term * load / lanes * lanes / (lanes - load)
    return last / (total + last) / (lanes / handling_s - arrival_per_s)


def lanes_needed(max_wait_s: float, handling_s: float, appliances: int = APPLIANCES) -> int:
    """The fewest lanes per appliance that keep the longest (fluid) wait within ``max_wait_s``."""
    low, high = 1, 1
    while simulate(high, handling_s, appliances).max_wait_s > max_wait_s:
        low, high = high + 1, high * 2
    while low < high:
        mid = (low + high) // 2
        if simulate(mid, handling_s, appliances).max_wait_s > max_wait_s:
            low = mid + 1
        else:
            high = mid
    return low


# --- the hub --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HubLoad:
    """What one venue asks of the hub at a given venue-wide scan rate."""

    scans_per_s: float
    appliances: int

    @property
    def rows_per_s(self) -> float:
        return self.scans_per_s * SCANS_PER_ARRIVAL

    @property
    def relayed_per_s(self) -> float:
        """Record deliveries from the hub: each to every other appliance of the venue."""
        return self.rows_per_s * (self.appliances - 1)

    @property
    def ingest_cores(self) -> float:
        return self.rows_per_s * ingest_cpu_per_row_s()

    @property
    def relay_cores(self) -> float:
        return self.relayed_per_s * relay_cpu_per_hop_s()

    @property
    def websockets(self) -> int:
        """Each appliance syncs every device log of the event (one shard each here) and the control doc."""
        return self.appliances * (self.appliances + 1)

    def live_cores(self, update_ms: float, relay_us: float) -> float:
        return self.rows_per_s * update_ms / 1e3 + self.relayed_per_s * relay_us / 1e6


def workers_by_connections() -> int:
    """Hub workers whose pools fit in PostgreSQL's connection budget, all pools full."""
    return (PG_MAX_CONNECTIONS - PG_RESERVED_CONNECTIONS) // WORKER_PG_CONNECTIONS


def peak_venue_scans(fraction: float = BURST_FRACTION_HIGH) -> float:
    """Venue-wide scans/s at the peak when the gates keep up with the arrivals."""
    return max(arrivals(fraction)) / STEP_S


# --- rendering ------------------------------------------------------------------------------------


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _sig(value: float) -> str:
    """Three significant figures, with thousands separators."""
    if value == 0:
        return "0"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return _n(round(value, digits), digits)


def _min(seconds: float) -> str:
    return f"{seconds / 60:,.1f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _exact(value: float) -> str:
    """A constant as written: whole numbers with separators, others to six significant figures."""
    return _n(value) if float(value).is_integer() else f"{value:,.6g}"


def _value(name: str) -> str:
    value = globals()[name]
    if isinstance(value, tuple):
        return " / ".join(_exact(v) for v in value)
    return _exact(value)


def _inputs() -> list[str]:
    rows = [[f"`{name}`", _value(name), unit, source] for name, (unit, source) in SOURCES.items()]
    return [
        "### Inputs",
        "",
        f"Measured figures are medians from {BENCH_RUN} (2 shared cores; section named).",
        "",
        *_table(["constant", "value", "unit", "source"], rows),
    ]


def _derived() -> list[str]:
    rows = [
        [
            "sync bytes per scan record per hop, before deflate",
            f"{_sig(bytes_per_record())} B",
            f"{CONV_MESSAGE_BYTES / 1e6:,.0f} MB / ({CONV_DEVICES} devices"
            f" x {CONV_SCANS_PER_DEVICE:,} scans x 4 hops: 1 up to the hub + 3 relayed down)",
        ],
        [
            "the same, from the hub ingest's Step 2 messages (cross-check)",
            f"{_sig(INGEST_STEP2_BYTES / INGEST_ROWS)} B",
            "40.1 MB / 200,000 scans",
        ],
        [
            "permessage-deflate leaves",
            f"{deflate_ratio():.1%}",
            f"{CONV_TCP_BYTES / 1e6:,.1f} MB TCP / {CONV_MESSAGE_BYTES / 1e6:,.0f} MB messages",
        ],
        ["bytes per scan record per hop on the wire", f"{_sig(wire_bytes_per_record())} B", "the two above"],
        [
            "hub worker CPU per row ingested",
            f"{_sig(ingest_cpu_per_row_s() * 1e6)} µs",
            f"{INGEST_HUB_CPU_S} s / {INGEST_ROWS:,} (bulk: 4,000-scan updates)",
        ],
        [
            "PostgreSQL CPU per row ingested",
            f"{_sig(pg_cpu_per_row_s() * 1e6)} µs",
            f"{INGEST_PG_CPU_S} s / {INGEST_ROWS:,}",
        ],
        [
            "hub CPU per record relayed to one peer",
            f"{_sig(relay_cpu_per_hop_s() * 1e6)} µs",
            f"({CONV_HUB_CPU_S} s - {CONV_DEVICES} x {CONV_RECEIVE_LOG_S:.3f} s receive)"
            " / 600,000 relayed (bulk)",
        ],
        [
            "hub worker peak RSS per record ingested",
            f"{_sig(worker_rss_per_record_b() / 1e3)} kB",
            "(547 - 94) MB / 200,000 (peak, an upper bound)",
        ],
        [
            "one appliance's receive of a peer's record",
            f"{_sig(CONV_RECEIVE_LOG_S / CONV_SCANS_PER_DEVICE * 1e6)} µs",
            f"{CONV_RECEIVE_LOG_S:.3f} s / {CONV_SCANS_PER_DEVICE:,} (bulk)",
        ],
    ]
    return ["### Derived per-record costs", "", *_table(["figure", "value", "from"], rows)]


def _arrivals() -> list[str]:
    rows = []
    for fraction in (0.60, BURST_FRACTION, BURST_FRACTION_HIGH):
        steps = arrivals(fraction)
        burst = sum(steps[: round(BURST_MIN * 60 / STEP_S)])
        first_hour = sum(steps[: round(3600 / STEP_S)])
        rows.append(
            [
                f"{fraction:.0%}",
                _n(sum(steps)),
                _n(burst),
                _n(first_hour),
                _n(max(steps) / STEP_S, 1),
                _n(burst / (BURST_MIN * 60), 1),
                _n(steps[-1] / STEP_S, 2),
                _n(max(steps) / STEP_S / APPLIANCES, 2),
            ]
        )
    return [
        "### Arrivals",
        "",
        f"Triangular rush over {BURST_MIN:.0f} min peaking at minute {BURST_MODE_MIN:.0f}, "
        f"the rest evenly until {DAY_H:.0f} h after the doors open.",
        "",
        *_table(
            [
                "in the first 30 min",
                "total",
                "first 30 min",
                "first hour",
                "peak arrivals/s, venue",
                "mean/s over the rush",
                "arrivals/s after the rush",
                "peak arrivals/s per appliance",
            ],
            rows,
        ),
    ]


def _gates() -> list[str]:
    rows = []
    for handling in HANDLING_SWEEP_S:
        for lanes in LANES_SWEEP:
            g = simulate(lanes, handling)
            erlang = g.erlang_wait_s()
            rows.append(
                [
                    f"{handling:g}",
                    str(lanes),
                    _n(lanes * APPLIANCES),
                    _n(g.capacity_per_s * APPLIANCES, 1),
                    _n(g.max_queue * APPLIANCES),
                    _min(g.max_wait_s),
                    _min(g.queue_gone_s),
                    "lanes too few" if erlang is None else f"{erlang:.1f} s",
                    _n(g.peak_scans_per_s, 2),
                    f"{g.peak_scans_per_s / SCAN_C16_PER_S:.2%}",
                ]
            )
    needed = [
        [f"{h:g}"]
        + [str(lanes_needed(target * 60, h)) for target in WAIT_TARGETS_MIN]
        + [str(math.ceil(peak_venue_scans(BURST_FRACTION) / APPLIANCES * h))]
        for h in HANDLING_SWEEP_S
    ]
    base = simulate(LANES_PER_APPLIANCE, HANDLING_S)
    busy = simulate(LANES_PER_APPLIANCE, HANDLING_S, share=IMBALANCE)
    return [
        "### Gates: the people are the limit",
        "",
        f"{APPLIANCES} appliances, {BURST_FRACTION:.0%} of arrivals in the rush; fluid queue per appliance "
        "(venue figures are 40 times one appliance's). Box load: the appliance's peak scans/s over its "
        f"measured {_n(SCAN_C16_PER_S)} scans/s.",
        "",
        *_table(
            [
                "s per person",
                "lanes per appliance",
                "lanes",
                "people/s the lanes handle",
                "longest queue, venue (people)",
                "longest wait (min)",
                "queue gone after (min)",
                "M/M/K mean wait at the peak rate",
                "peak scans/s per appliance",
                "box load",
            ],
            rows,
        ),
        "Lanes per appliance needed for the longest wait:",
        "",
        *_table(
            ["s per person", *[f"≤ {t:g} min" for t in WAIT_TARGETS_MIN], "no queue at the peak rate"],
            needed,
        ),
        f"The busiest entrance ({IMBALANCE:g}x its share, {LANES_PER_APPLIANCE} lanes, {HANDLING_S:g} s): "
        f"longest wait {_min(busy.max_wait_s)} min against {_min(base.max_wait_s)} min at an average one. "
        f"One box would be the limit only from {_n(SCAN_C16_PER_S * HANDLING_S)} lanes at {HANDLING_S:g} s "
        f"per person ({_n(SCAN_C16_PER_S)} scans/s x {HANDLING_S:g} s); a scan costs the box "
        f"{SCAN_C1_MS:g} ms of a {HANDLING_S:g} s handling time ({SCAN_C1_MS / 1e3 / HANDLING_S:.3%}).",
        "",
    ]


def _sensitivity() -> list[str]:
    cases = [  # label, share of an even split, share of arrivals in the rush, minute of the rush's peak
        ("base", 1.0, BURST_FRACTION, BURST_MODE_MIN),
        ("60 % in the rush", 1.0, 0.60, BURST_MODE_MIN),
        ("70 % in the rush", 1.0, 0.70, BURST_MODE_MIN),
        ("rush peaks at minute 5", 1.0, BURST_FRACTION, 5.0),
        ("rush peaks at minute 15", 1.0, BURST_FRACTION, 15.0),
        (f"busiest entrance ({IMBALANCE:g}x)", IMBALANCE, BURST_FRACTION, BURST_MODE_MIN),
    ]
    rows = []
    for label, share, fraction, mode_min in cases:
        g = simulate(LANES_PER_APPLIANCE, HANDLING_S, share=share, fraction=fraction, mode_min=mode_min)
        rows.append(
            [
                label,
                _n(g.peak_arrivals_per_s, 2),
                _n(g.max_queue),
                _min(g.max_wait_s),
                _min(g.queue_gone_s),
            ]
        )
    return [
        f"Sensitivity at {LANES_PER_APPLIANCE} lanes per appliance, {HANDLING_S:g} s per person "
        f"({_n(LANES_PER_APPLIANCE / HANDLING_S, 2)} people/s), one appliance:",
        "",
        *_table(
            [
                "case",
                "peak arrivals/s at the appliance",
                "longest queue (people)",
                "longest wait (min)",
                "queue gone after (min)",
            ],
            rows,
        ),
    ]


def _appliance() -> list[str]:
    own = peak_venue_scans() / APPLIANCES
    peers = peak_venue_scans() - own
    rows = [
        ["own scans/s at the peak (gates keep up)", _n(own, 2), f"{_n(SCAN_C16_PER_S)} scans/s measured"],
        [
            "CPU for its own scans",
            f"{own * SCAN_C16_SERVER_CPU_MS / 1e3:.2%} of a core",
            f"{SCAN_C16_SERVER_CPU_MS} ms a scan",
        ],
        ["peers' records it receives, per s (through the hub)", _n(peers, 1), "-"],
        [
            "CPU to apply them, bulk cost",
            f"{peers * CONV_RECEIVE_LOG_S / CONV_SCANS_PER_DEVICE:.2%} of a core",
            "21 µs a record",
        ],
        [
            "the same if each costs one local append (one record per update)",
            f"{peers * LOCAL_APPEND_MS / 1e3:.1%} of a core",
            f"{LOCAL_APPEND_MS:g} ms an append (a proxy: not measured)",
        ],
    ]
    return [
        f"### One appliance at the peak ({BURST_FRACTION_HIGH:.0%} in the rush, lanes keeping up)",
        "",
        *_table(["figure", "value", "against"], rows),
    ]


def _hub() -> list[str]:
    scans = peak_venue_scans()
    load = HubLoad(scans, APPLIANCES)
    low = load.live_cores(LIVE_UPDATE_MS[0], LIVE_RELAY_US[0])
    high = load.live_cores(LIVE_UPDATE_MS[1], LIVE_RELAY_US[1])
    bulk = load.ingest_cores + load.relay_cores
    rows = [
        ["scans (rows) per s into the hub", _n(load.rows_per_s, 1), f"{_n(INGEST_ROWS_PER_S)} rows/s"],
        ["headroom on one worker's measured ingest", f"{INGEST_ROWS_PER_S / load.rows_per_s:,.0f}x", "-"],
        [
            "uplink, venue to hub",
            f"{load.rows_per_s * bytes_per_record() / 1e6:.3f} MB/s "
            f"({load.rows_per_s * wire_bytes_per_record() / 1e6:.3f} MB/s deflated)",
            "-",
        ],
        [
            f"downlink, hub to the venue (each record to the {APPLIANCES - 1} other appliances)",
            f"{load.relayed_per_s * bytes_per_record() / 1e6:.2f} MB/s "
            f"({load.relayed_per_s * wire_bytes_per_record() / 1e6:.2f} MB/s deflated)",
            "-",
        ],
        ["messages the hub sends per s (one per record per peer)", _n(load.relayed_per_s), "-"],
        [
            "WebSockets from the venue (one per document: every device log and the control document)",
            _n(load.websockets),
            "-",
        ],
        [
            "PostgreSQL commits per s (live: one record per update)",
            _n(load.rows_per_s * PG_COMMITS_PER_LIVE_UPDATE),
            "not measured",
        ],
        [
            "hub worker CPU, bulk costs (ingest + relay)",
            f"{bulk:.1%} of a core ({load.ingest_cores:.2%} + {load.relay_cores:.1%})",
            "measured per-record costs",
        ],
        [
            "hub worker CPU, live guesses (low - high)",
            f"{low:.0%} - {high:.0%} of a core",
            "GUESSES: per update and per message",
        ],
        ["PostgreSQL CPU, bulk cost", f"{load.rows_per_s * pg_cpu_per_row_s():.2%} of a core", "-"],
    ]
    per_venue = [
        (
            "ingest alone, measured rate",
            PLAN_UTILISATION * INGEST_ROWS_PER_S / load.rows_per_s,
        ),
        ("ingest + relay, bulk costs", PLAN_UTILISATION / bulk),
        ("ingest + relay, live guess (low)", PLAN_UTILISATION / low),
        ("ingest + relay, live guess (high)", PLAN_UTILISATION / high),
    ]
    return [
        f"### The hub at the peak of one venue ({_n(scans, 1)} scans/s: {BURST_FRACTION_HIGH:.0%} in the "
        "rush, lanes keeping up)",
        "",
        *_table(["figure", "value", "against"], rows),
        f"Venues at their peak one hub worker carries at {PLAN_UTILISATION:.0%} of a core:",
        "",
        *_table(["costed by", "venues per worker"], [[k, _sig(v)] for k, v in per_venue]),
    ]


def _postgres() -> list[str]:
    full_core = 1 / ingest_cpu_per_row_s()
    connections = (PG_MAX_CONNECTIONS - PG_RESERVED_CONNECTIONS) / WORKER_PG_CONNECTIONS
    rows = [
        [
            "COPY floor / one worker's measured ingest",
            f"{COPY_FLOOR_ROWS_PER_S / INGEST_ROWS_PER_S:.1f}",
            f"{_n(COPY_FLOOR_ROWS_PER_S)} / {_n(INGEST_ROWS_PER_S)} rows/s",
        ],
        [
            "COPY floor / a worker given a whole core",
            f"{COPY_FLOOR_ROWS_PER_S / full_core:.1f}",
            f"1 / {_sig(ingest_cpu_per_row_s() * 1e6)} µs = {_n(full_core)} rows/s per worker",
        ],
        [
            "PostgreSQL cores per busy worker",
            f"{pg_cpu_per_row_s() / ingest_cpu_per_row_s():.2f}",
            f"{_sig(pg_cpu_per_row_s() * 1e6)} µs / {_sig(ingest_cpu_per_row_s() * 1e6)} µs per row",
        ],
        [
            "connections: (max_connections - reserved) / per worker",
            f"{connections:.1f}",
            f"({PG_MAX_CONNECTIONS} - {PG_RESERVED_CONNECTIONS}) / {WORKER_PG_CONNECTIONS}",
        ],
    ]
    venue = peak_venue_scans()
    return [
        "### Hub workers per PostgreSQL",
        "",
        *_table(["bound", "workers", "from"], rows),
        f"At {PLAN_UTILISATION:.0%} of the COPY floor one PostgreSQL takes "
        f"{_n(PLAN_UTILISATION * COPY_FLOOR_ROWS_PER_S)} rows/s: "
        f"{_n(math.floor(PLAN_UTILISATION * COPY_FLOOR_ROWS_PER_S / venue))} venues like this one at their "
        "peak by rows (bulk-costed). Live, every row is its own update: "
        f"{_n(venue * PG_COMMITS_PER_LIVE_UPDATE)} commits/s per venue at its peak, each update's with a "
        "NOTIFY; the commit and NOTIFY rate PostgreSQL sustains was not measured here.",
        "",
    ]


def _outage() -> list[str]:
    base = simulate(LANES_PER_APPLIANCE, HANDLING_S)
    rows = []
    for label, hours in ((f"{OUTAGE_H:g} h from the doors' opening", OUTAGE_H), ("the whole day", DAY_H)):
        per_box = base.served_by_minute[round(hours * 60) - 1]
        records = per_box * APPLIANCES
        relayed = records * (APPLIANCES - 1)
        absorb = records / INGEST_ROWS_PER_S
        workers = workers_by_connections()
        several = CONCURRENT_VENUES * records / min(workers * INGEST_ROWS_PER_S, COPY_FLOOR_ROWS_PER_S)
        rows.append(
            [
                label,
                _n(records),
                _n(per_box),
                str(math.ceil(per_box / SHARD_RECORDS)),
                f"{per_box * bytes_per_record() / 1e6:.2f} MB",
                f"{absorb:.1f} s",
                f"{several:.0f} s",
                f"{relayed * bytes_per_record() / 1e6:,.0f} MB "
                f"({relayed * wire_bytes_per_record() / 1e6:,.0f})",
                f"{relayed * relay_cpu_per_hop_s():.1f} s",
                f"{(records - per_box) * CONV_RECEIVE_LOG_S / CONV_SCANS_PER_DEVICE:.1f} s",
            ]
        )
    return [
        f"### Catch-up after an outage ({LANES_PER_APPLIANCE} lanes per appliance, "
        f"{HANDLING_S:g} s per person)",
        "",
        *_table(
            [
                "venue offline",
                "records to catch up",
                "per appliance",
                "Step 2 messages each",
                "Step 2 size each",
                "hub absorbs them (one worker)",
                f"{CONCURRENT_VENUES} venues at once ({workers_by_connections()} workers, one PostgreSQL)",
                "hub relays to the other appliances, MB (deflated), if they did not peer on the LAN",
                "hub CPU for that relay (bulk)",
                "each appliance applies the others' records (bulk)",
            ],
            rows,
        ),
    ]


def _event() -> list[str]:
    rows_per_event = ATTENDEES * SCANS_PER_ATTENDEE_SHOW
    rows = [
        ["rows per event (checkin_scan)", _n(rows_per_event), f"{SCANS_PER_ATTENDEE_SHOW} per attendee"],
        [
            "update log per event (sync_update, before compaction)",
            f"{rows_per_event * INGEST_STEP2_BYTES / INGEST_ROWS / 1e6:,.0f} MB",
            f"{_sig(INGEST_STEP2_BYTES / INGEST_ROWS)} B per record",
        ],
        [
            "device-log shards per event",
            _n(APPLIANCES * math.ceil(rows_per_event / APPLIANCES / SHARD_RECORDS)),
            f"{_n(SHARD_RECORDS)} records each",
        ],
        [
            "hub worker memory to hold the event's logs (peak-RSS bound)",
            f"{rows_per_event * worker_rss_per_record_b() / 1e9:.1f} GB",
            f"{_sig(worker_rss_per_record_b() / 1e3)} kB per record",
        ],
        ["peak write rate per event", f"{_n(peak_venue_scans(), 1)} rows/s", "-"],
        [
            "an event's peak, as a share of one PostgreSQL's COPY floor",
            f"{peak_venue_scans() / COPY_FLOOR_ROWS_PER_S:.2%}",
            f"{_n(COPY_FLOOR_ROWS_PER_S)} rows/s",
        ],
    ]
    return [
        "### One event in the hub's database",
        "",
        *_table(["figure", "value", "from"], rows),
    ]


def _headline() -> list[str]:
    base = simulate(LANES_PER_APPLIANCE, HANDLING_S)
    load = HubLoad(peak_venue_scans(), APPLIANCES)
    bulk = load.ingest_cores + load.relay_cores
    outage = base.served_by_minute[round(OUTAGE_H * 60) - 1] * APPLIANCES
    return [
        "### Headline",
        "",
        f"- Peak arrivals: {_n(peak_venue_scans(BURST_FRACTION), 1)}/s venue-wide "
        f"({_n(peak_venue_scans(BURST_FRACTION) / APPLIANCES, 2)}/s per appliance) at "
        f"{BURST_FRACTION:.0%} in the rush, {_n(peak_venue_scans(), 1)}/s at {BURST_FRACTION_HIGH:.0%}.",
        f"- {LANES_PER_APPLIANCE} lanes per appliance at {HANDLING_S:g} s per person: longest wait "
        f"{_min(base.max_wait_s)} min, {_n(base.max_queue * APPLIANCES)} people queuing venue-wide; "
        f"no queue at the peak takes {math.ceil(peak_venue_scans(BURST_FRACTION) / APPLIANCES * HANDLING_S)} "
        f"lanes per appliance.",
        f"- Box load at that peak: {base.peak_scans_per_s / SCAN_C16_PER_S:.2%} of one appliance's measured "
        f"{_n(SCAN_C16_PER_S)} scans/s.",
        f"- Hub at the venue's peak: {_n(load.rows_per_s, 1)} rows/s, "
        f"{INGEST_ROWS_PER_S / load.rows_per_s:,.0f}x below one worker's measured ingest; "
        f"with the relay to {APPLIANCES - 1} peers "
        f"{bulk:.1%} of a worker's core at the measured bulk costs, "
        f"{load.live_cores(LIVE_UPDATE_MS[0], LIVE_RELAY_US[0]):.0%}-"
        f"{load.live_cores(LIVE_UPDATE_MS[1], LIVE_RELAY_US[1]):.0%} at guessed live costs (not measured).",
        f"- Workers per PostgreSQL: {COPY_FLOOR_ROWS_PER_S / INGEST_ROWS_PER_S:.1f} by the COPY floor, "
        f"{(PG_MAX_CONNECTIONS - PG_RESERVED_CONNECTIONS) / WORKER_PG_CONNECTIONS:.1f} by the default "
        "connection budget.",
        f"- Outage of {OUTAGE_H:g} h at the doors' opening: {_n(outage)} records; one worker absorbs them in "
        f"{outage / INGEST_ROWS_PER_S:.1f} s.",
        "",
    ]


def render() -> str:
    """The generated section of docs/scaling.md (deterministic)."""
    parts = [
        f"_Generated by `python -m bench.scaling_model` from {BENCH_RUN}; do not edit by hand._",
        "",
        *_headline(),
        *_inputs(),
        *_derived(),
        *_arrivals(),
        *_gates(),
        *_sensitivity(),
        *_appliance(),
        *_hub(),
        *_postgres(),
        *_outage(),
        *_event(),
    ]
    return "\n".join(parts).rstrip("\n") + "\n"


def generated_section(page: str) -> str:
    """What a page holds between the markers."""
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    return page[start:end].strip("\n") + "\n"


def with_section(page: str, section: str) -> str:
    start, end = page.index(BEGIN) + len(BEGIN), page.index(END)
    return page[:start] + "\n" + section + page[end:]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling_model", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"write the section into {DOC.name}")
    group.add_argument("--check", action="store_true", help=f"exit 1 if {DOC.name} is out of date")
    args = parser.parse_args(argv)
    section = render()
    if args.write:
        DOC.write_text(with_section(DOC.read_text(encoding="utf-8"), section), encoding="utf-8")
        print(f"wrote the model into {DOC.relative_to(ROOT)}", file=sys.stderr)
    elif args.check:
        if generated_section(DOC.read_text(encoding="utf-8")) != section:
            print(f"{DOC.relative_to(ROOT)} is out of date: run python -m bench.scaling_model --write")
            return 1
    else:
        sys.stdout.write(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
