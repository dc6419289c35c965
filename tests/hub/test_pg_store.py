"""The hub's update log in PostgreSQL: the replica contract, the projections, tenant isolation, faults."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from pycrdt import Array, Doc

from hub.peer.projection import HubProjection
from hub.peer.store import PostgresUpdateStore, SchemaMissing
from sync.documents import ControlDoc, DeviceLog
from sync.names import DocName
from sync.protocol import ProtocolError
from sync.records import Amendment, Annulment, BadgePrint, Scan, WalkIn, to_json_value
from sync.replica import Replica
from sync.store import StorageError
from tests.helpers import until

LOG = DocName.device("e1", "d1")
CONTROL = DocName.control("e1")
PROJECTION_TABLES = [
    "checkin_scan",
    "checkin_annulment",
    "badge_print",
    "walk_in",
    "control_revocation",
    "control_amendment",
]


async def add_event(pg: asyncpg.Connection, event_id: str, slug: str, revision: int = 1) -> str:
    """An organization with one event; returns the organization's id."""
    org = await pg.fetchval("INSERT INTO organization (name, slug) VALUES ($1, $1) RETURNING id", slug)
    await pg.execute(
        "INSERT INTO event (id, org_id, name, catalog_revision) VALUES ($1, $2, $1, $3)",
        event_id,
        org,
        revision,
    )
    return str(org)


@pytest.fixture
async def org(pg: asyncpg.Connection) -> str:
    return await add_event(pg, "e1", "org-one")


async def open_replica(url: str, **store_options: Any) -> Replica:
    store = await PostgresUpdateStore.connect(
        url, min_size=1, max_size=4, projector=HubProjection(), **store_options
    )
    replica = Replica(store)
    await replica.start()
    return replica


def scan(i: int, attendee: str | None = None) -> dict[str, Any]:
    return {"nonce": f"n{i}", "gate": "A", "result": "admitted", "attendee_id": attendee or f"att{i}"}


async def write_scans(replica: Replica, numbers: range, name: DocName = LOG) -> None:
    """One local write per scan, as a door device makes them."""
    for i in numbers:

        def add(doc: Doc[Any], i: int = i) -> Scan:
            return DeviceLog(doc).append_scan(**scan(i))

        await replica.write(name, add)


def nonces(replica: Replica, name: DocName = LOG) -> list[str]:
    return [r.nonce for r in DeviceLog(replica.doc(name)).records() if isinstance(r, Scan)]


# --- the store ---------------------------------------------------------------------------


async def test_open_refuses_an_unmigrated_database_and_says_what_to_run(
    hub_db: str, pg: asyncpg.Connection
) -> None:
    await pg.execute("DROP TABLE sync_authored")
    store = await PostgresUpdateStore.connect(hub_db, min_size=1, max_size=1)
    with pytest.raises(SchemaMissing) as info:
        await store.open()
    assert "sync_authored" in str(info.value) and "konferenco hub migrate" in str(info.value)
    await store.close()


async def test_local_writes_survive_a_restart_with_their_projection(hub_db: str, pg, org: str) -> None:
    replica = await open_replica(hub_db)
    await write_scans(replica, range(20))
    first_client = replica.doc(LOG).client_id
    await replica.close()

    again = await open_replica(hub_db)
    assert nonces(again) == [f"n{i}" for i in range(20)]
    rows = await pg.fetch("SELECT nonce, org_id::text AS org, device_id, doc FROM checkin_scan")
    assert sorted(r["nonce"] for r in rows) == sorted(f"n{i}" for i in range(20))  # each once
    assert {(r["org"], r["device_id"], r["doc"]) for r in rows} == {(org, "d1", str(LOG))}
    assert again.doc(LOG).client_id != first_client
    await again.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(20)))
    assert len(DeviceLog(again.doc(LOG))) == 21
    await again.close()


