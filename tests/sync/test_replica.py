"""The replica and its SQLite update log: durability, idempotence, recovery, compaction."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest
from pycrdt import Array, Doc

from sync.documents import ControlDoc, DeviceLog
from sync.names import DocName
from sync.projection import FIRST_ADMISSIONS, RecordProjection
from sync.protocol import ProtocolError
from sync.records import Scan
from sync.replica import MAX_LOG_BATCH, WARM_DOCUMENTS, Replica
from sync.sqlite_store import SQLiteUpdateStore
from sync.store import StorageError, TooLate

LOG = DocName.device("e1", "d1")
CONTROL = DocName.control("e1")


async def open_replica(path: Path) -> Replica:
    replica = Replica(SQLiteUpdateStore(path, projector=RecordProjection()))
    await replica.start()
    return replica


def scan(i: int, attendee: str | None = None) -> dict[str, object]:
    return {"nonce": f"n{i}", "gate": "A", "result": "admitted", "attendee_id": attendee or f"att{i}"}


async def write_scans(replica: Replica, numbers: range) -> None:
    """One local write per scan, as a door device makes them."""
    for i in numbers:
        await replica.write(LOG, lambda doc, i=i: DeviceLog(doc).append_scan(**scan(i)))


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


async def test_local_writes_survive_a_restart_with_their_projection(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await write_scans(replica, range(20))
    first_client = replica.doc(LOG).client_id
    await replica.close()

    again = await open_replica(db)
    records = DeviceLog(again.doc(LOG)).records()
    assert [r.nonce for r in records] == [f"n{i}" for i in range(20)]
    assert rows(db, "SELECT count(*) FROM sync_record WHERE kind = 'scan'") == [(20,)]
    # a new process start never reuses the Yjs client id
    assert again.doc(LOG).client_id != first_client
    await again.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(20)))
    assert len(DeviceLog(again.doc(LOG))) == 21
    await again.close()


async def test_a_failed_mutation_leaves_nothing_behind(tmp_path: Path) -> None:
    replica = await open_replica(tmp_path / "a.db")
    await replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(0)))

    def half_then_fail(doc: Doc) -> None:
        DeviceLog(doc).append_scan(**scan(1))
        raise RuntimeError("the decision failed after touching the document")

    with pytest.raises(RuntimeError):
        await replica.write(LOG, half_then_fail)
    # the half-written scan was only in memory: the replica reloaded from the store
    assert [r.nonce for r in DeviceLog((await replica.open(LOG)).doc).records()] == ["n0"]
    await replica.close()


async def test_remote_update_is_stored_once_and_duplicates_are_ignored(tmp_path: Path) -> None:
    a = await open_replica(tmp_path / "a.db")
    b = await open_replica(tmp_path / "b.db")
    await write_scans(a, range(5))
    await b.open(LOG)
    update = await a.diff(LOG, await b.state_vector(LOG))
    assert await b.receive(LOG, update, "a") is True
    assert await b.receive(LOG, update, "a") is False
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_update") == [(1,)]
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_record") == [(5,)]
    assert await a.state_vector(LOG) == await b.state_vector(LOG)
    await a.close()
    await b.close()


async def test_garbage_update_is_refused_and_nothing_is_stored(tmp_path: Path) -> None:
    b = await open_replica(tmp_path / "b.db")
    for garbage in (b"", b"\x01", b"\x01\x02garbage", b"\xff" * 32):
        with pytest.raises(ProtocolError) as info:
            await b.receive(LOG, garbage, "mallory")
        assert info.value.code == "bad_update"
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_update") == [(0,)]
    await b.close()


async def test_an_invalid_remote_record_is_quarantined_and_the_rest_projected(tmp_path: Path) -> None:
    b = await open_replica(tmp_path / "b.db")
    rogue = Doc()
    log = rogue.get("log", type=Array)
    with rogue.transaction():
        log.append({"kind": "scan", "nonce": "ok1", "gate": "A", "result": "admitted", "id": "r1", "at": 1})
        log.append({"kind": "scan", "nonce": 5})
        log.append("not even an object")
        log.append({"kind": "teleport", "id": "r2", "at": 2})
    assert await b.receive(LOG, rogue.get_update(), "rogue") is True
    assert rows(tmp_path / "b.db", "SELECT id FROM sync_record") == [("r1",)]
    quarantined = await b.store.quarantined()
    assert len(quarantined) == 3
    assert all(q["doc"] == str(LOG) and q["error"] for q in quarantined)
    assert "Expected `str`" in str(quarantined[0]["error"]) or "nonce" in str(quarantined[0]["error"])
    await b.close()

    # A crash before the projection's last chunk re-projects the update: reported once, still.
    with sqlite3.connect(tmp_path / "b.db") as conn:
        conn.execute("UPDATE sync_update SET projected = 0")
    again = await open_replica(tmp_path / "b.db")
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_update WHERE projected = 0") == [(0,)]
    assert len(await again.store.quarantined()) == 3
    await again.close()


async def test_an_update_stored_but_not_projected_is_projected_on_restart(tmp_path: Path) -> None:
    a = await open_replica(tmp_path / "a.db")
    await write_scans(a, range(3))
    update = await a.diff(LOG)
    await a.close()

    # A crash between "stored" and "projected": the row is there, unprojected.
    store = SQLiteUpdateStore(tmp_path / "b.db", projector=RecordProjection())
    await store.open()
    await store.append(str(LOG), update, "a")
    await store.close()
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_record") == [(0,)]

    b = await open_replica(tmp_path / "b.db")
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_record") == [(3,)]
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_update WHERE projected = 0") == [(0,)]
    await b.close()


async def test_disk_full_refuses_the_write_loses_nothing_acknowledged_and_recovers(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(0)))
    pages = rows(db, "PRAGMA page_count")[0][0]
    writer = replica.store.writer  # type: ignore[attr-defined]
    await writer.run(lambda conn: conn.execute(f"PRAGMA max_page_count = {pages}"))

    acknowledged = ["n0"]
    refused = 0
    for i in range(1, 400):
        try:
            await replica.write(LOG, lambda doc, i=i: DeviceLog(doc).append_scan(**scan(i, "x" * 60)))
            acknowledged.append(f"n{i}")
        except StorageError as exc:
            assert exc.code == "disk_full"
            assert "full" in str(exc)
            refused += 1
    assert refused > 0
    # the in-memory document holds exactly what was acknowledged
    live = await replica.open(LOG)
    assert [r.nonce for r in DeviceLog(live.doc).records()] == acknowledged

    await writer.run(lambda conn: conn.execute("PRAGMA max_page_count = 1073741823"))
    await replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(999)))
    await replica.close()
    again = await open_replica(db)
    assert [r.nonce for r in DeviceLog(again.doc(LOG)).records()] == [*acknowledged, "n999"]
    assert rows(db, "SELECT count(*) FROM sync_record") == [(len(acknowledged) + 1,)]
    await again.close()


async def test_compaction_keeps_content_and_shrinks_the_log(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await write_scans(replica, range(300))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).set_setting("k", 1))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).set_setting("k", 2))
    assert await replica.compact(LOG, full=True) == 300
    assert await replica.compact(CONTROL, full=True) == 2
    assert rows(db, "SELECT count(*) FROM sync_update") == [(0,)]
    before = replica.doc(LOG).get_update()
    await replica.close()

    again = await open_replica(db)
    assert len(DeviceLog(again.doc(LOG))) == 300
    assert ControlDoc(again.doc(CONTROL)).settings() == {"k": 2}
    probe = Doc()
    probe.apply_update(before)
    assert again.doc(LOG).get_state() == probe.get_state()
    # writes after compaction go to the log again and survive
    await again.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(300)))
    await again.close()
    third = await open_replica(db)
    assert len(DeviceLog(third.doc(LOG))) == 301
    await third.close()


async def test_rebuilding_projections_reproduces_them(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    for i in range(30):
        await replica.write(LOG, lambda doc, i=i: DeviceLog(doc).append_scan(**scan(i, f"att{i % 7}")))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).revoke("badge", "b1", "lost"))
    await replica.compact(LOG, full=True)
    expected = rows(db, "SELECT * FROM sync_record ORDER BY doc, id")
    admissions = rows(db, FIRST_ADMISSIONS)
    assert len(admissions) == 7
    await replica.store.writer.run(lambda conn: conn.execute("DELETE FROM sync_record"))  # type: ignore[attr-defined]
    assert rows(db, "SELECT count(*) FROM sync_record") == [(0,)]
    await replica.rebuild_projections()
    assert rows(db, "SELECT * FROM sync_record ORDER BY doc, id") == expected
    assert rows(db, FIRST_ADMISSIONS) == admissions
    await replica.close()


async def test_acknowledgement_counts_what_a_peer_lacks_across_restarts(tmp_path: Path) -> None:
    a = await open_replica(tmp_path / "a.db")
    b = await open_replica(tmp_path / "b.db")
    await write_scans(a, range(10))
    assert a.acks.pending("hub", str(LOG)).count == 10
    await b.open(LOG)
    await b.receive(LOG, await a.diff(LOG, await b.state_vector(LOG)), "a")
    # the peer's state vector is the only acknowledgement
    await a.peer_reported("hub", LOG, await b.state_vector(LOG))
    assert a.acks.pending("hub", str(LOG)).count == 0
    await a.close()

    a2 = await open_replica(tmp_path / "a.db")
    assert a2.acks.pending("hub", str(LOG)).count == 0
    await write_scans(a2, range(10, 13))
    pending = a2.acks.pending("hub", str(LOG))
    assert pending.count == 3
    assert pending.oldest_at is not None
    await a2.close()
    await b.close()


async def test_a_cancelled_writer_still_stores_and_announces_its_write(tmp_path: Path) -> None:
    replica = await open_replica(tmp_path / "a.db")
    announced: list[str] = []
    replica.subscribe(lambda doc, update, source: announced.append(doc))
    await replica.open(LOG)
    task = asyncio.create_task(replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(0))))
    await asyncio.sleep(0)  # the scan is in the document and queued for the store
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(1)))
    assert announced == [str(LOG), str(LOG)]  # peers hear of both
    await replica.close()
    again = await open_replica(tmp_path / "a.db")
    assert [r.nonce for r in DeviceLog(again.doc(LOG)).records()] == ["n0", "n1"]
    await again.close()


async def test_tiered_compaction_merges_segments_and_folds_them_rarely(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await write_scans(replica, range(70))
    store = replica.store
    # pairs of updates become segments; the snapshot is not touched...
    for _ in range(20):
        result = await store.compact(str(LOG), limit=2)
        assert result.merged_updates == 2
    assert rows(db, "SELECT origin, count(*) FROM sync_update GROUP BY origin") == [
        ("local", 30),
        ("segment", 20),
    ]
    assert rows(db, "SELECT count(*) FROM sync_snapshot") == [(0,)]
    # ...until there are more than MAX_SEGMENTS (32) of them
    for _ in range(13):
        await store.compact(str(LOG), limit=2)
    assert rows(db, "SELECT count(*) FROM sync_snapshot") == [(1,)]
    assert rows(db, "SELECT origin, count(*) FROM sync_update GROUP BY origin") == [("local", 4)]
    await replica.close()
    again = await open_replica(db)
    assert [r.nonce for r in DeviceLog(again.doc(LOG)).records()] == [f"n{i}" for i in range(70)]
    await again.close()


async def test_a_large_received_update_is_not_remerged_by_routine_compaction(tmp_path: Path) -> None:
    db = tmp_path / "b.db"
    peer = Doc()
    for i in range(800):  # one transaction each, as a device writes them
        DeviceLog(peer).append_scan(**scan(i))
    big = peer.get_update()
    assert len(big) > 64 * 1024
    replica = await open_replica(db)
    await replica.receive(LOG, big, "peer")
    await write_scans(replica, range(800, 810))
    assert await replica.compact(LOG) == 10
    sizes = sorted(size for (size,) in rows(db, "SELECT length(update_bytes) FROM sync_update"))
    assert len(sizes) == 2 and sizes[1] == len(big)  # the received update is untouched, beside one segment
    await replica.close()
    again = await open_replica(db)
    assert len(DeviceLog(again.doc(LOG))) == 810
    await again.close()


async def test_a_device_log_rolls_over_to_a_new_shard_and_keeps_to_it_after_restart(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = Replica(SQLiteUpdateStore(db, projector=RecordProjection()), shard_records=10)
    await replica.start()
    names = [
        await replica.log("e1", "d1", Scan(nonce=f"n{i}", gate="A", result="admitted")) for i in range(25)
    ]
    assert [str(n) for n in dict.fromkeys(names)] == [
        "event/e1/device/d1",
        "event/e1/device/d1/1",
        "event/e1/device/d1/2",
    ]
    assert [len(DeviceLog(replica.doc(n))) for n in dict.fromkeys(names)] == [10, 10, 5]
    await replica.close()

    again = Replica(SQLiteUpdateStore(db, projector=RecordProjection()), shard_records=10)
    await again.start()
    assert str(again.device_log("e1", "d1")) == "event/e1/device/d1/2"
    assert str(again.device_log("e1", "other")) == "event/e1/device/other"
    # every shard is a document of its own, projected like any other
    assert rows(db, "SELECT doc, count(*) FROM sync_record GROUP BY doc ORDER BY doc") == [
        ("event/e1/device/d1", 10),
        ("event/e1/device/d1/1", 10),
        ("event/e1/device/d1/2", 5),
    ]
    await again.close()


async def test_a_corrupt_stored_update_is_quarantined_and_the_rest_loads(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await write_scans(replica, range(3))
    await replica.close()
    with sqlite3.connect(db) as conn:  # a bit flip on disk, or a bug in an older release
        conn.execute(
            "INSERT INTO sync_update (doc, origin, update_bytes, received_at, projected)"
            " VALUES (?, 'x', ?, 0, 1)",
            (str(LOG), b"\x01\x02garbage"),
        )

    again = await open_replica(db)
    assert [r.nonce for r in DeviceLog(again.doc(LOG)).records()] == ["n0", "n1", "n2"]
    quarantined = await again.store.quarantined()
    assert len(quarantined) == 1 and "cannot be applied" in str(quarantined[0]["error"])
    await again.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(3)))
    await again.close()
    third = await open_replica(db)  # reported once, not retried at every start
    assert len(await third.store.quarantined()) == 1
    assert len(DeviceLog(third.doc(LOG))) == 4
    await third.close()


async def test_scans_logged_together_are_batched_yet_each_is_durable_on_return(tmp_path: Path) -> None:
    """Concurrent log() calls share appends, but none returns before its record is stored."""
    store = SQLiteUpdateStore(tmp_path / "a.db", projector=RecordProjection())
    replica = Replica(store)
    await replica.start()
    returned: list[str] = []

    async def one(i: int) -> None:
        scan = Scan(nonce=f"n{i}", gate="g", result="admitted")
        await replica.log("e1", "box1", scan)
        returned.append(scan.id)
        rows = await store.writer.run(
            lambda conn: conn.execute("SELECT count(*) FROM sync_record WHERE id = ?", (scan.id,)).fetchone()
        )
        assert rows[0] == 1, "acknowledged before it was stored"

    await asyncio.gather(*(one(i) for i in range(200)))
    sizes = await store.writer.run(
        lambda conn: [len(row[0]) for row in conn.execute("SELECT update_bytes FROM sync_update")]
    )
    assert len(returned) == 200
    assert len(sizes) < 200, "records logged together were not batched"
    assert len(sizes) >= 200 // MAX_LOG_BATCH, "a batch grew past its cap (pycrdt's cost is quadratic)"
    assert len(DeviceLog(replica.doc(DocName.device("e1", "box1"))).records()) == 200
    await replica.close()


async def test_an_invalid_record_fails_alone_and_does_not_sink_its_batch(tmp_path: Path) -> None:
    replica = Replica(SQLiteUpdateStore(tmp_path / "a.db", projector=RecordProjection()))
    await replica.start()
    good = [replica.log("e1", "box1", Scan(nonce=f"ok{i}", gate="g", result="admitted")) for i in range(5)]
    bad = replica.log("e1", "box1", Scan(nonce="bad nonce with spaces", gate="g", result="admitted"))
    results = await asyncio.gather(*good, bad, return_exceptions=True)
    assert all(isinstance(r, DocName) for r in results[:5])
    assert isinstance(results[5], msgspec.ValidationError)
    assert len(DeviceLog(replica.doc(DocName.device("e1", "box1"))).records()) == 5
    await replica.close()


# --- absorb: updates another process (a second hub worker) stored and projected ---------------


async def test_absorb_applies_in_memory_and_tells_the_sessions_without_storing_again(tmp_path: Path) -> None:
    a = await open_replica(tmp_path / "a.db")
    b = await open_replica(tmp_path / "b.db")
    heard: list[tuple[str, object]] = []
    b.subscribe(lambda doc, update, source: heard.append((doc, source)))
    await write_scans(a, range(3))
    await b.open(LOG)
    update = await a.diff(LOG, await b.state_vector(LOG))

    assert await b.absorb(LOG, update, source="fanout") is True
    assert [r.nonce for r in DeviceLog(b.doc(LOG)).records()] == ["n0", "n1", "n2"]
    assert heard == [(str(LOG), "fanout")]
    # the other process stored and projected it: nothing here
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_update") == [(0,)]
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_record") == [(0,)]
    # absorbing it again changes nothing and is not relayed again
    assert await b.absorb(LOG, update) is False
    assert len(heard) == 1
    # a whole stored document (a compacted row's content) is relayed as only what was new
    before = await b.diff(LOG)
    await write_scans(a, range(3, 5))
    relayed: list[bytes] = []
    b.subscribe(lambda doc, update, source: relayed.append(update))
    assert await b.absorb(LOG, await a.diff(LOG)) is True
    assert len(relayed) == 1 and len(relayed[0]) < len(await a.diff(LOG))
    peer = Doc()
    peer.apply_update(before)
    peer.apply_update(relayed[0])
    assert peer.get_state() == await a.state_vector(LOG)
    # and later local writes still project only their own records
    await b.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(9)))
    assert rows(tmp_path / "b.db", "SELECT count(*) FROM sync_record") == [(1,)]
    await a.close()
    await b.close()


async def test_absorb_leaves_a_document_not_held_and_waits_for_one_being_loaded(tmp_path: Path) -> None:
    a = await open_replica(tmp_path / "a.db")
    b = await open_replica(tmp_path / "b.db")
    await write_scans(a, range(2))
    update = await a.diff(LOG)
    assert await b.absorb(LOG, update) is False
    assert b.loaded() == []  # not loaded on an outsider's say-so

    loading = asyncio.create_task(b.open(LOG))
    await asyncio.sleep(0)  # the load has started and is reading the store
    assert await b.absorb(LOG, update) is True
    await loading
    assert len(DeviceLog(b.doc(LOG))) == 2
    await a.close()
    await b.close()


async def test_absorb_of_an_update_that_cannot_be_applied_reloads_the_document(tmp_path: Path) -> None:
    b = await open_replica(tmp_path / "b.db")
    await write_scans(b, range(2))
    heard: list[str] = []
    b.subscribe(lambda doc, update, source: heard.append(doc))
    assert await b.absorb(LOG, b"\x01\x02garbage") is False
    assert heard == [] and b.loaded() == []  # dropped: the next use reloads it from the store
    await b.open(LOG)
    assert [r.nonce for r in DeviceLog(b.doc(LOG)).records()] == ["n0", "n1"]
    await b.close()


async def test_idle_documents_leave_memory_and_come_back_unchanged(tmp_path: Path) -> None:
    """A catch-up's documents do not stay in memory for the rest of the day."""
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await write_scans(replica, range(5))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).set_setting("k", 1))
    state, generation = await replica.state_vector(LOG), replica.generation(LOG)

    assert replica.unload_idle(3600) == []  # used just now: kept
    assert sorted(replica.unload_idle(0)) == sorted([str(LOG), str(CONTROL)])
    assert replica.loaded() == [] and replica.unloaded == 2

    # The next use reloads from the store: same state, and a sync session need not restart.
    assert await replica.state_vector(LOG) == state
    assert replica.generation(LOG) == generation
    await write_scans(replica, range(5, 8))  # local writes go on where they stopped
    assert await replica.read(CONTROL, lambda doc: ControlDoc(doc).settings()) == {"k": 1}
    await replica.close()
    again = await open_replica(db)
    assert [r.nonce for r in DeviceLog(again.doc(LOG)).records()] == [f"n{i}" for i in range(8)]
    await again.close()


