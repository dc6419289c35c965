"""What a device may append, checked on write, on receive and in every projection.

A scanner-only device must not add attendees (walk-ins), a kiosk must not
revoke; and nobody may grow a document a root it does not have.  These are
the three checks of :mod:`sync.permissions`, each against real components:
a replica on SQLite, a sync service on an in-memory socket, the appliance's
projection.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pycrdt import Array, Doc, Map, Text

from appliance.checkin.projection import ApplianceProjection
from sync.documents import (
    Appended,
    ControlDoc,
    DeviceLog,
    UpdateRefused,
    read_all,
    screen_changes,
    screen_update,
)
from sync.names import DocName
from sync.permissions import (
    RECORD_KINDS,
    Capability,
    KindNotAllowed,
    PeerIdentity,
    Role,
    device_capabilities,
    may_append,
)
from sync.protocol import (
    CONTENT_ANY,
    CONTENT_TYPE,
    AuthMessage,
    ProtocolError,
    encode,
    inserted_items,
    update_message,
)
from sync.records import Scan, TagLink, WalkIn, to_json_value
from sync.replica import Replica
from sync.service import SyncService
from sync.session import CloseCode
from sync.sqlite_store import SQLiteUpdateStore
from sync.tokens import TokenSigner
from tests.sync.test_service import MemoryConnection, until

SCANNER = frozenset({Capability.SCANNER})
KIOSK = frozenset({Capability.KIOSK})
PRINTER = frozenset({Capability.PRINTER})
ORGANIZER = frozenset({Capability.ORGANIZER})
SIGNER = TokenSigner(b"r" * 32)
EVENT = "e1"


def walk_in(attendee: str = "w1") -> WalkIn:
    return WalkIn(attendee_id=attendee, name="Walk In", ticket_type_id="std")


def scan(nonce: str = "n1") -> Scan:
    return Scan(nonce=nonce, gate="A", result="admitted", attendee_id="a1", list_id="main")


def log_update(*records: Any) -> bytes:
    doc: Doc[Any] = Doc()
    for record in records:
        DeviceLog(doc).append(record)
    return doc.get_update()


# --- the table ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caps", "doc", "kind", "allowed"),
    [
        (SCANNER, "device", "scan", True),
        (SCANNER, "device", "annulment", True),
        (SCANNER, "device", "walk_in", False),  # a scanner counts people, it does not register them
        (SCANNER, "device", "tag_link", False),
        (SCANNER, "device", "device_key", True),  # its certificate: every device publishes it
        (SCANNER, "device", "print", False),
        (KIOSK, "device", "walk_in", True),
        (KIOSK, "device", "scan", True),
        (KIOSK, "control", "revocation", False),  # a kiosk does not revoke
        (KIOSK, "control", "amendment", False),
        (PRINTER, "device", "print", True),
        (PRINTER, "device", "scan", False),
        (ORGANIZER, "control", "revocation", True),
        (ORGANIZER, "device", "walk_in", True),
        (ORGANIZER, "device", "revocation", False),  # control records live in the control document
        (None, "device", "walk_in", True),  # the hub writes everything
        (SCANNER, "device", "teleport", True),  # not ours at all: validation quarantines it
    ],
)
def test_record_kinds_per_capability(
    caps: frozenset[Capability] | None, doc: Any, kind: str, allowed: bool
) -> None:
    decision = may_append(caps, doc, kind)
    assert bool(decision) is allowed
    if not allowed:
        assert kind in decision.reason


def test_every_record_type_is_in_the_table() -> None:
    from sync.records import ControlRecord, DeviceRecord

    device = {t.__struct_config__.tag for t in DeviceRecord.__args__}
    control = {t.__struct_config__.tag for t in ControlRecord.__args__}
    assert {k for k, r in RECORD_KINDS.items() if r.doc == "device"} == device
    assert {k for k, r in RECORD_KINDS.items() if r.doc == "control"} == control


def test_the_capabilities_that_bound_a_peer() -> None:
    def peer(role: Role, *caps: Capability) -> PeerIdentity:
        return PeerIdentity(peer_id="p", role=role, events=("e1",), device_id="p", capabilities=caps)

    assert device_capabilities(peer(Role.HUB)) is None
    assert device_capabilities(peer(Role.DEVICE, Capability.KIOSK)) == KIOSK
    # a credential that names no capability counts as a scanner, the least a door box needs
    assert device_capabilities(peer(Role.DEVICE)) == SCANNER
    assert device_capabilities(peer(Role.VIEWER)) == frozenset()


# --- reading an update without applying it -----------------------------------------------


def test_inserted_items_reads_what_pycrdt_writes() -> None:
    records = [scan("n1"), walk_in(), TagLink(attendee_id="a1", nfc_uid="04A1B2C3D4")]
    items = inserted_items(log_update(*records))
    assert all(item.content == CONTENT_ANY for item in items)
    assert items[0].root == "log" and items[0].key is None
    assert [k for item in items for k in item.kinds] == ["scan", "walk_in", "tag_link"]


def test_inserted_items_sees_roots_keys_and_nested_types() -> None:
    doc: Doc[Any] = Doc()
    doc.get("settings", type=Map)["doors_open"] = {"at": "08:30", "n": -70000, "big": 2**40, "ok": True}
    doc.get("notes", type=Text).insert(0, "hello")
    doc.get("log", type=Array).append(Map({"kind": "walk_in"}))
    doc.get("log", type=Array).append(["not", {"kind": "an object"}])
    items = inserted_items(doc.get_update())
    assert (items[0].root, items[0].key, items[0].kinds) == ("settings", "doors_open", (None,))
    assert items[1].root == "notes"
    assert items[2].root == "log" and items[2].content == CONTENT_TYPE
    assert items[3].nested and items[3].key == "kind"
    assert items[4].kinds == (None,)  # a list is no record: validation quarantines it


def any_update(value: bytes) -> bytes:
    """A v1 update inserting one ContentAny into root ``log``, the value encoded as yjs would."""
    return (
        b"\x01\x01\x07\x00"  # one client (7), one struct, from clock 0
        + b"\x08\x01\x03log"  # ContentAny, parent named: root "log"
        + b"\x01\x76\x02"  # one value: an object of two entries
        + b"\x04kind\x77\x07walk_in"
        + b"\x01x"
        + value
        + b"\x00"  # empty delete set
    )


@pytest.mark.parametrize(
    "value",
    [
        b"\x7d\xf0\xc5\x08",  # yjs writes integers as lib0 varInt (-70000); pycrdt writes floats
        b"\x7d\x05",
        b"\x7c\x3f\xc0\x00\x00",
        b"\x7b\x3f\xf8" + b"\x00" * 6,
        b"\x7a" + (2**40).to_bytes(8, "big"),
        b"\x75\x03\x78\x7e\x7f",  # [true, null, undefined]
        b"\x74\x02\x01\x02",  # Uint8Array
        b"\x76\x01\x01a\x75\x01\x77\x02hi",  # {"a": ["hi"]}
    ],
)
def test_lib0_values_as_javascript_writes_them_are_read_to_their_end(value: bytes) -> None:
    (item,) = inserted_items(any_update(value))
    assert item.root == "log" and item.kinds == ("walk_in",)
    with pytest.raises(ProtocolError):  # one byte short: the lengths no longer add up
        inserted_items(any_update(value[:-1]))


def test_a_value_nested_too_deep_is_refused() -> None:
    with pytest.raises(ProtocolError, match="nests deeper"):
        inserted_items(any_update(b"\x75\x01" * 100 + b"\x7e"))


def test_every_truncation_of_an_update_is_a_protocol_error_not_a_crash() -> None:
    update = log_update(scan("n1"), walk_in())
    for end in range(len(update)):
        try:
            inserted_items(update[:end])
        except ProtocolError as exc:
            assert exc.code in ("bad_update", "truncated", "bad_varint")
    with pytest.raises(ProtocolError):
        inserted_items(update + b"\x00")


# --- screening an update before it is stored ---------------------------------------------


LOG = DocName.device(EVENT, "box2")
CONTROL = DocName.control(EVENT)


def test_a_scanners_walk_in_is_refused_and_its_scans_are_not() -> None:
    screen_update(LOG, log_update(scan()), SCANNER)
    with pytest.raises(UpdateRefused) as refused:
        screen_update(LOG, log_update(scan(), walk_in()), SCANNER)
    assert refused.value.code == "not_allowed" and "walk_in" in str(refused.value)
    screen_update(LOG, log_update(walk_in()), KIOSK)
    screen_update(LOG, log_update(walk_in()), None)  # the hub relays any device's log


def test_an_unknown_root_is_refused_whoever_writes_it() -> None:
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array).append(to_json_value(scan()))
    doc.get("attendees", type=Map)["x"] = {"name": "Mallory"}
    for caps in (SCANNER, None):
        with pytest.raises(UpdateRefused) as refused:
            screen_update(LOG, doc.get_update(), caps)
        assert refused.value.code == "unknown_root" and "'attendees'" in str(refused.value)


def test_a_nested_shared_type_and_a_keyed_log_are_refused() -> None:
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array).append(Map({"kind": "walk_in"}))
    with pytest.raises(UpdateRefused, match="plain JSON") as refused:
        screen_update(LOG, doc.get_update(), None)
    assert refused.value.code == "nested_type"
    keyed: Doc[Any] = Doc()
    keyed.get("rooms", type=Array).append({"id": "r1"})  # rooms is a map in the control document
    with pytest.raises(UpdateRefused) as refused:
        screen_update(CONTROL, keyed.get_update(), ORGANIZER)
    assert refused.value.code == "wrong_shape"


def test_the_control_documents_own_values_pass() -> None:
    doc: Doc[Any] = Doc()
    control = ControlDoc(doc)
    control.set_setting("badge", {"kind": "qr"})  # a setting may hold any JSON, "kind" included
    control.revoke("device", "box9")
    screen_update(CONTROL, doc.get_update(), ORGANIZER)


# --- the local writer ---------------------------------------------------------------------


@pytest.fixture
async def scanner_box(tmp_path: Path) -> AsyncIterator[Replica]:
    replica = Replica(SQLiteUpdateStore(tmp_path / "box.db"), capabilities=SCANNER)
    await replica.start()
    yield replica
    await replica.close()


async def test_the_local_writer_refuses_a_kind_its_box_may_not_write(scanner_box: Replica) -> None:
    await scanner_box.log(EVENT, "box1", scan())
    before = await scanner_box.store.all_updates(str(DocName.device(EVENT, "box1")))
    with pytest.raises(KindNotAllowed) as refused:
        await scanner_box.log(EVENT, "box1", walk_in())
    assert refused.value.code == "forbidden" and refused.value.status == 403
    assert refused.value.details["capabilities"] == ["kiosk", "organizer"]
    assert refused.value.details["held"] == ["scanner"]
    assert "walk ins" in refused.value.message
    assert await scanner_box.store.all_updates(str(DocName.device(EVENT, "box1"))) == before
    assert [
        type(r).__name__ for r in DeviceLog(scanner_box.doc(DocName.device(EVENT, "box1"))).records()
    ] == ["Scan"]


# --- the server that receives a device's log ---------------------------------------------


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[SyncService]:
    replica = Replica(SQLiteUpdateStore(tmp_path / "server.db", projector=ApplianceProjection()))
    await replica.start()
    yield SyncService(replica, SIGNER.verify, events=lambda: {EVENT})
    await replica.close()


def device_token(device: str, *caps: Capability) -> str:
    return SIGNER.issue(
        PeerIdentity(peer_id=device, role=Role.DEVICE, events=(EVENT,), device_id=device, capabilities=caps)
    )


async def push(service: SyncService, token: str, name: DocName, *frames: bytes) -> MemoryConnection:
    """Connect, send the frames, and return the connection once the server closed it."""
    conn = MemoryConnection(token)
    serving = asyncio.create_task(service.serve(conn, str(name)))
    await until(lambda: conn.sent)  # our Step 1: the session is up
    for frame in frames:
        conn.inbox.put_nowait(frame)
    async with asyncio.timeout(5):
        await serving
    return conn


async def stored(service: SyncService) -> dict[str, int]:
    return {
        doc: len(await service.replica.store.all_updates(doc))
        for doc in await service.replica.store.documents()
    }


async def test_a_scanner_pushing_a_walk_in_is_refused_and_nothing_is_stored(service: SyncService) -> None:
    watcher = MemoryConnection(device_token("box3", Capability.SCANNER))
    watching = asyncio.create_task(service.serve(watcher, str(LOG)))  # another peer of the same log
    await until(lambda: watcher.sent)
    before = await stored(service)
    conn = await push(
        service, device_token("box2", Capability.SCANNER), LOG, update_message(log_update(walk_in()))
    )
    assert conn.closed is not None
    assert conn.closed[0] == CloseCode.FORBIDDEN
    assert conn.closed[1].startswith("not_allowed:") and "walk_in" in conn.closed[1]
    assert await stored(service) == before
    store = service.replica.store
    assert isinstance(store, SQLiteUpdateStore)
    rows = await store.writer.run(
        lambda c: c.execute("SELECT count(*) FROM attendee WHERE source = 'walk_in'").fetchone()[0]
    )
    assert rows == 0
    assert len(watcher.sent) == 1  # only its own Step 1 reply: nothing was relayed
    # the same device's scans are stored and relayed: the refusal was about the kind
    conn = MemoryConnection(device_token("box2", Capability.SCANNER))
    serving = asyncio.create_task(service.serve(conn, str(LOG)))
    await until(lambda: conn.sent)
    conn.inbox.put_nowait(update_message(log_update(scan())))
    await until(lambda: len(watcher.sent) == 2)
    assert conn.closed is None
    await service.shutdown()
    await asyncio.gather(watching, serving)


async def test_a_kiosk_may_push_its_walk_ins(service: SyncService) -> None:
    conn = MemoryConnection(device_token("box2", Capability.KIOSK))
    serving = asyncio.create_task(service.serve(conn, str(LOG)))
    await until(lambda: conn.sent)
    conn.inbox.put_nowait(update_message(log_update(walk_in("w7"))))
    await until(lambda: len(service.replica.doc(LOG).get("log", type=Array)) == 1)
    assert conn.closed is None
    await service.shutdown()
    await serving


async def test_an_update_creating_a_new_root_is_refused_and_never_relayed(service: SyncService) -> None:
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array).append(to_json_value(scan()))
    doc.get("extra", type=Map)["k"] = "v"
    before = await stored(service)
    conn = await push(
        service, device_token("box2", Capability.SCANNER), LOG, update_message(doc.get_update())
    )
    assert conn.closed is not None
    assert conn.closed[0] == CloseCode.BAD_MESSAGE and conn.closed[1].startswith("unknown_root:")
    assert await stored(service) == before
    assert "extra" not in list(service.replica.doc(LOG).keys())


async def test_a_peer_denying_access_gets_a_refusal_code_not_a_clean_close(service: SyncService) -> None:
    frame = encode(AuthMessage(denied=True, reason="no entry"))
    conn = await push(service, device_token("box2", Capability.SCANNER), LOG, frame)
    assert conn.closed == (CloseCode.FORBIDDEN, "peer denied access: no entry")


# --- revoked devices --------------------------------------------------------------------


async def test_a_revoked_device_is_closed_and_refused_at_connect(service: SyncService) -> None:
    revoked = MemoryConnection(device_token("box2", Capability.SCANNER))
    kept = MemoryConnection(device_token("box3", Capability.SCANNER))
    tasks = [
        asyncio.create_task(service.serve(revoked, str(LOG))),
        asyncio.create_task(service.serve(kept, str(DocName.device(EVENT, "box3")))),
    ]
    await until(lambda: revoked.sent and kept.sent)
    # the revocation arrives with the control document (here written locally, as the hub does)
    await service.replica.write(CONTROL, lambda d: ControlDoc(d).revoke("device", "box2", reason="stolen"))
    async with asyncio.timeout(5):
        await tasks[0]
    assert revoked.closed == (CloseCode.FORBIDDEN, "forbidden: device box2 is revoked in event e1")
    assert kept.closed is None
    again = MemoryConnection(device_token("box2", Capability.SCANNER))
    async with asyncio.timeout(5):
        await service.serve(again, str(CONTROL))
    assert again.closed == (CloseCode.FORBIDDEN, "forbidden: device box2 is revoked in event e1")
    assert again.sent == []
    await service.shutdown()
    await tasks[1]


async def test_a_revocation_received_from_a_peer_closes_the_revoked_device(service: SyncService) -> None:
    revoked = MemoryConnection(device_token("box2", Capability.SCANNER))
    serving = asyncio.create_task(service.serve(revoked, str(LOG)))
    await until(lambda: revoked.sent)
    organizer: Doc[Any] = Doc()
    ControlDoc(organizer).revoke("device", "box2")
    conn = MemoryConnection(device_token("org1", Capability.ORGANIZER))
    other = asyncio.create_task(service.serve(conn, str(CONTROL)))
    await until(lambda: conn.sent)
    conn.inbox.put_nowait(update_message(organizer.get_update()))
    async with asyncio.timeout(5):
        await serving
    assert revoked.closed is not None and revoked.closed[0] == CloseCode.FORBIDDEN
    await service.shutdown()
    await other


# --- the projections ----------------------------------------------------------------------


def test_screen_changes_quarantines_what_the_writer_may_not_write() -> None:
    doc: Doc[Any] = Doc()
    DeviceLog(doc).append(scan())
    DeviceLog(doc).append(walk_in())
    changes = list(read_all(LOG, doc))
    kept, refused = screen_changes(changes, {"box2": SCANNER}.get)
    assert [type(c.record).__name__ for c in kept if isinstance(c, Appended)] == ["Scan"]
    assert len(refused) == 1 and refused[0].raw["kind"] == "walk_in"
    assert "kiosk or organizer" in refused[0].error
    kept, refused = screen_changes(changes, lambda _: None)  # unknown here: the server checked
    assert len(kept) == 2 and refused == []


def test_the_appliance_projection_quarantines_a_relayed_walk_in_of_a_scanner(tmp_path: Path) -> None:
    from sync.sqlite_store import SCHEMA

    certified = {"box2": SCANNER, "desk1": KIOSK}
    projection = ApplianceProjection(capabilities_of=certified.get)
    conn = sqlite3.connect(tmp_path / "p.db")
    conn.executescript(SCHEMA)
    projection.setup(conn)
    for device, attendee in (("box2", "w-scanner"), ("desk1", "w-desk"), ("stranger", "w-unknown")):
        doc: Doc[Any] = Doc()
        DeviceLog(doc).append(walk_in(attendee))
        projection.project(conn, list(read_all(DocName.device(EVENT, device), doc)))
    walk_ins = {row[0] for row in conn.execute("SELECT id FROM attendee WHERE source = 'walk_in'")}
    assert walk_ins == {"w-desk", "w-unknown"}
    quarantined = conn.execute("SELECT doc, error FROM sync_quarantine").fetchall()
    assert len(quarantined) == 1
    assert quarantined[0][0] == "event/e1/device/box2" and "walk_in" in quarantined[0][1]


def test_the_default_appliance_projection_trusts_the_connecting_server(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "p.db")
    from sync.sqlite_store import SCHEMA

    conn.executescript(SCHEMA)
    projection = ApplianceProjection()
    projection.setup(conn)
    doc: Doc[Any] = Doc()
    DeviceLog(doc).append(walk_in())
    projection.project(conn, list(read_all(LOG, doc)))
    assert conn.execute("SELECT count(*) FROM attendee WHERE source = 'walk_in'").fetchone()[0] == 1