async def test_every_append_notifies_the_other_workers_once_committed(hub_db: str, pg, org: str) -> None:
    heard: list[str] = []
    await pg.add_listener("konferenco_sync", lambda *args: heard.append(args[3]))
    replica = await open_replica(hub_db, worker_id="w1")
    await write_scans(replica, range(2))
    await until(lambda: len(heard) == 2)
    seqs = [r["seq"] for r in await pg.fetch("SELECT seq FROM sync_update ORDER BY seq")]
    assert heard == [f"w1 {seq} {LOG}" for seq in seqs]
    await replica.close()


async def test_remote_update_is_stored_once_and_duplicates_are_ignored(hub_db: str, pg, org: str) -> None:
    b = await open_replica(hub_db)
    peer: Doc[Any] = Doc()
    for i in range(5):
        DeviceLog(peer).append_scan(**scan(i))
    await b.open(LOG)
    update = peer.get_update(await b.state_vector(LOG))
    assert await b.receive(LOG, update, "box") is True
    assert await b.receive(LOG, update, "box") is False
    assert await pg.fetchval("SELECT count(*) FROM sync_update") == 1
    assert await pg.fetchval("SELECT count(*) FROM sync_update WHERE projected") == 1
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 5
    assert await b.state_vector(LOG) == peer.get_state()
    await b.close()


async def test_garbage_update_is_refused_and_nothing_is_stored(hub_db: str, pg, org: str) -> None:
    b = await open_replica(hub_db)
    for garbage in (b"", b"\x01", b"\x01\x02garbage", b"\xff" * 32):
        with pytest.raises(ProtocolError) as info:
            await b.receive(LOG, garbage, "mallory")
        assert info.value.code == "bad_update"
    assert await pg.fetchval("SELECT count(*) FROM sync_update") == 0
    await b.close()


async def test_an_invalid_remote_record_is_quarantined_and_the_rest_projected(
    hub_db: str, pg, org: str
) -> None:
    b = await open_replica(hub_db)
    rogue: Doc[Any] = Doc()
    log = rogue.get("log", type=Array)
    with rogue.transaction():
        log.append({"kind": "scan", "nonce": "ok1", "gate": "A", "result": "admitted", "id": "r1", "at": 1})
        log.append({"kind": "scan", "nonce": 5})
        log.append("not even an object")
        log.append({"kind": "teleport", "id": "r2", "at": 2})
    assert await b.receive(LOG, rogue.get_update(), "rogue") is True
    assert [r["id"] for r in await pg.fetch("SELECT id FROM checkin_scan")] == ["r1"]
    quarantined = await b.store.quarantined()
    assert len(quarantined) == 3
    assert all(q["doc"] == str(LOG) and q["error"] for q in quarantined)
    assert "not even an object" in str(quarantined[1]["raw"])
    await b.close()


async def test_an_update_stored_but_not_projected_is_projected_on_restart(hub_db: str, pg, org: str) -> None:
    peer: Doc[Any] = Doc()
    for i in range(3):
        DeviceLog(peer).append_scan(**scan(i))
    # A crash between "stored" and "projected": the row is there, unprojected.
    store = await PostgresUpdateStore.connect(hub_db, min_size=1, max_size=1, projector=HubProjection())
    await store.open()
    await store.append(str(LOG), peer.get_update(), "box")
    await store.close()
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 0

    b = await open_replica(hub_db)
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 3
    assert await pg.fetchval("SELECT count(*) FROM sync_update WHERE NOT projected") == 0
    assert nonces(b) == ["n0", "n1", "n2"]
    await b.close()


async def test_compaction_keeps_content_and_shrinks_the_log(hub_db: str, pg, org: str) -> None:
    replica = await open_replica(hub_db)
    await write_scans(replica, range(120))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).set_setting("k", 1))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).set_setting("k", 2))
    assert await replica.compact(LOG, full=True) == 120
    assert await replica.compact(CONTROL, full=True) == 2
    assert await pg.fetchval("SELECT count(*) FROM sync_update") == 0
    before = replica.doc(LOG).get_state()
    await replica.close()

    again = await open_replica(hub_db)
    assert nonces(again) == [f"n{i}" for i in range(120)]
    assert ControlDoc(again.doc(CONTROL)).settings() == {"k": 2}
    assert again.doc(LOG).get_state() == before
    await again.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(120)))
    await again.close()
    third = await open_replica(hub_db)
    assert len(DeviceLog(third.doc(LOG))) == 121
    await third.close()


