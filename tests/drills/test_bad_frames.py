"""Drill: a peer sends malformed, truncated, oversized and permission-violating sync frames.

A real ``konferenco appliance serve`` (a seeded demo box), then a real
``konferenco hub serve`` with enrolled devices, and a raw
``websockets`` client with real peer tokens.  Every frame must be refused
with its documented close code (docs/sync-protocol.md, "Close codes") and a
reason; the store must be exactly as before (row counts, and each
document's state vector as the server itself reports it); and the box must
keep serving: ``/healthz`` answers 200 and a door scan is admitted after
every refusal.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pycrdt import Array, Doc, Map
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sync.documents import DeviceLog
from sync.names import DocName
from sync.protocol import (
    DEFAULT_MAX_MESSAGE,
    TRANSPORT_MAX_FRAME,
    AuthMessage,
    SyncMessage,
    SyncType,
    decode,
    encode,
    step1,
    update_message,
    write_var_uint,
)
from sync.records import Scan, WalkIn, to_json_value
from tests.helpers import ApplianceProcess, HubProcess, konferenco, scratch_database
from tests.hub.api_support import Device, enrol_device, new_event, new_org

TABLES = ("sync_update", "sync_snapshot", "sync_quarantine", "sync_record", "checkin", "attendee")


@dataclass
class Rig:
    data: Path
    event: str
    device_id: str
    door: str  # a door staff token
    badges: list[str]
    tokens: dict[str, str]  # peer tokens by name
    server: ApplianceProcess
    scans: int = 0

    def ws(self, doc: DocName | str) -> str:
        return f"ws://127.0.0.1:{self.server.port}/sync/{doc}"


def peer_token(data: Path, *args: str) -> str:
    return konferenco("appliance", "peer-token", "--data", str(data), *args).stdout.strip()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("bad-frames")
    data = root / "box"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "50")
    konferenco("appliance", "badges", "--data", str(data), "--out", str(root / "badges.csv"))
    with (root / "badges.csv").open(newline="", encoding="utf-8") as f:
        badges = [row["badge_code"] for row in csv.DictReader(f)]
    config = json.loads((data / "appliance.json").read_text())
    door = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()
    tokens = {
        "viewer": peer_token(data, "--peer-id", "drill-viewer"),
        "scanner": peer_token(
            data, "--peer-id", "gate9", "--role", "device", "--device-id", "gate9", "--capability", "scanner"
        ),
    }
    with ApplianceProcess(data) as server:
        yield Rig(data, config["events"][0], config["device_id"], door, badges, tokens, server)


def row_counts(rig: Rig) -> dict[str, int]:
    with sqlite3.connect(f"file:{rig.data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in TABLES}


async def state_vector(rig: Rig, doc: DocName) -> bytes:
    """What the server says it holds of a document: its Step 1, as any peer reads it."""
    async with connect(rig.ws(doc), additional_headers=auth(rig.tokens["viewer"])) as ws:
        message = decode(await asyncio.wait_for(ws.recv(), 10))  # type: ignore[arg-type]
    assert isinstance(message, SyncMessage) and message.kind == SyncType.STEP1
    return message.payload


async def store(rig: Rig) -> dict[str, Any]:
    docs = [
        DocName.control(rig.event),
        DocName.device(rig.event, rig.device_id),
        DocName.device(rig.event, "gate9"),
    ]
    return {"rows": row_counts(rig), **{str(d): await state_vector(rig, d) for d in docs}}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refusal(rig: Rig, doc: DocName, token: str, frame: bytes | str) -> tuple[int, str]:
    return await closed_by(rig.ws(doc), auth(token), frame)


async def closed_by(url: str, headers: dict[str, str], frame: bytes | str) -> tuple[int, str]:
    """Send one frame after the server's Step 1; how the server closed the connection.

    A server that refuses at connect closes before its Step 1: that close is the answer too.
    """
    async with connect(url, additional_headers=headers, max_size=None, open_timeout=10) as ws:
        try:
            await asyncio.wait_for(ws.recv(), 10)  # the server's Step 1: the session is up
            await ws.send(frame)
            async with asyncio.timeout(30):
                while True:
                    await ws.recv()
        except ConnectionClosed as exc:
            assert exc.rcvd is not None, "the server cut the connection without a close frame"
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the server did not close")


async def still_serving(rig: Rig) -> None:
    """The box answers its health check and records a door scan."""
    rig.scans += 1
    async with httpx.AsyncClient(base_url=rig.server.url, timeout=10) as http:
        assert (await http.get("/healthz")).status_code == 200
        response = await http.post(
            "/api/v1/scans",
            json={
                "code": rig.badges[rig.scans % len(rig.badges)],
                "nonce": uuid.uuid4().hex,
                "gate": "north",
            },
            headers=auth(rig.door),
        )
    assert response.status_code == 200, response.text
    assert response.json()["scan_id"] and response.json()["result"], response.json()  # a decision, recorded


def log_update(*records: Any) -> bytes:
    doc: Doc[Any] = Doc()
    for record in records:
        DeviceLog(doc).append(record)
    return doc.get_update()


def scan() -> Scan:
    return Scan(nonce=uuid.uuid4().hex, gate="north", result="admitted")


def walk_in() -> WalkIn:
    return WalkIn(attendee_id="w-mallory", name="Mallory", ticket_type_id="standard")


def new_root_update() -> bytes:
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array).append(to_json_value(scan()))
    doc.get("attendees", type=Map)["w-mallory"] = {"name": "Mallory"}
    return doc.get_update()


def nested_update() -> bytes:
    doc: Doc[Any] = Doc()
    doc.get("log", type=Array).append(Map({"kind": "walk_in", "attendee_id": "w-mallory"}))
    return doc.get_update()


def frame(update: bytes) -> bytes:
    return encode(SyncMessage(SyncType.UPDATE, update))


GOOD = log_update(scan(), scan())

#: (case, target document, token, frame, close code, reason starts with)
CASES: list[tuple[str, str, str, bytes | str, int, str]] = [
    ("empty", "own", "scanner", b"", 4400, "empty"),
    ("unknown message type", "own", "scanner", b"\x07", 4400, "unknown_type"),
    ("unknown sync type", "own", "scanner", b"\x00\x09\x00", 4400, "unknown_sync_type"),
    ("varint never ends", "own", "scanner", b"\x00\x02\x85", 4400, "truncated"),
    ("length prefix lies", "own", "scanner", b"\x00\x02\x10\x01\x02", 4400, "truncated"),
    ("trailing bytes", "own", "scanner", update_message(GOOD) + b"\x00", 4400, "trailing_bytes"),
    ("truncated update", "own", "scanner", frame(GOOD[: len(GOOD) // 2]), 4400, "bad_update"),
    ("not an update", "own", "scanner", b"\x00\x02" + write_var_uint(9) + b"not yjs!!", 4400, "bad_update"),
    ("text frame", "own", "scanner", "hello", 4400, "text_frame"),
    ("bad awareness", "own", "scanner", b"\x01\x05\x01\x07\x01\x01{", 4400, "bad_awareness"),
    ("over the cap", "own", "scanner", frame(b"\x00" * (DEFAULT_MAX_MESSAGE + 16)), 4413, "too_large"),
    ("another device's log", "box", "scanner", update_message(GOOD), 4403, "device gate9 may not write"),
    ("control without organizer", "control", "scanner", update_message(GOOD), 4403, "device gate9 lacks"),
    ("viewer writes", "own", "viewer", update_message(GOOD), 4403, "drill-viewer is a viewer"),
    (
        "scanner's walk-in",
        "own",
        "scanner",
        update_message(log_update(scan(), walk_in())),
        4403,
        "not_allowed",
    ),
    ("unknown root", "own", "scanner", update_message(new_root_update()), 4400, "unknown_root"),
    ("nested shared type", "own", "scanner", update_message(nested_update()), 4400, "nested_type"),
    ("permission denied", "own", "scanner", encode(AuthMessage(True, "go away")), 4403, "peer denied access"),
]


@pytest.mark.parametrize(
    ("target", "who", "data", "code", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
async def test_a_bad_frame_is_refused_with_its_code_and_changes_nothing(
    rig: Rig, target: str, who: str, data: bytes | str, code: int, reason: str
) -> None:
    doc = {
        "own": DocName.device(rig.event, "gate9"),
        "box": DocName.device(rig.event, rig.device_id),
        "control": DocName.control(rig.event),
    }[target]
    before = await store(rig)
    got = await refusal(rig, doc, rig.tokens[who], data)
    assert got[0] == code and reason in got[1], got
    assert await store(rig) == before
    await still_serving(rig)


async def test_a_frame_past_the_transports_ceiling_is_cut_and_the_box_serves_on(rig: Rig) -> None:
    """Beyond TRANSPORT_MAX_FRAME the WebSocket layer closes with 1009 before we read a byte."""
    before = await store(rig)
    doc = DocName.device(rig.event, "gate9")
    got = await refusal(rig, doc, rig.tokens["scanner"], b"\x00" * (TRANSPORT_MAX_FRAME + 1))
    assert got[0] == 1009, got
    assert await store(rig) == before
    await still_serving(rig)


async def test_a_legitimate_push_after_the_drill_is_stored(rig: Rig) -> None:
    """The refusals were about the frames: the same peer's well-formed scans are kept."""
    doc = DocName.device(rig.event, "gate9")
    before = row_counts(rig)["checkin"]
    async with connect(rig.ws(doc), additional_headers=auth(rig.tokens["scanner"])) as ws:
        await asyncio.wait_for(ws.recv(), 10)
        await ws.send(update_message(GOOD))
        for _ in range(100):
            if row_counts(rig)["checkin"] == before + 2:
                break
            await asyncio.sleep(0.1)
    assert row_counts(rig)["checkin"] == before + 2
    await still_serving(rig)


