"""What every benchmark shares: result structures, statistics, progress, sample data.

A benchmark module returns a :class:`BenchResult`; ``bench.run`` renders it.
Each reported value is a :class:`Series` — one number per repetition — so
the report can never show a single timing as the result: it shows the
median and the spread.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from konferenco.types import new_id

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

EVENT = "bench"
_started = time.monotonic()


def progress(message: str) -> None:
    """Tell the person waiting what is happening (stderr, so stdout stays clean)."""
    print(f"[bench {time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class Series:
    """One measured quantity, one value per repetition."""

    values: tuple[float, ...]
    unit: str

    @classmethod
    def of(cls, values: list[float], unit: str) -> Series:
        if not values:
            raise ValueError("a series needs at least one value")
        return cls(tuple(values), unit)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass(frozen=True, slots=True)
class Row:
    """A line of a result table: the value, and what it is compared with."""

    metric: str
    value: Series
    baseline: Series | None = None
    baseline_label: str = ""
    target: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A target from the issue and whether this run met it."""

    target: str
    measured: str
    met: bool


@dataclass(frozen=True, slots=True)
class Table:
    """A free-form detail table (already formatted cells)."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass
class BenchResult:
    title: str
    method: str  # markdown: what was measured and how
    repetitions: int
    rows: list[Row]
    verdicts: list[Verdict]
    details: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of raw samples."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def scan_fields(device: str, i: int, rng: random.Random) -> dict[str, Any]:
    """Keyword arguments of a plausible scan (for ``DeviceLog.append_scan``).

    Shaped like production scans — a signed badge code, an attendee id shared
    across gates, mostly admissions — so byte counts mean something.
    """
    attendee = f"att-{rng.randrange(20_000):05d}"
    return {
        "nonce": f"{device}-{i}",
        "gate": f"gate-{rng.randrange(4)}",
        "result": "admitted" if rng.random() < 0.9 else "already_admitted",
        "attendee_id": attendee,
        "code": f"kb1.{attendee}.{new_id()}",
        "list_id": "general",
    }


ROOT = Path(__file__).resolve().parent.parent


def konferenco_command() -> list[str]:
    """The installed ``konferenco`` script next to this interpreter, else ``python -m konferenco.cli``."""
    script = Path(sys.executable).parent / "konferenco"
    return [str(script)] if script.exists() else [sys.executable, "-m", "konferenco.cli"]


def konferenco(*args: str, timeout: float = 600.0) -> str:
    """Run a ``konferenco`` command for a benchmark's setup; its stdout, or RuntimeError with stderr."""
    done = subprocess.run(
        [*konferenco_command(), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"konferenco {' '.join(args)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


@contextmanager
def playwright_session(what: str) -> Iterator[Playwright]:
    """Playwright driving Debian's Chromium (tests/browser.py), for the benchmark named ``what``.

    Unlike the tests, a benchmark without Chromium fails loudly: a skipped figure would read as met.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM

    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is not installed: the {what} benchmark runs in a real Chromium")
    with sync_playwright() as playwright:
        yield playwright


@contextmanager
def chromium(what: str) -> Iterator[Browser]:
    """A headless Chromium with the tests' arguments, closed afterwards."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    with playwright_session(what) as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass(frozen=True)
class DemoBox:
    """A seeded demo appliance's data directory, its badges as exported, and the demo staff's PINs."""

    data: Path
    badges: list[dict[str, str]] = field(repr=False)
    pins: dict[str, str] = field(repr=False)  # demo account name ("Door", "Desk", ...) -> PIN


def seed_demo(root: Path, attendees: int, seed: int, what: str) -> DemoBox:
    """``konferenco demo seed`` into ROOT/data, then ``appliance badges``: what a benchmark starts from."""
    data = root / "data"
    t = time.monotonic()
    konferenco("demo", "seed", "--data", str(data), "--attendees", str(attendees), "--seed", str(seed))
    progress(f"{what}: seeded {attendees:,} attendees in {time.monotonic() - t:.1f} s")
    exported = root / "badges.csv"
    konferenco("appliance", "badges", "--data", str(data), "--out", str(exported))
    with exported.open(newline="", encoding="utf-8") as f:
        badges = list(csv.DictReader(f))
    staff = json.loads((data / "secrets" / "demo-staff.json").read_text())
    return DemoBox(data, badges, {name: entry["pin"] for name, entry in staff.items()})