async def test_tiered_compaction_merges_segments_and_folds_them_rarely(hub_db: str, pg, org: str) -> None:
    replica = await open_replica(hub_db)
    await write_scans(replica, range(70))
    store = replica.store
    for _ in range(20):
        assert (await store.compact(str(LOG), limit=2)).merged_updates == 2
    origins = "SELECT origin, count(*) FROM sync_update GROUP BY origin ORDER BY origin"
    assert [tuple(r) for r in await pg.fetch(origins)] == [("local", 30), ("segment", 20)]
    assert await pg.fetchval("SELECT count(*) FROM sync_snapshot") == 0
    for _ in range(13):  # more than MAX_SEGMENTS (32): folded into the snapshot
        await store.compact(str(LOG), limit=2)
    assert await pg.fetchval("SELECT count(*) FROM sync_snapshot") == 1
    assert [tuple(r) for r in await pg.fetch(origins)] == [("local", 4)]
    await replica.close()
    again = await open_replica(hub_db)
    assert nonces(again) == [f"n{i}" for i in range(70)]
    await again.close()


async def test_two_workers_compacting_one_document_at_once_lose_nothing(hub_db: str, pg, org: str) -> None:
    a = await open_replica(hub_db)
    b = await open_replica(hub_db)
    await write_scans(a, range(60))
    results = await asyncio.gather(*(s.compact(str(LOG), limit=10) for s in (a.store, b.store) * 3))
    assert sum(r.merged_updates for r in results) == 60  # each row merged by exactly one of them
    await asyncio.gather(a.store.compact(str(LOG), full=True), b.store.compact(str(LOG), full=True))
    assert await pg.fetchval("SELECT count(*) FROM sync_update") == 0
    await a.close()
    await b.close()
    again = await open_replica(hub_db)
    assert nonces(again) == [f"n{i}" for i in range(60)]
    await again.close()


async def test_rebuilding_projections_reproduces_them(hub_db: str, pg, org: str) -> None:
    replica = await open_replica(hub_db)
    for i in range(30):

        def add(doc: Doc[Any], i: int = i) -> Scan:
            return DeviceLog(doc).append_scan(**scan(i, f"att{i % 7}"))

        await replica.write(LOG, add)
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).revoke("badge", "b1", "lost"))
    await replica.compact(LOG, full=True)
    queries = [f"SELECT * FROM {table} ORDER BY event_id, id" for table in PROJECTION_TABLES]
    expected = [[tuple(r) for r in await pg.fetch(q)] for q in queries]
    assert len(expected[0]) == 30 and len(expected[4]) == 1
    await pg.execute("DELETE FROM checkin_scan; DELETE FROM control_revocation")
    await replica.rebuild_projections()
    assert [[tuple(r) for r in await pg.fetch(q)] for q in queries] == expected
    await replica.close()


async def test_acknowledgement_counts_what_a_peer_lacks_across_restarts(hub_db: str, pg, org: str) -> None:
    a = await open_replica(hub_db)
    await write_scans(a, range(10))
    assert a.acks.pending("box", str(LOG)).count == 10
    box: Doc[Any] = Doc()
    box.apply_update(await a.diff(LOG))
    await a.peer_reported("box", LOG, box.get_state())
    assert a.acks.pending("box", str(LOG)).count == 0
    await a.close()

    a2 = await open_replica(hub_db)
    assert a2.acks.pending("box", str(LOG)).count == 0
    await write_scans(a2, range(10, 13))
    pending = a2.acks.pending("box", str(LOG))
    assert pending.count == 3 and pending.oldest_at is not None
    await a2.close()


