"""The staff TUI against a big appliance: how soon it is usable, how fast search answers, its memory.

Targets (issue #15), against a 180,000-attendee appliance:
- start to the first usable screen ≤ 1 s: ``python`` launched → the sign-in screen mounted with
  its name field focused (a fresh process, headless, so the interpreter, the imports and Textual's
  start are all in it);
- keystroke → search results p95 ≤ 100 ms: on the desk, one more letter typed 150 ms after the previous
  results were shown (a quick typist) → the results table holds the
  appliance's answer for the new text;
- memory after 10,000 live-feed events ≤ 150 MB, with no growth after the first 1,000: the TUI on
  the stats section while another process makes 10,000 scans (each a ``scan`` event on the feed).

Baselines in the same run: a bare Textual app with one input started the same way (Textual's own
floor), the same searches as raw ``GET /api/v1/attendees`` with httpx (the API's floor), and the
TUI's own memory right after sign-in.

``python -m bench.tui [--repetitions N] [--attendees N]`` runs it alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.common import BenchResult, Row, Series, Table, Verdict, percentile, progress, seed_demo
from tests.helpers import ApplianceProcess

ATTENDEES = 180_000
STARTS = 5  # process starts per repetition
EVENTS = 10_000
WARM_EVENTS = 1_000
TARGET_START_S = 1.0
TARGET_SEARCH_MS = 100.0
TARGET_MEMORY_MB = 150.0
#: What people type at a desk: surnames, a company, an order code's start, letter by letter.
#: Between one answer and the next letter: a quick typist's interval between keys.
TYPING_S = 0.15
QUERIES = ("kowalczyk", "lefèvre", "tanaka", "ørsted", "zürich cloud", "ord-2", "mbeki", "häkkinen")

_CHILD_TUI = """
import asyncio, sys
from textual.widgets import Input
from kiosk_ui.tui.app import StaffApp
async def main():
    app = StaffApp(sys.argv[1])
    async with app.run_test(size=(120, 40)) as pilot:
        while not (app.screen.query("#name") and app.screen.query_one("#name", Input).has_focus):
            await pilot.pause(0.005)
        print("READY", flush=True)
asyncio.run(main())
"""

_CHILD_FLOOR = """
import asyncio
from textual.app import App
from textual.widgets import Input
class Bare(App):
    def compose(self):
        yield Input(id="name")
async def main():
    app = Bare()
    async with app.run_test(size=(120, 40)) as pilot:
        while not app.query_one("#name", Input).has_focus:
            await pilot.pause(0.005)
        print("READY", flush=True)
asyncio.run(main())
"""


def _start_s(code: str, *args: str) -> float:
    """Seconds from launching ``python -c CODE`` to its READY line."""
    t = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1]
    ) as child:
        assert child.stdout is not None
        line = child.stdout.readline()
        elapsed = time.perf_counter() - t
        child.wait(timeout=30)
    if line.strip() != "READY":
        raise RuntimeError(f"the TUI did not start: {line!r}")
    return elapsed


def _keystroke(app: Any, letter: str) -> None:
    """One key as the terminal driver hands it to the app (no test-harness waiting around it)."""
    from textual import events

    event = events.Key("space" if letter == " " else letter, letter)
    event.set_sender(app)
    app._driver.send_message(event)


async def _settle(check: Callable[[], bool], what: str, within: float = 60) -> None:
    """Poll CHECK on the app's own loop, 1 ms apart (the pilot's waits walk every widget)."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def _signed_in(pilot: Any, pin: str) -> None:
    from textual.widgets import Input

    app = pilot.app
    await _settle(lambda: bool(app.screen.query("#name")), "the sign-in screen")
    app.screen.query_one("#name", Input).value = "Desk"
    app.screen.query_one("#pin", Input).value = pin
    app.screen.query_one("#pin", Input).focus()
    await pilot.press("enter")
    await _settle(lambda: app.current_mode == "desk", "the desk")


async def search_latencies(url: str, pin: str) -> list[float]:
    """One more letter → the answer for the new text in the table, ms, for every letter of QUERIES."""
    from kiosk_ui.tui.app import StaffApp

    app = StaffApp(url)
    out: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await _signed_in(pilot, pin)
        desk: Any = app.screen
        for query in QUERIES:
            await pilot.press("escape")  # the search field, emptied
            desk.query_one("#desk-search").value = ""
            await pilot.pause(0.05)
            for i, letter in enumerate(query):
                t = time.perf_counter()
                _keystroke(app, letter)
                if i < 1:  # one letter asks nothing
                    await asyncio.sleep(0.05)
                    continue
                typed = query[: i + 1].strip()
                await _settle(lambda typed=typed: desk.answered == typed, "the results")
                out.append((time.perf_counter() - t) * 1000)
                await asyncio.sleep(TYPING_S)
    return out


def api_latencies(url: str, token: str) -> list[float]:
    """The baseline: the same texts as raw GET /api/v1/attendees, one at a time, ms each."""
    out = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for query in QUERIES:
            for i in range(2, len(query) + 1):
                t = time.perf_counter()
                client.get(
                    "/api/v1/attendees", params={"q": query[:i].strip(), "limit": 50}
                ).raise_for_status()
                out.append((time.perf_counter() - t) * 1000)
    return out


