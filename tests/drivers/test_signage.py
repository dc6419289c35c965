"""Signage over a real Mosquitto: what a display that subscribes late, or a broker that restarts, sees.

Every broker is our own ``mosquitto`` child on a free loopback port (no
persistence, so a restart loses retained messages, as a power cut would),
stopped by its PID.  Displays are plain paho clients.  "Nothing arrived" is
proven with a fence: the listener publishes a marker after subscribing, and
everything the broker had for it arrives before the marker does.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drivers.signage import (
    Alert,
    DisplayCommand,
    GrassrootsNotice,
    RoomCapacity,
    RoomNext,
    RoomNow,
    RoomSchedule,
    Session,
    SignagePublisher,
    Topics,
)
from drivers.signage.displays import DisplayTable
from drivers.signage.outbox import Outbox
from konferenco.types import now_ms
from tests.helpers import ROOT, free_port, wait_for

VENUE = "berlin-2025"
T = Topics(VENUE)
MOSQUITTO = shutil.which("mosquitto") or next(
    (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None
)
KEYNOTE = Session(id="s1", title="Keynote", starts_at=1_700_000_000_000, ends_at=1_700_003_600_000)
LUNCH = Session(id="s2", title="Lunch", starts_at=1_700_003_600_000, ends_at=1_700_007_200_000)


# --- real components ------------------------------------------------------------------------


class Broker:
    """``mosquitto -c conf`` on a fixed free port; can be stopped and started again on the same port."""

    def __init__(self, directory: Path) -> None:
        assert MOSQUITTO is not None
        self.binary = MOSQUITTO
        self.port = free_port()
        self.directory = directory
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_type all\nlog_dest stderr\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def log(self, run: int | None = None) -> str:
        return (self.directory / f"mosquitto-{run or self.runs}.log").read_text(errors="replace")

    def start(self) -> None:
        self.runs += 1
        with (self.directory / f"mosquitto-{self.runs}.log").open("wb") as out:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=out, stderr=out)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}:\n{self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # by PID
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def publishes(self, client_id: str, topic: str, run: int | None = None) -> int:
        """How many PUBLISH packets on ``topic`` the broker received from ``client_id`` in one run."""
        pattern = re.compile(rf"Received PUBLISH from {re.escape(client_id)} \(.*'{re.escape(topic)}'")
        return sum(1 for line in self.log(run).splitlines() if pattern.search(line))


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


class Listener:
    """A display stand-in: a plain paho client recording everything it receives."""

    def __init__(self, port: int, *filters: str) -> None:
        self.port = port
        self.fence_topic = f"test/fence/{uuid.uuid4().hex}"
        self.filters = [*filters, self.fence_topic]
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"display-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, *_: c.subscribe([(f, 1) for f in self.filters])
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._record

    def _record(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append(Message(message.topic, bytes(message.payload), bool(message.retain)))

    def start(self) -> Listener:
        """Connected and subscribed (blocking, well under a second)."""
        self.client.connect("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        if not self.subscribed.wait(10):
            raise TimeoutError("listener not subscribed")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def on(self, topic: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m.topic == topic]

    def last(self, topic: str) -> bytes | None:
        found = self.on(topic)
        return found[-1].payload if found else None

    def fence(self) -> Callable[[], bool]:
        """Publish a marker; the returned predicate is true once it is back (so is all that came before)."""
        marker = uuid.uuid4().bytes
        self.client.publish(self.fence_topic, marker, qos=1)
        return lambda: any(m.payload == marker for m in self.on(self.fence_topic))


async def until(predicate: Callable[[], object], what: str, within: float = 10) -> None:
    """Poll without blocking the loop (the publisher's callbacks run on it)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.02)


async def listen(port: int, *filters: str) -> Listener:
    return await asyncio.to_thread(Listener(port, *filters).start)


async def settled(listener: Listener) -> None:
    await until(listener.fence(), "the listener's fence")


def new_publisher(port: int, **options: Any) -> SignagePublisher:
    options = {"keepalive": 2, "reconnect_max_s": 1, **options}
    return SignagePublisher(venue=VENUE, port=port, client_id=f"appliance-{uuid.uuid4().hex[:8]}", **options)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A broker, not yet started."""
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (apt-get install mosquitto; `make setup` does it)")
    broker = Broker(tmp_path)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def broker(mosquitto: Broker) -> Broker:
    mosquitto.start()
    return mosquitto


@pytest.fixture
async def publisher(broker: Broker) -> AsyncIterator[SignagePublisher]:
    publisher = new_publisher(broker.port)
    await publisher.connect()
    await until(lambda: publisher.connected, "the publisher to connect")
    try:
        yield publisher
    finally:
        await publisher.disconnect()


# --- against the broker ---------------------------------------------------------------------


async def test_late_display_gets_the_retained_room_state(broker: Broker, publisher: SignagePublisher) -> None:
    first = await publisher.publish_room_now("hall-a", KEYNOTE)
    await publisher.publish_room_schedule(
        "hall-a", [LUNCH, KEYNOTE], name="Hall A", day="2023-11-14", tz="Europe/Berlin"
    )
    await publisher.publish_room_next("hall-a", LUNCH)
    await publisher.publish_room_capacity("hall-a", count=95, capacity=100)
    latest = await publisher.publish_room_now("hall-a", LUNCH)
    await until(lambda: publisher.unconfirmed() == 0, "the broker to confirm every state")
    assert latest.rev > first.rev

    display = await listen(broker.port, f"{T.base}/#")
    await settled(display)
    messages = {m.topic: m for m in display.messages if m.topic.startswith(T.base)}
    assert all(m.retain for m in messages.values())
    assert messages[T.status()].payload == b"online"
    now = msgspec.json.decode(messages[T.room("hall-a", "now")].payload, type=RoomNow)
    assert now.session == LUNCH and now.rev == latest.rev and abs(now.ts - now_ms()) < 10_000
    schedule = msgspec.json.decode(messages[T.room("hall-a", "schedule")].payload, type=RoomSchedule)
    assert [s.title for s in schedule.sessions] == ["Keynote", "Lunch"]  # sorted by start
    assert schedule.tz == "Europe/Berlin"
    assert msgspec.json.decode(messages[T.room("hall-a", "next")].payload, type=RoomNext).session == LUNCH
    capacity = msgspec.json.decode(messages[T.room("hall-a", "capacity")].payload, type=RoomCapacity)
    assert (capacity.count, capacity.capacity, capacity.state) == (95, 100, "nearly_full")
    # what a third-party sign parses: plain JSON with the documented keys
    assert msgspec.json.decode(messages[T.room("hall-a", "now")].payload)["session"]["title"] == "Lunch"

    await publisher.disconnect()  # a clean stop says offline itself (the broker drops the will)
    await until(lambda: display.last(T.status()) == b"offline", "offline on a clean stop")
    assert publisher.state().state == "disconnected"
    await publisher.disconnect()  # idempotent
    display.stop()


def test_last_will_says_offline_when_the_publisher_process_is_killed(broker: Broker, tmp_path: Path) -> None:
    display = Listener(broker.port, f"{T.base}/#").start()
    child_code = (
        "import asyncio, sys\n"
        "from drivers.signage import Session, SignagePublisher\n"
        "async def main():\n"
        f"    p = SignagePublisher(venue={VENUE!r}, port={broker.port}, client_id='doomed', keepalive=2)\n"
        "    await p.connect()\n"
        "    await p.publish_room_now('hall-a', Session(id='s1', title='Keynote', starts_at=0, ends_at=1))\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    with (tmp_path / "child.log").open("wb") as out:
        child = subprocess.Popen([sys.executable, "-c", child_code], cwd=ROOT, stdout=out, stderr=out)
    try:
        wait_for(lambda: display.last(T.status()) == b"online", what="the child to say online")
        wait_for(lambda: display.last(T.room("hall-a", "now")), what="the child's room state")
        os.kill(child.pid, signal.SIGKILL)  # no DISCONNECT, no goodbye: only the broker can tell
        child.wait(timeout=5)
        wait_for(lambda: display.last(T.status()) == b"offline", timeout=10, what="the Last Will")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    display.stop()

    late = Listener(broker.port, f"{T.base}/#").start()
    wait_for(late.fence(), what="the fence")
    assert late.last(T.status()) == b"offline"
    assert late.on(T.status())[-1].retain
    now = msgspec.json.decode(late.last(T.room("hall-a", "now")) or b"", type=RoomNow)
    assert now.session is not None and now.session.title == "Keynote"  # displays keep showing the day
    late.stop()


async def test_a_cleared_alert_is_gone_for_late_displays(broker: Broker, publisher: SignagePublisher) -> None:
    live = await listen(broker.port, f"{T.base}/alerts/+")
    first = await publisher.set_alert("fire-drill", "Fire drill at 11:00", level="warning", priority=90)
    await until(lambda: live.last(T.alert("fire-drill")), "the alert")
    alert = msgspec.json.decode(live.last(T.alert("fire-drill")) or b"", type=Alert)
    assert (alert.text, alert.level, alert.priority, alert.rooms) == (
        "Fire drill at 11:00",
        "warning",
        90,
        [],
    )

    await publisher.set_alert("lost-child", "Lost child at the front desk", rooms=["hall-a"])
    await publisher.clear_alert("fire-drill")
    await until(lambda: live.last(T.alert("fire-drill")) == b"", "the empty payload that clears it")

    late = await listen(broker.port, f"{T.base}/alerts/+")
    await settled(late)
    assert [m.topic for m in late.messages if m.topic.startswith(T.base)] == [T.alert("lost-child")]

    again = await publisher.set_alert("fire-drill", "Second drill")
    assert again.rev > first.rev  # a display that kept the old one still takes the new one
    await until(lambda: live.last(T.alert("fire-drill")) == msgspec.json.encode(again), "the alert again")
    live.stop()
    late.stop()


async def test_commands_reach_live_displays_and_are_never_retained(
    broker: Broker, publisher: SignagePublisher
) -> None:
    door = await listen(broker.port, T.command("door-1"))
    sent = await publisher.send_command("door-1", "identify", {"seconds": 10})
    assert sent is not None
    await until(lambda: door.on(T.command("door-1")), "the command")
    (message,) = door.on(T.command("door-1"))
    command = msgspec.json.decode(message.payload, type=DisplayCommand)
    assert (command.command, command.args, command.cid) == ("identify", {"seconds": 10}, sent.cid)
    assert not message.retain

    late = await listen(broker.port, f"{T.base}/displays/#")
    await settled(late)
    assert not [m for m in late.messages if m.topic.startswith(T.base)]
    door.stop()
    late.stop()


async def test_grassroots_notices_go_out_live_never_retained_and_wait_for_the_broker(
    mosquitto: Broker,
) -> None:
    mosquitto.start()
    publisher = new_publisher(mosquitto.port)
    await publisher.connect()
    topic = T.notice("grassroots")
    assert topic == f"{T.base}/notices/grassroots"
    try:
        await until(lambda: publisher.connected, "the publisher to connect")
        board = await listen(mosquitto.port, f"{T.base}/notices/#")
        approved = GrassrootsNotice(
            step="approved", proposal_id="p-1", ref="GR-7K3QD", title="Knitting for hackers", room="hall-a",
            starts_at=KEYNOTE.starts_at, ends_at=KEYNOTE.ends_at, by="Olga Organizer", session_id="gr-d1",
        )  # fmt: skip
        sent = await publisher.publish_grassroots_notice(approved)
        assert sent.rev >= sent.ts > 0  # stamped by the publisher, whatever the caller passed
        await until(lambda: board.on(topic), "the notice")
        (message,) = board.on(topic)
        assert not message.retain
        assert msgspec.json.decode(message.payload, type=GrassrootsNotice) == sent
        assert msgspec.json.decode(message.payload)["step"] == "approved"
        late = await listen(mosquitto.port, f"{T.base}/notices/#")
        await settled(late)
        assert not late.on(topic)  # news: nothing retained for a board switched on afterwards
        board.stop()
        late.stop()

        mosquitto.stop()
        await until(lambda: not publisher.connected, "the publisher to notice")
        for step in ("scheduled", "cancelled"):
            notice = msgspec.structs.replace(approved, step=step)
            await publisher.publish_grassroots_notice(notice)
        await asyncio.to_thread(mosquitto.start)
        await until(lambda: publisher.connected, "the publisher back", within=15)
        # The broker's own log: both notices arrived after the restart, once each.
        await until(lambda: mosquitto.publishes(publisher.client_id, topic, run=2) == 2, "the kept notices")
        with pytest.raises(ValueError):  # a bad id never reaches a display
            await publisher.publish_grassroots_notice(msgspec.structs.replace(approved, room="a/b"))
    finally:
        await publisher.disconnect()


async def test_signs_get_a_sessions_optional_fields_and_the_session_a_count_is_for(
    broker: Broker, publisher: SignagePublisher
) -> None:
    grassroots = Session(
        id="gr-1", title="Knitting", starts_at=LUNCH.starts_at, ends_at=LUNCH.ends_at, grassroots=True,
        host="Margaret Hamilton", type="grassroots",
    )  # fmt: skip
    await publisher.publish_room_schedule("hall-c", [KEYNOTE, grassroots], name="Hall C")
    await publisher.publish_room_capacity("hall-c", count=3, capacity=40, session_id="gr-1")
    display = await listen(broker.port, T.room("hall-c", "schedule"), T.room("hall-c", "capacity"))
    await until(lambda: display.last(T.room("hall-c", "capacity")), "the capacity")
    await until(lambda: display.last(T.room("hall-c", "schedule")), "the schedule")
    shown = msgspec.json.decode(display.last(T.room("hall-c", "schedule")) or b"")["sessions"]
    assert shown[1] | {"speakers": []} == {
        "id": "gr-1", "title": "Knitting", "starts_at": LUNCH.starts_at, "ends_at": LUNCH.ends_at,
        "speakers": [], "grassroots": True, "host": "Margaret Hamilton", "type": "grassroots",
    }  # fmt: skip
    assert shown[0]["grassroots"] is False and shown[0]["host"] is None  # a talk, as before
    capacity = msgspec.json.decode(display.last(T.room("hall-c", "capacity")) or b"", type=RoomCapacity)
    assert (capacity.count, capacity.session_id, capacity.state) == (3, "gr-1", "open")
    display.stop()


async def test_after_a_broker_restart_only_the_latest_state_arrives(mosquitto: Broker) -> None:
    mosquitto.start()
    publisher = new_publisher(mosquitto.port)
    await publisher.connect()
    try:
        await publisher.publish_room_now("hall-a", KEYNOTE)
        await until(lambda: publisher.connected and publisher.unconfirmed() == 0, "the first state")

        mosquitto.stop()
        await until(lambda: publisher.state().state == "disconnected", "the publisher to notice")
        for title in ("v2", "v3", "v4"):
            session = Session(id="s1", title=title, starts_at=KEYNOTE.starts_at, ends_at=KEYNOTE.ends_at)
            await publisher.publish_room_now("hall-a", session)
        await publisher.set_alert("storm", "Storm warning")
        await publisher.clear_alert("storm")  # set and cleared while away: never shown
        assert await publisher.send_command("door-1", "reload") is None  # not kept for later
        assert "waiting" in publisher.state().detail

        await asyncio.to_thread(mosquitto.start)  # same port, empty broker
        display = await listen(mosquitto.port, T.room("hall-a", "now"), T.status(), f"{T.base}/alerts/+")
        now = T.room("hall-a", "now")
        await until(lambda: display.last(now) and display.last(T.status()) == b"online", "the publisher back")
        await settled(display)
        titles = [
            msgspec.json.decode(m.payload, type=RoomNow).session for m in display.on(T.room("hall-a", "now"))
        ]
        assert [s.title for s in titles if s] == ["v4"]
        assert display.last(T.alert("storm")) in (None, b"")
        # the broker's own log: the publisher sent this topic exactly once after the restart
        assert mosquitto.publishes(publisher.client_id, now) == 1
        assert publisher.state().state == "connected" and publisher.unconfirmed() == 0
        display.stop()
    finally:
        await publisher.disconnect()


async def test_a_publisher_started_before_its_broker_publishes_once_it_appears(mosquitto: Broker) -> None:
    publisher = new_publisher(mosquitto.port)
    await publisher.publish_room_capacity("hall-b", count=10, capacity=10)  # before connect(): kept
    await publisher.connect()
    try:
        await until(lambda: "cannot reach" in publisher.state().detail, "the reason staff see")
        assert publisher.state().state == "disconnected"
        await asyncio.to_thread(mosquitto.start)
        display = await listen(mosquitto.port, f"{T.base}/#")
        await until(lambda: display.last(T.room("hall-b", "capacity")), "the state", within=15)
        capacity = msgspec.json.decode(display.last(T.room("hall-b", "capacity")) or b"", type=RoomCapacity)
        assert capacity.state == "full"
        display.stop()
    finally:
        await publisher.disconnect()


async def test_display_heartbeats_fill_the_display_table(broker: Broker) -> None:
    device = await listen(broker.port)
    device.client.publish(T.heartbeat("door-old"), b'{"ts": 1}', qos=1, retain=True).wait_for_publish(5)
    publisher = new_publisher(broker.port)
    await publisher.connect()
    try:
        await until(lambda: publisher.connected, "connection")
        sent_at = now_ms()
        device.client.publish(T.heartbeat("door-2"), b"\x00\xffnot json", qos=1)
        device.client.publish(f"{T.base}/displays/bad id/heartbeat", b'{"ts": 1}', qos=1)
        device.client.publish(T.heartbeat("door-3"), b"", qos=1)
        beat = {"ts": sent_at - 5_000, "room": "hall-a", "uptime_s": 120, "screen_on": True, "vendor": "x"}
        device.client.publish(T.heartbeat("door-1"), msgspec.json.encode(beat), qos=1)
        await until(lambda: "door-1" in publisher.displays(), "door-1's heartbeat")

        table = publisher.displays()
        assert set(table) == {"door-1", "door-2"}  # retained, empty and badly named ones proved nothing
        door1 = table["door-1"]
        assert door1.online and door1.room == "hall-a" and door1.heartbeats == 1
        assert door1.skew_ms is not None and -7_000 < door1.skew_ms < -4_000
        assert door1.last is not None and door1.last.uptime_s == 120  # unknown "vendor" ignored
        assert table["door-2"].online and "unreadable heartbeat" in table["door-2"].problem
    finally:
        device.client.publish(T.heartbeat("door-old"), b"", retain=True)
        device.stop()
        await publisher.disconnect()


async def test_a_port_that_is_not_a_broker_keeps_the_publisher_retrying(tmp_path: Path) -> None:
    """Garbage instead of a CONNACK: the network thread survives and keeps trying."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    attempts: list[int] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            attempts.append(1)
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n\xff\xff\xff\xff")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    publisher = new_publisher(server.getsockname()[1])
    await publisher.publish_room_now("hall-a", KEYNOTE)
    await publisher.connect()
    try:
        await until(lambda: len(attempts) >= 2, "a second attempt after the garbage", within=15)
        assert not publisher.connected
        state = publisher.state()
        assert state.state == "disconnected" and "waiting" in state.detail
    finally:
        await publisher.disconnect()
        stop.set()
        thread.join(5)
        server.close()


# --- without a broker -----------------------------------------------------------------------


async def test_bad_ids_and_values_are_refused_before_they_reach_a_display() -> None:
    publisher = new_publisher(1)
    for room in ("a/b", "#", "+", "", "x" * 65, "hall a"):
        with pytest.raises(ValueError, match="room id"):
            await publisher.publish_room_now(room, KEYNOTE)
    with pytest.raises(ValueError, match="venue id"):
        SignagePublisher(venue="berlin/+")
    with pytest.raises(ValueError, match="count"):
        await publisher.publish_room_capacity("hall-a", count=-1, capacity=10)
    with pytest.raises(ValueError, match="ends before it starts"):
        Session(id="s9", title="Backwards", starts_at=10, ends_at=5)
    with pytest.raises(ValueError, match="priority"):
        await publisher.set_alert("a1", "text", priority=500)
    with pytest.raises(ValueError, match="display id"):
        await publisher.send_command("door/1", "reload")
    with pytest.raises(ValueError, match="command"):
        await publisher.send_command("door-1", "self_destruct")  # type: ignore[arg-type]
    assert publisher.unconfirmed() == 0  # nothing half-queued


def test_settings_come_from_the_manifest() -> None:
    publisher = SignagePublisher.from_settings({"venue": VENUE, "port": 1884})
    assert (publisher.host, publisher.port, publisher.tls, publisher.keepalive) == (
        "127.0.0.1",
        1884,
        False,
        15,
    )
    assert publisher.client_id.startswith(f"konferenco-{VENUE}-")
    assert publisher.manifest.domain == "signage"
    with pytest.raises(ValueError, match="unknown signage settings: prot"):
        SignagePublisher.from_settings({"venue": VENUE, "prot": 1})
    with pytest.raises(ValueError, match="venue"):
        SignagePublisher.from_settings({})


def test_a_stale_resend_after_reconnect_is_corrected() -> None:
    """paho re-sends an unacknowledged message after our republish; the broker must end on the newest."""
    box = Outbox()
    old = box.put("t", b"v1")
    box.sent(1, old)  # in flight when the link dropped
    new = box.put("t", b"v2")  # while away: kept, not sent
    assert box.on_connect() == [new]  # v1 is left to paho's own re-send
    box.sent(2, new)
    assert box.acked(2) is None
    assert box.acked(1) == new  # the broker now holds v1: send v2 again
    box.sent(3, new)
    assert box.acked(3) is None and box.waiting() == 0

    box = Outbox()
    old = box.put("t", b"v1")
    box.sent(1, old)
    new = box.put("t", b"v2")
    box.sent(2, new)
    assert box.acked(1) is None  # v2 is still on its way and lands after v1
    assert box.waiting() == 1
    assert box.acked(2) is None and box.waiting() == 0


def test_latest_only_while_away() -> None:
    box = Outbox()
    for n in range(1000):
        box.put("rooms/a/now", f"v{n}".encode())
    box.put("rooms/b/now", b"b")
    assert [p.payload for p in box.on_connect()] == [b"v999", b"b"]


def test_display_table_goes_stale_and_stays_bounded() -> None:
    table = DisplayTable(stale_after_ms=1_000, max_displays=2)
    assert table.record("d1", b"{}", retained=False, received_at=10_000)
    assert table.record("d2", b"{}", retained=False, received_at=10_500)
    assert not table.record("d3", b"{}", retained=False, received_at=10_500)  # full
    snapshot = table.snapshot(now=11_200)
    assert (snapshot["d1"].online, snapshot["d2"].online) == (False, True)
    assert table.record("d1", b'{"ts": 11300}', retained=False, received_at=11_300)
    assert table.snapshot(now=11_300)["d1"].skew_ms == 0


def test_the_protocol_document_shows_payloads_the_structs_accept() -> None:
    """Third parties build displays from docs/signage-protocol.md: its examples must decode."""
    import drivers.signage.payloads as payloads

    text = (ROOT / "docs" / "signage-protocol.md").read_text()
    examples = re.findall(r"```json (\w+)\n(.*?)```", text, flags=re.DOTALL)
    assert {name for name, _ in examples} >= {
        "RoomSchedule", "RoomNow", "RoomNext", "RoomCapacity", "Alert", "DisplayCommand", "DisplayHeartbeat",
        "GrassrootsNotice",
    }  # fmt: skip
    for name, body in examples:
        msgspec.json.decode(body.encode(), type=getattr(payloads, name), strict=True)
    documented = {
        T.status(): "appliance/status",
        T.room("R", "schedule"): "rooms/{room}/schedule",
        T.room("R", "now"): "rooms/{room}/now",
        T.room("R", "next"): "rooms/{room}/next",
        T.room("R", "capacity"): "rooms/{room}/capacity",
        T.alert("I"): "alerts/{id}",
        T.notice("grassroots"): "notices/grassroots",
        T.command("D"): "displays/{display}/cmd",
        T.heartbeat("D"): "displays/{display}/heartbeat",
    }
    for topic, written in documented.items():
        assert topic == f"{T.base}/" + written.format(room="R", id="I", display="D")
        assert f"| `{written}` |" in text
