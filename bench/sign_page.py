"""Room sign page: a schedule change on the appliance → the sign's DOM, and the sign's memory over a day.

Real parts, as in ``tests/kiosk_ui/signage``: a demo appliance, its own Mosquitto on
the files ``konferenco appliance signage broker-config`` writes (MQTT and WebSockets
listeners, ACL, passwords), headless Debian Chromium on ``/signage/{room}``.

* **Latency.** An organizer's ``PUT /api/v1/sessions/{id}`` (a new title for the session
  on now) until the title is in the sign's DOM (a MutationObserver in the page notes
  ``Date.now()``; the benchmark notes ``time.time()`` before the PUT: one machine, one
  clock).  Baseline in the same repetition: a raw paho subscriber (the signs' read-only
  user) receiving the same ``rooms/{room}/schedule`` publication.
* **Memory.** A second sign with Playwright's fake clock (``page.clock``): 24 simulated
  hours in one-minute steps (``fast_forward``), each step a new schedule and occupancy
  published straight to the broker, so the page redraws every minute of the day.  The JS
  heap (``Runtime.getHeapUsage`` after ``HeapProfiler.collectGarbage``, through CDP) after
  the first simulated hour (warm-up) and at the end; growth above 10 % misses the target
  (the run never fails on it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import BenchResult, Row, Series, Table, Verdict, chromium, percentile, progress

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.kiosk_ui.signage.conftest import Signs

UPDATES = 15  # schedule changes per repetition
TARGET_MEDIAN_MS = 1000
TARGET_GROWTH = 0.10
DAY_MIN = 24 * 60
WARMUP_MIN = 60

OBSERVE = """(title) => {
  window.__seen = window.__seen || {};
  const target = document.getElementById('now');
  const check = () => {
    if (!(title in window.__seen) && target.textContent.includes(title)) {
      window.__seen[title] = Date.now();
      observer.disconnect();
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(target, {childList: true, subtree: true, characterData: true});
  check();
}"""


class RawSubscriber:
    """The baseline: a plain paho client on the room's schedule, noting when each title arrives."""

    def __init__(self, signs: Signs, topic: str) -> None:
        self.seen: dict[str, float] = {}
        self.wanted: set[str] = set()
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{uuid.uuid4().hex[:8]}")
        self.client.username_pw_set("signage", signs.secrets()["signage_password"])
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", signs.broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()

    def _message(self, client: Any, userdata: Any, message: Any) -> None:
        at = time.time()
        text = message.payload.decode(errors="replace")
        with self.lock:
            for title in self.wanted:
                if title not in self.seen and title in text:
                    self.seen[title] = at

    def want(self, title: str) -> None:
        with self.lock:
            self.wanted.add(title)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _connected(page: Page, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(
        "document.body.dataset.link === 'up' && document.body.dataset.status === 'online'"
    ):
        if time.monotonic() > deadline:
            raise TimeoutError("the sign did not connect to the broker")
        time.sleep(0.05)


def _latency(
    browser: Browser, signs: Signs, session: dict[str, Any], room: str, rep: int
) -> tuple[list[float], list[float]]:
    """UPDATES schedule changes: ms to the sign's DOM, and ms to a raw subscriber."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = context.new_page()
    raw = RawSubscriber(signs, f"{signs.base}/rooms/{room}/schedule")
    sign_ms: list[float] = []
    raw_ms: list[float] = []
    try:
        page.goto(f"{signs.url}/signage/{room}")
        _connected(page)
        for i in range(UPDATES):
            title = f"Bench talk {rep}.{i}"
            page.evaluate(OBSERVE, title)
            raw.want(title)
            started = time.time()
            signs.put_session(session, title=title)
            deadline = time.monotonic() + 10
            while True:
                seen = page.evaluate("(t) => (window.__seen || {})[t] || 0", title)
                if seen and title in raw.seen:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"'{title}' did not reach the sign within 10 s")
                time.sleep(0.01)
            sign_ms.append(seen - started * 1000)
            raw_ms.append((raw.seen[title] - started) * 1000)
            time.sleep(0.2)  # the feed's settle time: one change, one publication
    finally:
        raw.close()
        context.close()
    return sign_ms, raw_ms


def _heap(cdp: Any) -> float:
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.collectGarbage")
    return float(cdp.send("Runtime.getHeapUsage")["usedSize"])


def _memory(browser: Browser, signs: Signs, room: str) -> tuple[float, float, int, bool, str]:
    """A simulated day in one-minute steps: heap after warm-up and at the end, messages, connected, shown."""
    context = browser.new_context(viewport={"width": 1920, "height": 1080}, bypass_csp=True)
    page = context.new_page()
    page.clock.install(time=time.time())
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    publisher.username_pw_set("appliance", signs.secrets()["appliance_password"])
    publisher.connect("127.0.0.1", signs.broker.port)
    publisher.loop_start()
    sent = 0
    try:
        page.goto(f"{signs.url}/signage/{room}")
        _connected(page)
        # The appliance's clock is not a day ahead: the sign must keep the page's (fake) one.
        page.route("**/api/v1/signage/access", lambda route: route.abort())
        cdp = context.new_cdp_session(page)
        start = int(time.time() * 1000)
        rev = start
        warm = 0.0
        for minute in range(DAY_MIN):
            page.clock.fast_forward(60_000)
            t = start + (minute + 1) * 60_000
            rev += 2
            sessions = [
                {"id": f"b-{(minute + k) // 30}", "title": f"Session {(minute + k) // 30} of the day",
                 "starts_at": start + ((minute + k) // 30) * 1_800_000,
                 "ends_at": start + ((minute + k) // 30 + 1) * 1_800_000,
                 "speakers": [f"Speaker {minute % 7}"]}
                for k in (0, 30, 60, 90)
            ]  # fmt: skip
            schedule = {"rev": rev, "ts": t, "room": room, "name": "Bench Hall", "tz": "Europe/Vienna",
                        "sessions": sessions}  # fmt: skip
            capacity = {"rev": rev + 1, "ts": t, "room": room, "count": minute % 200, "capacity": 200,
                        "state": "open"}  # fmt: skip
            publisher.publish(f"{signs.base}/rooms/{room}/schedule", json.dumps(schedule), qos=0, retain=True)
            publisher.publish(f"{signs.base}/rooms/{room}/capacity", json.dumps(capacity), qos=0, retain=True)
            sent += 2
            time.sleep(0.005)
            if minute + 1 == WARMUP_MIN:
                time.sleep(0.5)
                warm = _heap(cdp)
        time.sleep(0.5)
        end = _heap(cdp)
        alive = bool(page.evaluate("document.body.dataset.link === 'up'"))
        shown = " ".join(page.inner_text("#now").split())
        return warm, end, sent, alive, shown
    finally:
        publisher.disconnect()
        publisher.loop_stop()
        context.close()


def run(repetitions: int = 3) -> BenchResult:
    from tests.kiosk_ui.signage.conftest import ROOM, make_signs, now_ms

    progress("room sign page: demo appliance, its own Mosquitto (MQTT + WebSockets), Chromium")
    with tempfile.TemporaryDirectory(prefix="kf-bench-sign-") as tmp:
        setup = make_signs(Path(tmp))
        signs = next(setup)
        try:
            session = signs.add_session(ROOM, "Bench talk", now_ms() - 5 * 60_000, 120, speakers=["Ada"])
            sign_med: list[float] = []
            sign_p95: list[float] = []
            raw_med: list[float] = []
            raw_p95: list[float] = []
            growth: list[float] = []
            heaps: list[tuple[float, float, int, bool, str]] = []
            with chromium("sign") as browser:
                for rep in range(repetitions):
                    progress(
                        f"room sign page: repetition {rep + 1}/{repetitions}: {UPDATES} schedule changes"
                    )
                    sign_ms, raw_ms = _latency(browser, signs, session, ROOM, rep)
                    sign_med.append(statistics.median(sign_ms))
                    sign_p95.append(percentile(sign_ms, 95))
                    raw_med.append(statistics.median(raw_ms))
                    raw_p95.append(percentile(raw_ms, 95))
                    progress(f"room sign page: repetition {rep + 1}/{repetitions}: 24 simulated hours")
                    warm, end, sent, alive, shown = _memory(browser, signs, f"bench-{rep}")
                    heaps.append((warm, end, sent, alive, shown))
                    growth.append((end - warm) / warm * 100 if warm else 0.0)
        finally:
            setup.close()
    sign_median = Series.of(sign_med, "ms")
    grow = Series.of(growth, "%")
    rows = [
        Row("schedule change → sign's DOM (median)", sign_median, Series.of(raw_med, "ms"),
            "raw paho subscriber, same publication", f"≤ {TARGET_MEDIAN_MS} ms"),
        Row("schedule change → sign's DOM (p95)", Series.of(sign_p95, "ms"), Series.of(raw_p95, "ms"),
            "raw paho subscriber, same publication"),
        Row("JS heap after warm-up", Series.of([h[0] / 1024 / 1024 for h in heaps], "MB")),
        Row("JS heap after 24 simulated hours", Series.of([h[1] / 1024 / 1024 for h in heaps], "MB")),
        Row("heap growth after warm-up", grow, target=f"≤ {TARGET_GROWTH * 100:.0f} %"),
    ]  # fmt: skip
    verdicts = [
        Verdict(f"schedule change → sign updated, median ≤ {TARGET_MEDIAN_MS} ms",
                f"{sign_median.median:.0f} ms", sign_median.median <= TARGET_MEDIAN_MS),
        Verdict(f"sign memory after 24 h of simulated updates: growth ≤ {TARGET_GROWTH * 100:.0f} %",
                f"{grow.median:+.1f} %", grow.high <= TARGET_GROWTH * 100),
    ]  # fmt: skip
    details = [
        Table(
            "The simulated day",
            ("what", "value"),
            (
                ("steps", f"{DAY_MIN} one-minute steps (page.clock.fast_forward), warm-up {WARMUP_MIN} min"),
                ("messages to the sign per simulated day", f"{heaps[-1][2]:,} (schedule + occupancy)"),
                ("sign still connected at the end", "yes" if all(h[3] for h in heaps) else "no"),
                ("what the sign showed at the end of the day", heaps[-1][4][:120]),
                ("schedule changes per repetition", str(UPDATES)),
            ),
        )
    ]  # fmt: skip
    notes = [
        "The latency includes the organizer's HTTP PUT, the appliance's feed (it waits 150 ms for the rest "
        "of a burst before it publishes), Mosquitto, WebSockets and the page's redraw; the baseline shares "
        "everything but the WebSocket hop and the page.",
        "The fake clock moves the page's timers and performance.now(); the broker, the network and mqtt.js's "
        "socket run in real time, so the day takes a few minutes, not 24 hours.",
    ]
    return BenchResult(
        title="Room sign page: schedule change → sign, and memory over a day",
        method=(
            "`konferenco appliance serve` (demo event) with a signage publisher on its own Mosquitto 2 "
            "(`konferenco appliance signage broker-config`: MQTT + WebSockets listeners, ACL, passwords); "
            "`/signage/{room}` in headless Debian Chromium (Playwright, 1920x1080). Latency: an organizer's "
            f"`PUT /api/v1/sessions/{{id}}` → the new title in the sign's DOM (MutationObserver), {UPDATES} "
            "changes per repetition; baseline: a raw paho subscriber of the same topic. Memory: a second "
            "sign with Playwright's fake clock through 24 simulated hours of per-minute updates; JS heap by "
            "CDP after garbage collection."
        ),
        repetitions=repetitions,
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Room sign page benchmark (Chromium, Mosquitto).")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    from bench.run import render_result

    print("\n".join(render_result(run(args.repetitions))))


if __name__ == "__main__":
    main()
