"""A schedule edit on one appliance, seen on a second appliance's room sign.

Target (issue #12): an edit made on one appliance is on a second
appliance's signage topic within 1 s (median and p99 over 100 edits).

Two real appliances on this machine: A (``demo seed``, room signs of venue
``bench-a``) and B (initialised from A's catalog, signs of venue
``bench-b``, A as its sync upstream), both publishing to the machine's
Mosquitto (127.0.0.1:1883).  A paho client subscribes to the retained
``rooms/{room}/schedule`` topic of one room at both venues.  Each edit is a
``PUT /api/v1/sessions/{id}`` on A that retitles one session of that room;
its time is from just before the request until B's topic carries the new
title.  Baselines in the same run: the same edit on A's own sign (no sync
hop), and the broker's floor, a paho publish on a topic of our own until
the same subscriber receives it.

``python -m bench.schedule_signage [--repetitions N]`` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.common import BenchResult, Row, Series, Table, Verdict, konferenco, percentile, progress
from tests.helpers import ApplianceProcess

EDITS = 100
TARGET_S = 1.0
BROKER = ("127.0.0.1", 1883)
#: Fields of a session that ``PUT /api/v1/sessions/{id}`` takes back as they are.
BODY_FIELDS = (
    "title", "room_id", "starts_at", "ends_at", "speakers", "speaker_ids", "abstract", "type", "track",
    "language", "attendance", "status", "grassroots", "host", "host_name", "slug", "url",
)  # fmt: skip


class Sign:
    """A room sign stand-in: the newest payload per topic, and who waits for what."""

    def __init__(self, *topics: str) -> None:
        self.latest: dict[str, bytes] = {}
        self.changed = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-sign-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe([(t, 1) for t in topics])
        self.client.on_message = self._record
        self.client.connect(*BROKER, keepalive=10)
        self.client.loop_start()

    def _record(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.latest[message.topic] = bytes(message.payload)
            self.changed.notify_all()

    def wait(self, topic: str, seen: Callable[[bytes], bool], timeout: float = 10) -> float:
        """``time.monotonic()`` when ``topic`` first carries a payload ``seen`` accepts."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not (topic in self.latest and seen(self.latest[topic])):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"nothing on {topic} within {timeout} s")
                self.changed.wait(left)
            return time.monotonic()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _titled(title: str) -> Callable[[bytes], bool]:
    def seen(payload: bytes) -> bool:
        return bool(payload) and any(s["title"] == title for s in json.loads(payload)["sessions"])

    return seen


def _boxes(root: Path) -> tuple[ApplianceProcess, ApplianceProcess, str]:
    a_dir, b_dir = root / "a", root / "b"
    konferenco("demo", "seed", "--data", str(a_dir), "--attendees", "50")
    for data, venue in ((a_dir, "bench-a"), (b_dir, "bench-b")):
        if data == b_dir:
            catalog_key = json.loads((a_dir / "appliance.json").read_text())["catalog_keys"][0]
            konferenco(
                "appliance", "init", "--data", str(b_dir), "--event", "demo", "--device-id", "box-b",
                "--catalog-key", catalog_key,
            )  # fmt: skip
            konferenco("appliance", "import", "--data", str(b_dir), str(a_dir / "catalog.json"))
        konferenco(
            "appliance", "devices", "add", "--data", str(data), "--id", "signs", "--domain", "signage",
            "--set", f"venue={venue}", "--set", f"host={BROKER[0]}", "--set", f"port={BROKER[1]}",
        )  # fmt: skip
    peer = konferenco(
        "appliance", "peer-token", "--data", str(a_dir), "--role", "device", "--peer-id", "box-b",
        "--device-id", "box-b",
    ).strip()  # fmt: skip
    token = konferenco("appliance", "issue-token", "--data", str(a_dir), "--role", "organizer").strip()
    a = ApplianceProcess(a_dir).start()
    b = ApplianceProcess(b_dir, None, "--upstream", a.url, "--upstream-token", peer, "--upstream-peer", "A")
    b.start()
    return a, b, token


def _floor(sign: Sign, topic: str, count: int) -> list[float]:
    """Publish → the same subscriber receives it, on the same broker: what any sign pays."""
    out = []
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-floor-{uuid.uuid4().hex[:8]}")
    publisher.connect(*BROKER, keepalive=10)
    publisher.loop_start()
    try:
        for n in range(count):
            body = json.dumps({"sessions": [{"title": f"floor {n}"}]}).encode()
            start = time.monotonic()
            publisher.publish(topic, body, qos=1)
            out.append(sign.wait(topic, _titled(f"floor {n}")) - start)
    finally:
        publisher.disconnect()
        publisher.loop_stop()
    return out