async def test_a_corrupt_stored_update_is_quarantined_and_the_rest_loads(hub_db: str, pg, org: str) -> None:
    replica = await open_replica(hub_db)
    await write_scans(replica, range(3))
    await replica.close()
    await pg.execute(
        "INSERT INTO sync_update (doc, origin, update_bytes, received_at, projected)"
        " VALUES ($1, 'x', $2, 0, true)",
        str(LOG),
        b"\x01\x02garbage",
    )
    again = await open_replica(hub_db)
    assert nonces(again) == ["n0", "n1", "n2"]
    quarantined = await again.store.quarantined()
    assert len(quarantined) == 1 and "cannot be applied" in str(quarantined[0]["error"])
    await again.close()
    third = await open_replica(hub_db)  # reported once, not retried at every start
    assert len(await third.store.quarantined()) == 1
    await third.close()


# --- faults ------------------------------------------------------------------------------


async def _blocked_backend(pg: asyncpg.Connection, table: str) -> int:
    """The pid of the backend waiting for our lock on ``table`` (the store's, mid-transaction)."""
    pid = None

    async def waiting() -> bool:
        nonlocal pid
        pid = await pg.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE $1",
            f"INSERT INTO {table}%",
        )
        return pid is not None

    await until(waiting)
    assert pid is not None
    return int(pid)


async def test_a_connection_killed_mid_write_fails_it_cleanly_and_the_next_write_succeeds(
    hub_db: str, pg, org: str
) -> None:
    replica = await open_replica(hub_db)
    await write_scans(replica, range(2))
    locker = await asyncpg.connect(hub_db)
    tx = locker.transaction()
    await tx.start()
    await locker.execute("LOCK TABLE checkin_scan IN SHARE MODE")  # the projection's INSERT waits
    write = asyncio.create_task(replica.write(LOG, lambda doc: DeviceLog(doc).append_scan(**scan(2))))
    pid = await _blocked_backend(pg, "checkin_scan")
    await pg.execute("SELECT pg_terminate_backend($1)", pid)
    with pytest.raises(StorageError) as info:
        await write
    assert info.value.reason == "storage_failed"
    assert info.value.code == "unavailable" and info.value.status == 503
    await tx.rollback()
    await locker.close()

    # The update was rolled back with its projection; the replica reloaded what is stored.
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 2
    await replica.open(LOG)
    assert nonces(replica) == ["n0", "n1"]
    await write_scans(replica, range(3, 4))  # the pool replaced the dead connection
    await replica.close()
    again = await open_replica(hub_db)
    assert nonces(again) == ["n0", "n1", "n3"]
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 3
    await again.close()


async def test_a_connection_killed_while_projecting_a_received_update_loses_nothing(
    hub_db: str, pg, org: str
) -> None:
    replica = await open_replica(hub_db)
    await replica.open(LOG)
    peer: Doc[Any] = Doc()
    for i in range(4):
        DeviceLog(peer).append_scan(**scan(i))
    locker = await asyncpg.connect(hub_db)
    tx = locker.transaction()
    await tx.start()
    await locker.execute("LOCK TABLE checkin_scan IN SHARE MODE")
    receive = asyncio.create_task(replica.receive(LOG, peer.get_update(), "box"))
    await pg.execute("SELECT pg_terminate_backend($1)", await _blocked_backend(pg, "checkin_scan"))
    with pytest.raises(StorageError):
        await receive
    await tx.rollback()
    await locker.close()

    # Stored before it was applied: the reload projects it, and the peer's resend is a duplicate.
    assert await pg.fetchval("SELECT count(*) FROM sync_update WHERE NOT projected") == 1
    await replica.open(LOG)
    assert nonces(replica) == ["n0", "n1", "n2", "n3"]
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 4
    assert await replica.receive(LOG, peer.get_update(), "box") is False
    await replica.close()


# --- projections -------------------------------------------------------------------------