async def test_a_frame_far_over_the_cap_gets_4413_with_a_reason(rig: Rig) -> None:
    """Up to the transport's ceiling, our decoder sees the frame and says why it is refused."""
    before = await store(rig)
    big = frame(b"\x00" * (DEFAULT_MAX_MESSAGE + 4 * 1024 * 1024))
    got = await refusal(rig, DocName.device(rig.event, "gate9"), rig.tokens["scanner"], big)
    assert got[0] == 4413 and got[1].startswith("too_large"), got
    assert await store(rig) == before
    await still_serving(rig)


# --- the same drill against the hub -----------------------------------------------------------


@dataclass
class HubRig:
    db: str
    hub: HubProcess
    event: str
    scanner: Device
    other: Device  # a device of another organization

    def ws(self, doc: DocName | str) -> str:
        return f"ws://127.0.0.1:{self.hub.port}/sync/{doc}"


@pytest.fixture(scope="module")
def hub_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubRig]:
    with (
        scratch_database() as db,
        HubProcess(db, tmp_path_factory.mktemp("hub") / "secrets") as hub,
        httpx.Client(base_url=hub.url, timeout=30) as http,
    ):
        org, rival = new_org(db, http), new_org(db, http)
        event = new_event(http, org)
        scanner = enrol_device(http, org, event, ("scanner",))
        other = enrol_device(http, rival, new_event(http, rival), ("scanner", "kiosk", "organizer"))
        yield HubRig(db, hub, event, scanner, other)


