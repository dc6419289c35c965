"""The schedule service on real replicas: its cache follows every change, wherever it was made.

Two replicas on SQLite stand for two boxes; updates travel between them as
they do by sync (:meth:`Replica.diff` → :meth:`Replica.receive`).  The rule
index is asked for on every slot request, so it must be cached, and the cache
must never show a schedule older than what the replica stored.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from appliance.catalog.schema import migrate
from appliance.schedule.service import ScheduleService
from konferenco.errors import KonferencoError
from konferenco.schedule.model import Room, Session
from konferenco.schedule.slots import SlotQuery, find_slots
from sync import schedule_edits
from sync.documents import ControlDoc
from sync.names import DocName
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore

EVENT = "e1"
CONTROL = DocName.control(EVENT)
T0 = 1_800_000_000_000
HOUR = 3_600_000


async def replica_at(path: Path) -> Replica:
    replica = Replica(SQLiteUpdateStore(path))
    await replica.start()
    return replica


@pytest.fixture
async def boxes(tmp_path: Path) -> AsyncIterator[tuple[ScheduleService, Replica]]:
    """A schedule service on one replica (with a catalog table), and a second replica that syncs to it."""
    here = await replica_at(tmp_path / "here.db")
    there = await replica_at(tmp_path / "there.db")
    conn = sqlite3.connect(tmp_path / "catalog.db", isolation_level=None)
    migrate(conn)
    service = ScheduleService(here, conn, [EVENT], organizer=True)
    try:
        yield service, there
    finally:
        service.close()
        conn.close()
        await here.close()
        await there.close()


async def sync(source: Replica, target: Replica) -> None:
    await target.receive(CONTROL, await source.diff(CONTROL, await target.state_vector(CONTROL)), "peer")


def talk(n: int, room: str = "hall", at: int = T0) -> Session:
    return Session(
        id=f"s{n}", title=f"Talk {n}", room_id=room, starts_at=at + n * HOUR, ends_at=at + n * HOUR + HOUR
    )


async def test_the_index_is_built_once_per_version_and_follows_local_and_synced_changes(
    boxes: tuple[ScheduleService, Replica],
) -> None:
    service, there = boxes
    notices: list[str] = []
    service.watch(notices.append)
    await service.save_room(EVENT, Room(id="hall", name="Hall"))
    first = await service.index(EVENT)
    assert await service.index(EVENT) is first  # no change, no rebuild
    assert notices == [EVENT]

    await service.save_session(EVENT, talk(1), by="Olga")
    second = await service.index(EVENT)
    assert second is not first and set(second.sessions) == {"s1"}
    # A change made on another box, arriving by sync, is seen at once too (and watchers hear of it).
    await sync(service.replica, there)
    await there.write(CONTROL, lambda doc: ControlDoc(doc).put_session(talk(2)))
    await sync(there, service.replica)
    third = await service.index(EVENT)
    assert set(third.sessions) == {"s1", "s2"}
    assert notices == [EVENT] * 3
    assert (await service.state(EVENT)).sessions == third.sessions


async def test_every_read_lays_the_hosts_edits_over_the_sessions(
    boxes: tuple[ScheduleService, Replica],
) -> None:
    service, _ = boxes
    await service.save_room(EVENT, Room(id="hall", name="Hall"))
    await service.save_session(EVENT, talk(1), by="Olga")
    edits: dict[str, str] = {}
    calls = 0

    def overlay(event_id: str, sessions: dict[str, Session]) -> dict[str, Session]:
        nonlocal calls
        assert event_id == EVENT
        calls += 1
        return {
            sid: msgspec.structs.replace(s, title=edits[sid]) if sid in edits else s
            for sid, s in sessions.items()
        }

    service.session_overlay = overlay
    plain = await service.index(EVENT)
    assert plain.sessions["s1"].title == "Talk 1"
    assert await service.index(EVENT) is plain  # the overlay gave equal sessions: the index stays
    edits["s1"] = "Knitting, retitled by its host"
    edited = await service.index(EVENT)
    assert edited is not plain and edited.sessions["s1"].title == "Knitting, retitled by its host"
    assert (await service.session(EVENT, "s1")).title == "Knitting, retitled by its host"
    assert (await service.state(EVENT)).sessions["s1"].title == "Talk 1"  # the document is untouched
    assert calls >= 3


async def test_the_frame_comes_from_the_catalog_else_from_the_control_document(
    boxes: tuple[ScheduleService, Replica],
) -> None:
    service, _ = boxes
    assert (await service.frame(EVENT)).timezone == "UTC"

    def name_and_zone(doc: Any) -> None:
        ControlDoc(doc).set_setting("timezone", "Europe/Vienna")
        ControlDoc(doc).set_setting("name", "Demo Days")

    await service.replica.write(CONTROL, name_and_zone)
    frame = await service.frame(EVENT)
    assert (frame.name, frame.timezone, frame.starts_at) == ("Demo Days", "Europe/Vienna", None)
    service.conn.execute(
        "INSERT INTO catalog_event (id, name, timezone, starts_at, ends_at, revision)"
        " VALUES (?, ?, ?, ?, ?, 1)",
        (EVENT, "Berlin Days", "Europe/Berlin", T0, T0 + 48 * HOUR),
    )
    frame = await service.frame(EVENT)
    assert (frame.name, frame.timezone, frame.starts_at, frame.ends_at) == (
        "Berlin Days", "Europe/Berlin", T0, T0 + 48 * HOUR,
    )  # fmt: skip
    # The index is rebuilt for a new frame: a session outside the event's days is now found.
    await service.save_room(EVENT, Room(id="hall", name="Hall"))
    late = Session(
        id="late", title="Too late", room_id="hall", starts_at=T0 + 50 * HOUR, ends_at=T0 + 51 * HOUR
    )
    with pytest.raises(KonferencoError, match="outside the event's dates"):
        await service.save_session(EVENT, late, by="Olga")
    # An event the hub made without dates reaches the box as 0 and 0: no dates, nothing "outside" them.
    service.conn.execute("UPDATE catalog_event SET starts_at = 0, ends_at = 0 WHERE id = ?", (EVENT,))
    frame = await service.frame(EVENT)
    assert (frame.starts_at, frame.ends_at) == (None, None)
    saved, warnings = await service.save_session(EVENT, late, by="Olga")
    assert saved.id == "late" and warnings == []


async def test_a_box_without_the_organizer_capability_writes_nothing(tmp_path: Path) -> None:
    replica = await replica_at(tmp_path / "kiosk.db")
    conn = sqlite3.connect(":memory:")
    service = ScheduleService(replica, conn, [EVENT], organizer=False)
    try:
        with pytest.raises(KonferencoError, match="organizer capability"):
            await service.save_room(EVENT, Room(id="hall", name="Hall"))
        assert (await service.state(EVENT)).rooms == {}
    finally:
        service.close()
        await replica.close()


async def test_slot_queries_on_5000_sessions_reuse_the_index(boxes: tuple[ScheduleService, Replica]) -> None:
    """The per-request cost: parse and index once, then a query is the finder alone."""
    service, _ = boxes
    rooms = {f"r{n}": Room(id=f"r{n}", name=f"Room {n}", capacity=50 + n) for n in range(200)}
    sessions = {
        f"s{n}": Session(
            id=f"s{n}", title=f"Talk {n}", room_id=f"r{n % 200}",
            starts_at=T0 + (n // 200) * 2 * HOUR, ends_at=T0 + (n // 200) * 2 * HOUR + HOUR,
        )
        for n in range(5000)
    }  # fmt: skip
    frame = await service.frame(EVENT)
    await schedule_edits.apply_import(service.replica, EVENT, rooms, sessions, frame)
    started = time.perf_counter()
    index = await service.index(EVENT)
    built = time.perf_counter() - started
    assert len(index.sessions) == 5000
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        again = await service.index(EVENT)
        find_slots(
            again, SlotQuery(duration_ms=HOUR, attendance=80, window_from=T0, window_to=T0 + 72 * HOUR)
        )
        timings.append(time.perf_counter() - started)
        assert again is index
    timings.sort()
    print(
        f"5,000 sessions: index built in {built * 1000:.1f} ms; per query {timings[10] * 1000:.1f} ms median"
    )
    # Generous bounds for a shared CI machine; the point is that a query does not pay for the build.
    assert timings[len(timings) // 2] < max(0.05, built / 2), (timings, built)


async def test_a_box_waits_for_a_command_line_import_to_finish_before_it_serves(tmp_path: Path) -> None:
    """The data directory's lock: a command writing on a stopped box, then the box that starts meanwhile."""
    import asyncio

    from appliance.box import Box
    from appliance.config import DataDir
    from appliance.demo import seed
    from appliance.schedule.standalone import BoxServing, ServingLock, is_served, writable_schedule

    data = DataDir(tmp_path / "box")
    await seed(data, "demo", count=5, rng_seed=3)
    assert not is_served(data)
    async with writable_schedule(data, "schedule import test.json") as service:
        assert is_served(data)
        assert "schedule import test.json" in ServingLock(data).holder()
        box = Box(data)
        starting = asyncio.create_task(box.start())
        await asyncio.sleep(0.5)
        assert not starting.done()  # waiting for the import
        await service.save_room("demo", Room(id="annex", name="Annex"))
    await asyncio.wait_for(starting, 10)
    try:
        assert "annex" in (await box.schedule.state("demo")).rooms  # what the command wrote, served
        assert is_served(data) and "appliance" in ServingLock(data).holder()
        with pytest.raises(BoxServing, match="appliance"):  # and a command cannot write behind its back
            async with writable_schedule(data, "another import"):
                pass
    finally:
        await box.stop()
    assert not is_served(data)