async def test_a_device_log_lands_in_the_tables_with_its_organization(hub_db: str, pg, org: str) -> None:
    other = await add_event(pg, "e2", "org-two")
    await pg.execute("UPDATE event SET catalog_revision = 7 WHERE id = 'e1'")
    replica = await open_replica(hub_db)
    admitted = Scan(nonce="n1", gate="A", result="admitted", attendee_id="a1", list_id="main", device_time=5)
    refused = Scan(
        nonce="n2", gate="B", direction="exit", result="revoked", reason="badge revoked", staff="s1", code="q"
    )
    box: Doc[Any] = Doc()
    log = DeviceLog(box)
    for record in (
        admitted,
        refused,
        Annulment(scan_id=admitted.id, reason="mistake", staff="s1"),
        BadgePrint(job_id="j1", attendee_id="a1", printer="p1", status="failed", reason="paper out"),
        WalkIn(attendee_id="w1", name="Ada", company="ACME", ticket_type_id="std", nfc_uid="04A1B2C3"),
    ):
        log.append(record)
    await replica.open(LOG)
    await replica.receive(LOG, box.get_update(), "d1")
    await replica.write(DocName.device("e2", "d9"), lambda doc: DeviceLog(doc).append_scan(**scan(9)))

    scans = await pg.fetch("SELECT * FROM checkin_scan WHERE event_id = 'e1' ORDER BY nonce")
    assert [dict(r) for r in scans] == [
        {
            "event_id": "e1",
            "id": admitted.id,
            "org_id": scans[0]["org_id"],
            "device_id": "d1",
            "doc": str(LOG),
            "nonce": "n1",
            "gate": "A",
            "direction": "entry",
            "result": "admitted",
            "reason": "",
            "attendee_id": "a1",
            "list_id": "main",
            "at": admitted.at,
            "device_time": 5,
            "staff": None,
        },
        {
            "event_id": "e1",
            "id": refused.id,
            "org_id": scans[0]["org_id"],
            "device_id": "d1",
            "doc": str(LOG),
            "nonce": "n2",
            "gate": "B",
            "direction": "exit",
            "result": "revoked",
            "reason": "badge revoked",
            "attendee_id": None,
            "list_id": None,
            "at": refused.at,
            "device_time": None,
            "staff": "s1",
        },
    ]
    orgs = "SELECT DISTINCT org_id::text FROM {} WHERE event_id = $1"
    for table in ("checkin_scan", "checkin_annulment", "badge_print", "walk_in"):
        assert [r[0] for r in await pg.fetch(orgs.format(table), "e1")] == [org], table
    assert [r[0] for r in await pg.fetch(orgs.format("checkin_scan"), "e2")] == [other]
    annulment = await pg.fetchrow("SELECT scan_id, reason, staff, device_id FROM checkin_annulment")
    assert tuple(annulment) == (admitted.id, "mistake", "s1", "d1")
    job = await pg.fetchrow("SELECT job_id, attendee_id, printer, status, reason FROM badge_print")
    assert tuple(job) == ("j1", "a1", "p1", "failed", "paper out")
    attendee = await pg.fetchrow("SELECT * FROM attendee WHERE event_id = 'e1' AND id = 'w1'")
    assert attendee is not None
    assert (attendee["name"], attendee["company"], attendee["ticket_type_id"]) == ("Ada", "ACME", "std")
    assert (attendee["source"], attendee["revision"], attendee["nfc_uid"]) == ("walk_in", 7, "04A1B2C3")
    assert str(attendee["org_id"]) == org
    await replica.close()