async def hub_rows(rig: HubRig) -> dict[str, int]:
    tables = ("sync_update", "sync_snapshot", "sync_quarantine", "walk_in", "checkin_scan", "attendee")
    conn = await asyncpg.connect(rig.db)
    try:
        return {t: int(await conn.fetchval(f"SELECT count(*) FROM {t}")) for t in tables}
    finally:
        await conn.close()


async def hub_refusal(rig: HubRig, doc: DocName | str, device: Device, data: bytes) -> tuple[int, str]:
    return await closed_by(rig.ws(doc), device.auth, data)


HUB_CASES: list[tuple[str, str, bytes, int, str]] = [
    ("malformed", "own", b"\x00\x02\x85", 4400, "truncated"),
    ("truncated update", "own", frame(GOOD[: len(GOOD) // 2]), 4400, "bad_update"),
    ("over the cap", "own", frame(b"\x00" * (DEFAULT_MAX_MESSAGE + 16)), 4413, "too_large"),
    ("scanner's walk-in", "own", update_message(log_update(scan(), walk_in())), 4403, "not_allowed"),
    ("unknown root", "own", update_message(new_root_update()), 4400, "unknown_root"),
    ("nested shared type", "own", update_message(nested_update()), 4400, "nested_type"),
    ("control without organizer", "control", update_message(GOOD), 4403, "lacks the organizer"),
]


@pytest.mark.parametrize(
    ("target", "data", "code", "reason"), [c[1:] for c in HUB_CASES], ids=[c[0] for c in HUB_CASES]
)
async def test_the_hub_refuses_a_bad_frame_and_changes_nothing(
    hub_rig: HubRig, target: str, data: bytes, code: int, reason: str
) -> None:
    own = DocName.device(hub_rig.event, hub_rig.scanner.device_id)
    doc = own if target == "own" else DocName.control(hub_rig.event)
    before = await hub_rows(hub_rig)
    got = await hub_refusal(hub_rig, doc, hub_rig.scanner, data)
    assert got[0] == code and reason in got[1], got
    assert await hub_rows(hub_rig) == before
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(f"{hub_rig.hub.url}/healthz")).status_code == 200


async def test_the_hub_answers_not_yours_and_does_not_exist_alike(hub_rig: HubRig) -> None:
    """Another organization's device learns nothing about which events exist."""
    answers = []
    for event in (hub_rig.event, "no-such-event-7"):
        doc = DocName.control(event)
        code, reason = await hub_refusal(hub_rig, doc, hub_rig.other, step1(b"\x00"))
        answers.append((code, reason.replace(str(doc), "<doc>")))
    assert answers[0] == answers[1] and answers[0][0] == 4404, answers


async def test_the_hub_stores_the_scanners_scans_after_the_drill(hub_rig: HubRig) -> None:
    own = DocName.device(hub_rig.event, hub_rig.scanner.device_id)
    before = (await hub_rows(hub_rig))["checkin_scan"]
    async with connect(hub_rig.ws(own), additional_headers=hub_rig.scanner.auth) as ws:
        await asyncio.wait_for(ws.recv(), 10)
        await ws.send(update_message(GOOD))
        for _ in range(100):
            if (await hub_rows(hub_rig))["checkin_scan"] == before + 2:
                break
            await asyncio.sleep(0.1)
    assert (await hub_rows(hub_rig))["checkin_scan"] == before + 2