def run(repetitions: int = 3) -> BenchResult:
    progress("schedule → signs: two appliances, A syncing to B, signs on the machine's Mosquitto")
    with tempfile.TemporaryDirectory(prefix="kf-bench-signs-") as tmp:
        a, b, token = _boxes(Path(tmp))
        client = httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        try:
            schedule = client.get("/api/v1/schedule").json()
            session = next(s for s in schedule["sessions"] if s["status"] == "scheduled")
            room = session["room_id"]
            here, there = (f"konferenco/{v}/v1/rooms/{room}/schedule" for v in ("bench-a", "bench-b"))
            floor_topic = f"bench/floor/{uuid.uuid4().hex}"
            sign = Sign(here, there, floor_topic)
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and not (here in sign.latest and there in sign.latest):
                    time.sleep(0.1)  # both boxes' retained schedules (B's once it synced A's control doc)
                body = {k: session[k] for k in BODY_FIELDS if k in session}
                remote_reps, local_reps, floor_reps = [], [], []
                for rep in range(repetitions):
                    progress(f"schedule → signs, repetition {rep + 1}/{repetitions}: {EDITS} edits on A")
                    remote, local = [], []
                    for n in range(EDITS):
                        title = f"Retitled {rep}-{n}"
                        start = time.monotonic()
                        answer = client.put(
                            f"/api/v1/sessions/{session['id']}", json={**body, "title": title}
                        )
                        if answer.status_code != 200:
                            raise RuntimeError(f"edit refused: {answer.status_code} {answer.text}")
                        local.append(sign.wait(here, _titled(title)) - start)
                        remote.append(sign.wait(there, _titled(title)) - start)
                    remote_reps.append(remote)
                    local_reps.append(local)
                    floor_reps.append(_floor(sign, floor_topic, EDITS))
            finally:
                sign.stop()
        finally:
            client.close()
            b.stop()
            a.stop()
    return _result(remote_reps, local_reps, floor_reps)


def _result(remote: list[list[float]], local: list[list[float]], floor: list[list[float]]) -> BenchResult:
    def series(reps: list[list[float]], pick: Callable[[list[float]], float]) -> Series:
        return Series.of([pick(r) * 1000 for r in reps], "ms")

    med = statistics.median

    def p99(values: list[float]) -> float:
        return percentile(values, 99)

    remote_med, remote_p99 = series(remote, med), series(remote, p99)
    local_med, floor_med = series(local, med), series(floor, med)
    rows = [
        Row("edit on A → B's room sign: median", remote_med, floor_med, "MQTT publish → subscriber",
            f"≤ {TARGET_S * 1000:.0f} ms"),
        Row("edit on A → B's room sign: p99", remote_p99, target=f"≤ {TARGET_S * 1000:.0f} ms"),
        Row("edit on A → A's own room sign: median", local_med, floor_med, "MQTT publish → subscriber"),
        Row("edit on A → A's own room sign: p99", series(local, p99)),
        Row("MQTT publish → subscriber (floor): median", floor_med),
    ]  # fmt: skip
    verdicts = [
        Verdict(
            f"an edit on one appliance is on a second appliance's sign within {TARGET_S:.0f} s (p99)",
            f"median {remote_med.median:.0f} ms, p99 {remote_p99.median:.0f} ms",
            remote_p99.median <= TARGET_S * 1000,
        )
    ]
    details = [
        Table(
            "The run",
            ("what", "value"),
            (
                ("edits per repetition", str(EDITS)),
                ("slowest edit on B's sign, all repetitions", f"{max(max(r) for r in remote) * 1000:.0f} ms"),
            ),
        )
    ]
    notes = [
        "An edit's time includes the HTTP request, the rule check, the fsync'd write on A, the sync to B "
        "over its upstream WebSocket, B's store and projection, B's debounced signage publish and the "
        "broker's delivery.",
        "The signs republish on any change of the control document (debounced), not on the 5-second round.",
    ]
    return BenchResult(
        title="Schedule edit → a second appliance's room sign",
        method=(
            f"Two `konferenco appliance serve` processes (B syncing from A) and a paho subscriber on both "
            f"boxes' retained `rooms/{{room}}/schedule` topics of one room, on the machine's Mosquitto; "
            f"{EDITS} retitles of one session by `PUT /api/v1/sessions/{{id}}` on A per repetition, one at a "
            "time, each timed with `time.monotonic` from before the request until the new title is on the "
            "topic. A repetition's values are the median and p99 of its edits. Baselines in the same "
            "repetition: the same edits on A's own sign, and a bare MQTT publish to the same subscriber."
        ),
        repetitions=len(remote),
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Schedule edit → second appliance's sign benchmark.")
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    from bench.run import render_result

    print("\n".join(render_result(run(args.repetitions))))


if __name__ == "__main__":
    main()