async def test_amendments_fold_into_the_roster_latest_first_whatever_their_order(
    hub_db: str, pg, org: str
) -> None:
    await pg.execute(
        "INSERT INTO attendee (event_id, id, org_id, name, ticket_type_id, revision)"
        " VALUES ('e1', 'a1', $1, 'Jon', 'std', 1)",
        org,
    )
    replica = await open_replica(hub_db)
    later = Amendment(attendee_id="a1", field="name", value="John", at=2_000, by="org1")
    earlier = Amendment(attendee_id="a1", field="name", value="Jonathan", at=1_000, by="org1")
    # the older correction arrives last (an organizer's appliance was offline)
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).append(later))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).append(earlier))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).amend("w1", "company", "Initech"))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).revoke("badge", "b7", "lost", by="org1"))
    assert await pg.fetchval("SELECT name FROM attendee WHERE id = 'a1'") == "John"
    assert await pg.fetchval("SELECT count(*) FROM control_amendment") == 3
    revocation = await pg.fetchrow('SELECT target, value, reason, "by", device_id FROM control_revocation')
    assert tuple(revocation) == ("badge", "b7", "lost", "org1", None)

    # A walk-in registered after its amendment was made gets the amended value too.
    box: Doc[Any] = Doc()
    DeviceLog(box).append(WalkIn(attendee_id="w1", name="Ada", company="ACME", ticket_type_id="std"))
    await replica.open(LOG)
    await replica.receive(LOG, box.get_update(), "d1")
    assert await pg.fetchval("SELECT company FROM attendee WHERE id = 'w1'") == "Initech"
    await replica.close()


async def test_records_of_an_unknown_event_are_kept_and_projected_once_it_exists(
    hub_db: str, pg, org: str
) -> None:
    replica = await open_replica(hub_db)
    stray = DocName.device("e404", "d1")
    await write_scans(replica, range(3), stray)  # stored, nothing to project them into
    assert await pg.fetchval("SELECT count(*) FROM sync_update WHERE doc = $1", str(stray)) == 3
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 0
    await add_event(pg, "e404", "org-late")
    await replica.rebuild_projections()
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan WHERE event_id = 'e404'") == 3
    await replica.close()


async def test_projections_are_invisible_to_another_organization(hub_db: str, pg, org: str) -> None:
    other = await add_event(pg, "e2", "org-two")
    replica = await open_replica(hub_db)
    box: Doc[Any] = Doc()
    log = DeviceLog(box)
    first = log.append(Scan(nonce="n1", gate="A", result="admitted", attendee_id="a1"))
    log.append(Annulment(scan_id=first.id))
    log.append(BadgePrint(job_id="j1", attendee_id="a1", printer="p", status="done"))
    log.append(WalkIn(attendee_id="w1", name="Ada", ticket_type_id="std"))
    await replica.open(LOG)
    await replica.receive(LOG, box.get_update(), "d1")
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).revoke("badge", "b1"))
    await replica.write(CONTROL, lambda doc: ControlDoc(doc).amend("w1", "name", "Ada L."))
    await replica.close()

    async def visible(as_org: str) -> dict[str, int]:
        async with pg.transaction():
            await pg.execute("SET LOCAL ROLE konferenco_tenant")
            await pg.execute("SELECT set_config('konferenco.org', $1, true)", as_org)
            return {t: await pg.fetchval(f"SELECT count(*) FROM {t}") for t in PROJECTION_TABLES}

    assert await visible(org) == dict.fromkeys(PROJECTION_TABLES, 1)
    assert await visible(other) == dict.fromkeys(PROJECTION_TABLES, 0)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):  # only the sync peer writes projections
        async with pg.transaction():
            await pg.execute("SET LOCAL ROLE konferenco_tenant")
            await pg.execute("SELECT set_config('konferenco.org', $1, true)", org)
            await pg.execute("DELETE FROM checkin_scan")
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 1


async def test_a_4000_scan_step2_is_projected_in_one_go(hub_db: str, pg, org: str) -> None:
    """The ingest hot path: one update, 4,000 scans, all projected (its speed is measured, not asserted)."""
    box: Doc[Any] = Doc()
    log = DeviceLog(box)
    for i in range(4000):
        log.append_scan(**scan(i))
    replica = await open_replica(hub_db)
    await replica.open(LOG)
    assert await replica.receive(LOG, box.get_update(), "d1") is True
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 4000
    assert await pg.fetchval("SELECT count(DISTINCT nonce) FROM checkin_scan") == 4000
    await replica.close()


