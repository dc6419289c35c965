"""Two hub workers over one PostgreSQL: what one stores, the other's sessions see, exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import pytest
from pycrdt import Doc

from hub.peer.fanout import HUB_CHANNEL, Fanout
from hub.peer.projection import HubProjection
from hub.peer.store import PostgresUpdateStore
from sync.documents import ControlDoc, DeviceLog
from sync.replica import Replica
from tests.helpers import PG_SERVER as SERVER_URL
from tests.hub.test_pg_store import CONTROL, LOG, add_event, nonces, scan, until


@dataclass
class Worker:
    replica: Replica
    fanout: Fanout
    heard: list[tuple[str, bytes, object]] = field(default_factory=list)

    @property
    def store(self) -> PostgresUpdateStore:
        store = self.replica.store
        assert isinstance(store, PostgresUpdateStore)
        return store


async def start_worker(
    url: str, worker_id: str, store_class: type[PostgresUpdateStore] = PostgresUpdateStore
) -> Worker:
    store = await store_class.connect(
        url, min_size=1, max_size=4, projector=HubProjection(), worker_id=worker_id
    )
    replica = Replica(store)
    fanout = Fanout(url, replica, backoff=(0.05, 0.1, 0.2))
    await fanout.start()  # before the replica loads: nothing can slip between a load and the LISTEN
    await replica.start()
    worker = Worker(replica, fanout)
    replica.subscribe(lambda doc, update, source: worker.heard.append((doc, update, source)))
    return worker


async def stop_worker(worker: Worker) -> None:
    await worker.fanout.stop()
    await worker.replica.close()


@pytest.fixture
async def workers(hub_db: str, pg: asyncpg.Connection) -> AsyncIterator[tuple[Worker, Worker]]:
    await add_event(pg, "e1", "org-one")
    a = await start_worker(hub_db, "wa")
    b = await start_worker(hub_db, "wb")
    yield a, b
    await stop_worker(a)
    await stop_worker(b)


def box_update(numbers: Sequence[int], doc: Doc[Any] | None = None) -> bytes:
    """What appliance d1 sends: its scans, as one update."""
    doc = doc or Doc()
    before = doc.get_state()
    for i in numbers:
        DeviceLog(doc).append_scan(**scan(i))
    return doc.get_update(before)


async def test_an_update_received_by_one_worker_reaches_the_others_sessions_once(
    workers: tuple[Worker, Worker], pg: asyncpg.Connection
) -> None:
    a, b = workers
    await a.replica.open(LOG)
    await b.replica.open(LOG)
    update = box_update(range(5))
    assert await a.replica.receive(LOG, update, "d1") is True

    await until(lambda: len(DeviceLog(b.replica.doc(LOG))) == 5)
    assert nonces(b.replica) == [f"n{i}" for i in range(5)]
    assert [(doc, source) for doc, _, source in b.heard] == [(str(LOG), None)]  # B's sessions relay it
    assert await b.replica.state_vector(LOG) == await a.replica.state_vector(LOG)
    # stored and projected once, by the worker that received it
    assert await pg.fetchval("SELECT count(*) FROM sync_update") == 1
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 5
    # and the appliance syncing with B next finds nothing new to send
    assert await b.replica.receive(LOG, update, "d1") is False
    assert await pg.fetchval("SELECT count(*) FROM sync_update") == 1


async def test_a_local_write_on_one_worker_reaches_the_other(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    await b.replica.open(CONTROL)
    await a.replica.write(CONTROL, lambda doc: ControlDoc(doc).revoke("device", "d7", "stolen"))
    await until(lambda: [r.value for r in ControlDoc(b.replica.doc(CONTROL)).revocations()] == ["d7"])
    # The document changes inside ``absorb``; the counter is added to when it returns, a moment later.
    await until(lambda: b.fanout.absorbed >= 1)
    assert b.fanout.absorbed == 1


async def test_a_worker_that_does_not_hold_a_document_leaves_it_to_the_store(
    workers: tuple[Worker, Worker],
) -> None:
    a, b = workers
    await a.replica.receive(LOG, box_update(range(3)), "d1")
    await a.replica.write(CONTROL, lambda doc: ControlDoc(doc).set_setting("k", 1))
    await until(lambda: b.fanout.handled == 2)
    assert b.replica.loaded() == [] and b.heard == [] and b.fanout.absorbed == 0
    await b.replica.open(LOG)  # loading reads it from the log
    assert nonces(b.replica) == ["n0", "n1", "n2"]


async def test_a_killed_listen_connection_reconnects_and_catches_up(
    workers: tuple[Worker, Worker], pg: asyncpg.Connection
) -> None:
    a, b = workers
    await a.replica.open(LOG)
    await b.replica.open(LOG)
    box: Doc[Any] = Doc()
    await a.replica.receive(LOG, box_update(range(2), box), "d1")
    await until(lambda: len(DeviceLog(b.replica.doc(LOG))) == 2)

    # B's LISTEN connection dies and cannot come back until we allow it: whatever A
    # stores meanwhile B never hears of, and must find in the log.
    database = await pg.fetchval("SELECT current_database()")
    admin = await asyncpg.connect(SERVER_URL)  # a database cannot close itself to connections
    await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    try:
        await pg.execute("SELECT pg_terminate_backend($1)", b.fanout.backend_pid)
        await until(lambda: not b.fanout.connected)
        await a.replica.receive(LOG, box_update(range(2, 4), box), "d1")
        await a.replica.compact(LOG, full=True)  # ...some of it folded into the snapshot already
        await a.replica.receive(LOG, box_update(range(4, 6), box), "d1")
        assert len(DeviceLog(b.replica.doc(LOG))) == 2
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()

    await until(lambda: len(DeviceLog(b.replica.doc(LOG))) == 6)
    assert nonces(b.replica) == [f"n{i}" for i in range(6)]
    assert b.fanout.reconnects == 1 and b.fanout.connected
    assert len(b.heard) >= 2  # B's sessions were told (the catch-up may arrive in one or two updates)
    # and it listens again: the next update arrives by notification
    await a.replica.receive(LOG, box_update(range(6, 7), box), "d1")
    await until(lambda: len(DeviceLog(b.replica.doc(LOG))) == 7)


class HeldStore(PostgresUpdateStore):
    """The real store, but reading notified rows waits until the test lets it."""

    gate: asyncio.Event

    async def updates(self, seqs: Sequence[int]) -> dict[int, tuple[str, bytes]]:
        await self.gate.wait()
        return await super().updates(seqs)


async def test_a_row_compacted_before_it_was_read_is_taken_from_the_stored_state(
    hub_db: str, pg: asyncpg.Connection
) -> None:
    await add_event(pg, "e1", "org-one")
    a = await start_worker(hub_db, "wa")
    HeldStore.gate = asyncio.Event()
    b = await start_worker(hub_db, "wb", HeldStore)
    try:
        await b.replica.open(LOG)
        await a.replica.receive(LOG, box_update(range(3)), "d1")
        await a.replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(3)))
        await a.replica.compact(LOG, full=True)
        assert await pg.fetchval("SELECT count(*) FROM sync_update") == 0
        HeldStore.gate.set()
        await until(lambda: len(DeviceLog(b.replica.doc(LOG))) == 4)
        assert len(b.heard) == 1  # what was new, relayed as one update
    finally:
        await stop_worker(a)
        await stop_worker(b)


async def test_hub_notices_reach_every_worker(workers: tuple[Worker, Worker]) -> None:
    a, b = workers
    got: dict[str, list[str]] = {"a": [], "b": []}

    async def on_b(payload: str) -> None:  # a coroutine handler runs as a task
        got["b"].append(payload)

    await a.fanout.listen(HUB_CHANNEL, got["a"].append)
    unsubscribe = await b.fanout.listen(HUB_CHANNEL, on_b)
    await a.fanout.publish(HUB_CHANNEL, "revoked d7")
    await until(lambda: got == {"a": ["revoked d7"], "b": ["revoked d7"]})
    unsubscribe()
    await a.fanout.publish(HUB_CHANNEL, "revoked d8")
    await until(lambda: got["a"] == ["revoked d7", "revoked d8"])
    assert got["b"] == ["revoked d7"]
    with pytest.raises(ValueError):
        a.fanout.on_message("konferenco_sync", print)


async def test_the_fanout_refuses_a_replica_over_another_store(tmp_path: Any) -> None:
    from sync.sqlite_store import SQLiteUpdateStore

    with pytest.raises(TypeError):
        Fanout("postgresql://unused/db", Replica(SQLiteUpdateStore(tmp_path / "a.db")))


async def test_a_fanout_listening_through_the_pool_reconnects_through_it(
    hub_db: str, pg: asyncpg.Connection
) -> None:
    await add_event(pg, "e1", "org-one")
    a = await start_worker(hub_db, "wa")
    store = await PostgresUpdateStore.connect(hub_db, min_size=1, max_size=3, worker_id="wb")
    b = Replica(store)
    fanout = Fanout(store.pool, b, "wb", backoff=(0.05,))
    await b.start()
    await b.open(LOG)
    await fanout.start()
    try:
        await pg.execute("SELECT pg_terminate_backend($1)", fanout.backend_pid)
        await until(lambda: fanout.reconnects == 1 and fanout.connected)
        await a.replica.receive(LOG, box_update(range(3)), "d1")
        await until(lambda: len(DeviceLog(b.doc(LOG))) == 3)
    finally:
        await fanout.stop()
        await b.close()
        await stop_worker(a)
    assert store.pool.is_closing()
