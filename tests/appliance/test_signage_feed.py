"""Room signs fed by a real appliance through a real Mosquitto: schedule, now/next, capacity."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.catalog.schema import migrate
from appliance.signage_feed import SignageFeed
from drivers.signage import SignagePublisher
from konferenco.types import now_ms
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import Room, Session
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.drivers.test_signage import MOSQUITTO, Broker, Listener, until
from tests.helpers import ApplianceProcess, konferenco, wait_for

VENUE = "expo-hall"
pytestmark = pytest.mark.skipif(
    MOSQUITTO is None, reason="mosquitto is not installed (make setup installs it)"
)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_a_serving_appliance_keeps_every_rooms_schedule_retained_for_late_signs(
    broker: Broker, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "20")
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "signs", "--domain", "signage",
        "--set", f"venue={VENUE}", "--set", "host=127.0.0.1", "--set", f"port={broker.port}",
    )  # fmt: skip
    with ApplianceProcess(data):
        base = f"konferenco/{VENUE}/v1"
        status = Listener(broker.port, f"{base}/appliance/status").start()
        try:
            wait_for(
                lambda: status.last(f"{base}/appliance/status") == b"online", what="the appliance online"
            )
        finally:
            status.stop()
        late = Listener(broker.port, f"{base}/rooms/+/schedule").start()  # a sign switched on afterwards
        try:

            def schedules() -> dict[str, dict[str, object]]:
                return {
                    room: json.loads(payload)
                    for room in ("main-hall", "room-a", "room-b")
                    if (payload := late.last(f"{base}/rooms/{room}/schedule"))
                }

            shown = wait_for(lambda: len(schedules()) == 3 and schedules(), what="three retained schedules")
        finally:
            late.stop()
    assert shown["room-b"]["name"] == "Sala Łódź"
    assert all(len(s["sessions"]) >= 1 for s in shown.values())  # type: ignore[arg-type]


async def test_capacity_and_now_next_follow_the_projection_and_the_schedule(
    broker: Broker, tmp_path: Path
) -> None:
    replica = Replica(SQLiteUpdateStore(tmp_path / "a.db"))
    await replica.start()
    conn = sqlite3.connect(tmp_path / "a.db", isolation_level=None)
    migrate(conn)
    now = now_ms()
    talk = Session(
        id="s1", title="Offline-first doors", room_id="room-b", starts_at=now - 60_000, ends_at=now + 600_000
    )
    later = Session(
        id="s2", title="Badges at scale", room_id="room-b", starts_at=now + 900_000, ends_at=now + 1_800_000
    )
    await replica.write(
        DocName.control("e1"),
        lambda doc: (
            ControlDoc(doc).put_room(Room(id="room-b", name="Sala Łódź", capacity=3)),
            ControlDoc(doc).put_session(talk),
            ControlDoc(doc).put_session(later),
        ),
    )
    conn.execute(  # a workshop list in room-b, and who the projection says is inside it
        "INSERT INTO catalog_list (event_id, id, name, room_id, capacity, reentry)"
        " VALUES ('e1', 'ws', 'WS', 'room-b', 3, 'after_exit')"
    )
    for attendee in ("a1", "a2"):
        conn.execute("INSERT INTO checkin_presence VALUES ('e1', 'ws', ?, 1, ?)", (attendee, now))
    publisher = SignagePublisher(venue=VENUE, host="127.0.0.1", port=broker.port)
    await publisher.connect()
    base = f"konferenco/{VENUE}/v1/rooms/room-b"
    sign = Listener(broker.port, f"{base}/#").start()
    try:
        feed = SignageFeed(publisher, replica, conn, "e1")
        await feed.publish_once()
        await until(lambda: sign.last(f"{base}/capacity"), "the capacity")
        capacity = json.loads(sign.last(f"{base}/capacity") or b"{}")
        assert (capacity["count"], capacity["capacity"]) == (2, 3)
        assert json.loads(sign.last(f"{base}/now") or b"{}")["session"]["title"] == "Offline-first doors"
        assert json.loads(sign.last(f"{base}/next") or b"{}")["session"]["title"] == "Badges at scale"
        # A third person comes in: the sign learns the room is full; nothing else is resent.
        conn.execute("INSERT INTO checkin_presence VALUES ('e1', 'ws', 'a3', 1, ?)", (now,))
        before = len(sign.on(f"{base}/now"))
        await feed.publish_once()
        wait_for(
            lambda: json.loads(sign.last(f"{base}/capacity") or b"{}")["count"] == 3, what="the new count"
        )
        assert json.loads(sign.last(f"{base}/capacity") or b"{}")["state"] == "full"
        assert len(sign.on(f"{base}/now")) == before
    finally:
        sign.stop()
        await publisher.disconnect()
        conn.close()
        await replica.close()