async def test_a_large_batch_projected_twice_is_counted_once(hub_db: str, pg, org: str) -> None:
    """A big Step 2 goes through COPY; when its rows exist already (two workers, a rebuild) the
    projection falls back to skipping them, and the transaction around it is not spoiled."""
    box: Doc[Any] = Doc()
    log = DeviceLog(box)
    for i in range(1200):
        log.append_scan(**scan(i))
    update = box.get_update()
    first, second = await open_replica(hub_db), await open_replica(hub_db)
    try:
        await first.open(LOG)
        await second.open(LOG)
        assert await first.receive(LOG, update, "d1") is True
        assert await second.receive(LOG, update, "d1") is True  # its copy lacked it: stored, projected again
        assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 1200
        assert await pg.fetchval("SELECT count(*) FROM sync_update WHERE projected") == 2
        await second.rebuild_projections()
        assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 1200
    finally:
        await first.close()
        await second.close()


async def add_device(pg: asyncpg.Connection, org: str, device_id: str, *capabilities: str) -> None:
    await pg.execute(
        "INSERT INTO device (id, org_id, event_id, capabilities, credential_hash)"
        " VALUES ($1, $2, 'e1', $3, $4)",
        device_id,
        org,
        list(capabilities),
        device_id.encode(),
    )


async def test_a_scanners_walk_in_is_quarantined_not_added_to_the_roster(hub_db: str, pg, org: str) -> None:
    """Checked again in the projection: a record can arrive relayed, past no capability check."""
    await add_device(pg, org, "d1", "scanner")
    await add_device(pg, org, "desk1", "kiosk")
    replica = await open_replica(hub_db)
    for device, attendee in (("d1", "w-scanner"), ("desk1", "w-desk"), ("never-enrolled", "w-relayed")):
        box: Doc[Any] = Doc()
        DeviceLog(box).append(Scan(nonce=f"n-{device}", gate="A", result="admitted", attendee_id="a1"))
        DeviceLog(box).append(WalkIn(attendee_id=attendee, name="Mallory", ticket_type_id="std"))
        name = DocName.device("e1", device)
        await replica.open(name)
        await replica.receive(name, box.get_update(), "relay")
    walk_ins = {r[0] for r in await pg.fetch("SELECT attendee_id FROM walk_in")}
    roster = {r[0] for r in await pg.fetch("SELECT id FROM attendee WHERE source = 'walk_in'")}
    assert walk_ins == roster == {"w-desk", "w-relayed"}
    assert await pg.fetchval("SELECT count(*) FROM checkin_scan") == 3  # the scans are the scanner's to write
    quarantined = await replica.store.quarantined()
    assert [(q["doc"], "walk_in" in str(q["error"])) for q in quarantined] == [("event/e1/device/d1", True)]
    await replica.close()


async def test_a_nul_inside_a_synced_record_is_quarantined_and_the_rest_of_the_log_projected(
    hub_db: str, pg, org: str
) -> None:
    """PostgreSQL cannot store U+0000: one such record used to make the hub refuse the device's whole log."""
    await add_device(pg, org, "d1", "scanner")
    replica = await open_replica(hub_db)
    box: Doc[Any] = Doc()  # a foreign Yjs client: our own writer refuses NUL before storing it
    log = box.get("log", type=Array)
    for n, gate in enumerate(("North\x00door", "North door", "a literal \\u0000 is text"), start=1):
        scan = Scan(nonce=f"n-{n}", gate="g", result="admitted", attendee_id=f"a{n}")
        log.append({**to_json_value(scan), "gate": gate})
    name = DocName.device("e1", "d1")
    await replica.open(name)
    assert await replica.receive(name, box.get_update(), "relay")  # stored and acknowledged, not refused
    assert {r[0] for r in await pg.fetch("SELECT nonce FROM checkin_scan")} == {"n-2", "n-3"}
    quarantined = await replica.store.quarantined()
    assert len(quarantined) == 1 and "NUL" in str(quarantined[0]["error"])
    await replica.close()