_CHILD_STORM = """
import sys, uuid
from concurrent.futures import ThreadPoolExecutor
import httpx
url, token, path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
codes = open(path, encoding="utf-8").read().split()
chosen = [codes[i % len(codes)] for i in range(count)]
def worker(part):
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for code in part:
            body = {"code": code, "gate": "south", "nonce": uuid.uuid4().hex}
            client.post("/api/v1/scans", json=body).raise_for_status()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(worker, [chosen[i::4] for i in range(4)]))
"""


async def _storm(url: str, token: str, codes: Path, count: int) -> None:
    """COUNT scans from another process over 4 connections (a busy door); each is one live event."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD_STORM, url, token, str(codes), str(count)
    )
    if await child.wait() != 0:
        raise RuntimeError("the scan storm failed")


async def memory_mb(url: str, pin: str, token: str, codes: Path) -> tuple[float, float, float, int]:
    """RSS after sign-in, after WARM_EVENTS and after EVENTS live events (MB), and events seen."""
    from kiosk_ui.tui.app import StaffApp

    me = psutil.Process()
    app = StaffApp(url)
    async with app.run_test(size=(120, 40)) as pilot:
        await _signed_in(pilot, pin)
        await pilot.press("f7")
        await _settle(lambda: app.current_mode == "stats", "the stats section")
        await pilot.pause(1.0)
        base = me.memory_info().rss / 2**20
        storm = asyncio.ensure_future(_storm(url, token, codes, EVENTS))
        await _settle(lambda: app.live_events >= WARM_EVENTS, "the first events", within=600)
        warm = me.memory_info().rss / 2**20
        await storm
        await _settle(lambda: app.live_events >= EVENTS, "every event", within=120)
        await pilot.pause(2.0)  # the throttled reloads settle
        end = me.memory_info().rss / 2**20
        return base, warm, end, app.live_events


def _memory_in_a_child(url: str, pin: str, token: str, codes: Path) -> tuple[float, float, float, int]:
    """:func:`memory_mb` in a process of its own: the TUI's memory, not this benchmark's roster."""
    env = {**os.environ, "KF_BENCH_PIN": pin, "KF_BENCH_TOKEN": token}
    answer = subprocess.run(
        [sys.executable, "-m", "bench.tui", "--memory-child", url, str(codes)],
        env=env, capture_output=True, text=True, timeout=1200, cwd=Path(__file__).parents[1], check=False,
    )  # fmt: skip
    if answer.returncode != 0:
        raise RuntimeError(f"the memory run failed: {answer.stderr[-2000:]}")
    base, warm, end, seen = json.loads(answer.stdout.strip().splitlines()[-1])
    return float(base), float(warm), float(end), int(seen)


def run(repetitions: int = 3, attendees: int = ATTENDEES) -> BenchResult:
    progress(f"tui: seeding {attendees:,} attendees")
    with tempfile.TemporaryDirectory(prefix="kf-bench-tui-") as tmp:
        box = seed_demo(Path(tmp), attendees, 23, "tui")
        pin, codes_all = box.pins["Desk"], [r["badge_code"] for r in box.badges]
        appliance = ApplianceProcess(box.data).start(timeout=120)
        starts: list[float] = []
        floors: list[float] = []
        search: list[float] = []
        search_p95: list[float] = []
        api_p95: list[float] = []
        api_all: list[float] = []
        memory: list[tuple[float, float, float, int]] = []
        try:
            login = httpx.post(
                f"{appliance.url}/api/v1/auth/login",
                json={"name": "Desk", "secret": pin},
                timeout=30,
            )
            login.raise_for_status()
            token = login.json()["token"]
            _start_s(_CHILD_TUI, appliance.url)  # the first start fills the page cache: not measured
            for rep in range(repetitions):
                progress(f"tui, repetition {rep + 1}/{repetitions}: starts")
                starts += [_start_s(_CHILD_TUI, appliance.url) for _ in range(STARTS)]
                floors += [_start_s(_CHILD_FLOOR) for _ in range(STARTS)]
                progress(f"tui, repetition {rep + 1}/{repetitions}: search as you type")
                typed = asyncio.run(search_latencies(appliance.url, pin))
                search += typed
                search_p95.append(percentile(typed, 95))
                raw = api_latencies(appliance.url, token)
                api_all += raw
                api_p95.append(percentile(raw, 95))
                progress(f"tui, repetition {rep + 1}/{repetitions}: {EVENTS:,} live events")
                codes = Path(tmp) / f"codes-{rep}.txt"
                codes.write_text("\n".join(codes_all[rep * 2000 : (rep + 1) * 2000]), encoding="utf-8")
                memory.append(_memory_in_a_child(appliance.url, pin, token, codes))
        finally:
            appliance.stop()
    start = Series.of(starts, "s")
    floor = Series.of(floors, "s")
    typed_p95 = Series.of(search_p95, "ms")
    raw_p95 = Series.of(api_p95, "ms")
    end_mb = Series.of([m[2] for m in memory], "MB")
    base_mb = Series.of([m[0] for m in memory], "MB")
    growth = Series.of([(m[2] - m[1]) / m[1] * 100 for m in memory], "%")
    return BenchResult(
        title="Staff TUI: start, search as you type, memory under the live feed",
        method=(
            f"`konferenco appliance serve` on `konferenco demo seed --attendees {attendees:,}`; the TUI "
            "(`kiosk_ui.tui.app.StaffApp`) headless under Textual's own test driver, signed in as the demo "
            f"desk. Start: {STARTS} fresh `python` processes per repetition, launch → sign-in screen with "
            "its name field focused; baseline a bare Textual app with one input, same harness. Search: "
            f"{len(QUERIES)} queries typed letter by letter on the desk, each letter after the previous "
            "answer was shown, → the table holds the answer for the new text; baseline the same texts as "
            "raw `GET /api/v1/attendees` (httpx). Memory: RSS of a process running only the TUI, on "
            f"the stats section, while another client makes {EVENTS:,} scans (one `scan` event each on "
            "the live feed)."
        ),
        repetitions=repetitions,
        rows=[
            Row(
                "launch → sign-in screen usable (median)",
                start,
                floor,
                "bare Textual app, same harness",
                target=f"≤ {TARGET_START_S:.0f} s",
            ),
            Row(
                "launch → sign-in screen usable (p95 of all starts)", Series.of([percentile(starts, 95)], "s")
            ),
            Row(
                "keystroke → search results: p95",
                typed_p95,
                raw_p95,
                "raw API search (httpx): p95",
                target=f"≤ {TARGET_SEARCH_MS:.0f} ms",
            ),
            Row(
                "keystroke → search results: median",
                Series.of([percentile(search, 50)], "ms"),
                Series.of([percentile(api_all, 50)], "ms"),
                "raw API search (httpx): median",
            ),
            Row(
                f"RSS after {EVENTS:,} live events",
                end_mb,
                base_mb,
                "RSS right after sign-in",
                target=f"≤ {TARGET_MEMORY_MB:.0f} MB",
            ),
            Row(f"RSS growth from event {WARM_EVENTS:,} to {EVENTS:,}", growth),
        ],
        verdicts=[
            Verdict(
                f"start → first usable screen ≤ {TARGET_START_S:.0f} s",
                f"{start.median:.2f} s",
                start.median <= TARGET_START_S,
            ),
            Verdict(
                f"keystroke → search results p95 ≤ {TARGET_SEARCH_MS:.0f} ms",
                f"{typed_p95.median:.0f} ms",
                typed_p95.median <= TARGET_SEARCH_MS,
            ),
            Verdict(
                f"memory after {EVENTS:,} live events ≤ {TARGET_MEMORY_MB:.0f} MB",
                f"{end_mb.median:.0f} MB",
                end_mb.median <= TARGET_MEMORY_MB,
            ),
            Verdict(
                f"no growth after the first {WARM_EVENTS:,} events (≤ 5 %)",
                f"{growth.median:+.1f} %",
                growth.median <= 5.0,
            ),
        ],
        details=[
            Table(
                "Each repetition's memory",
                (
                    "repetition",
                    "after sign-in",
                    f"after {WARM_EVENTS:,} events",
                    f"after {EVENTS:,}",
                    "events seen",
                ),
                tuple(
                    (str(i + 1), f"{m[0]:.0f} MB", f"{m[1]:.0f} MB", f"{m[2]:.0f} MB", f"{m[3]:,}")
                    for i, m in enumerate(memory)
                ),
            )
        ],
        notes=[
            "The start includes the interpreter, every import and Textual's first frame; it does not "
            "include signing in (the sign-in screen needs nothing from the appliance to be usable).",
            "Search latency includes the TUI's own wait for a pause in typing, the HTTP request, the "
            "appliance's full-text search over every attendee and redrawing the table.",
            '"No growth" is read as at most 5 % more RSS after 10,000 events than after 1,000: the '
            "allocator keeps some pages, and the stats section's reloads come and go.",
        ],
    )


def main() -> None:
    if sys.argv[1:2] == ["--memory-child"]:  # one memory run, in its own process (see run())
        url, codes = sys.argv[2], Path(sys.argv[3])
        pin, token = os.environ["KF_BENCH_PIN"], os.environ["KF_BENCH_TOKEN"]
        print(json.dumps(asyncio.run(memory_mb(url, pin, token, codes))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--attendees", type=int, default=ATTENDEES)
    args = parser.parse_args()
    result = run(args.repetitions, args.attendees)
    for row in result.rows:
        base = f" (baseline {row.baseline.median:.3f})" if row.baseline else ""
        print(f"{row.metric}: {row.value.median:.3f} {row.value.unit}{base}", file=sys.stderr)
    for verdict in result.verdicts:
        print(f"{'MET' if verdict.met else 'MISSED'}: {verdict.target} ({verdict.measured})", file=sys.stderr)


if __name__ == "__main__":
    main()