async def test_a_record_past_its_deadline_is_refused_before_it_is_written(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = await open_replica(db)
    await replica.log("e1", "d1", Scan(**scan(0)))  # type: ignore[arg-type]
    with pytest.raises(TooLate) as info:
        await replica.log("e1", "d1", Scan(**scan(1)), deadline=time.monotonic() - 0.01)  # type: ignore[arg-type]
    assert info.value.code == "too_late" and info.value.status == 503
    await replica.log("e1", "d1", Scan(**scan(2)), deadline=time.monotonic() + 5)  # type: ignore[arg-type]
    assert [r.nonce for r in DeviceLog(replica.doc(LOG)).records()] == ["n0", "n2"]
    await replica.close()
    assert [row[0] for row in rows(db, "SELECT json_extract(body, '$.nonce') FROM sync_record")] == [
        "n0",
        "n2",
    ]


async def test_a_restart_keeps_memory_flat_however_many_documents_are_stored(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    replica = Replica(SQLiteUpdateStore(db, projector=RecordProjection()), shard_records=1)
    await replica.start()
    for i in range(WARM_DOCUMENTS + 16):  # one record per shard: that many documents
        await replica.log("e1", "d1", Scan(**scan(i)))  # type: ignore[arg-type]
    await replica.close()

    again = Replica(SQLiteUpdateStore(db, projector=RecordProjection()), shard_records=1)
    await again.start()
    assert len(again.loaded()) == WARM_DOCUMENTS  # the rest were read once, and dropped
    # Every shard is still there on use, and the device goes on in its newest shard.
    names = again.shards.names("e1", "d1")
    assert len(names) == WARM_DOCUMENTS + 16
    nonces = [await again.read(n, lambda doc: DeviceLog(doc).records()[0].nonce) for n in names]  # type: ignore[union-attr]
    assert nonces == [f"n{i}" for i in range(WARM_DOCUMENTS + 16)]
    await again.log("e1", "d1", Scan(**scan(999)))  # type: ignore[arg-type]
    assert len(again.shards.names("e1", "d1")) == WARM_DOCUMENTS + 17
    await again.close()
