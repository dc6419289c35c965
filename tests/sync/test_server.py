"""The sync endpoint of a real appliance process, spoken to with raw frames.

Each refusal must carry a close code and a reason a person can act on, and
leave the appliance's store exactly as it was.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from pycrdt import Array, Doc
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sync.protocol import SyncMessage, SyncType, decode, encode, step1, update_message, write_var_uint
from tests.helpers import ApplianceProcess, konferenco


def token(appliance: ApplianceProcess, *args: str) -> str:
    return konferenco("appliance", "peer-token", "--data", str(appliance.data), *args).stdout.strip()


def stored_updates(appliance: ApplianceProcess) -> int:
    with sqlite3.connect(f"file:{appliance.data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM sync_update").fetchone()[0])


def log_update(n: int = 1) -> bytes:
    doc = Doc()
    with doc.transaction():
        for i in range(n):
            doc.get("log", type=Array).append(
                {"kind": "scan", "id": f"x{i}", "at": 1, "nonce": f"x{i}", "gate": "A", "result": "admitted"}
            )
    return doc.get_update()


async def refused(url: str, frames: list[bytes], *, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Send frames, read until the server closes; return its close code and reason."""
    async with connect(url, additional_headers=headers or {}, max_size=None) as ws:
        for frame in frames:
            try:
                await ws.send(frame)
            except ConnectionClosed:
                break
        try:
            while True:
                await ws.recv()
        except ConnectionClosed as exc:
            assert exc.rcvd is not None
            return exc.rcvd.code, exc.rcvd.reason
    raise AssertionError("the server did not close")


def ws(appliance: ApplianceProcess, doc: str, tok: str | None = None) -> str:
    url = f"ws://127.0.0.1:{appliance.port}/sync/{doc}"
    return f"{url}?token={tok}" if tok else url


async def test_handshake_follows_y_protocols(appliance: ApplianceProcess) -> None:
    tok = token(appliance, "--peer-id", "v1")
    async with connect(
        ws(appliance, "event/e1/control"), additional_headers={"Authorization": f"Bearer {tok}"}
    ) as c:
        first = decode(await c.recv())
        assert isinstance(first, SyncMessage) and first.kind == SyncType.STEP1
        await c.send(step1(b"\x00"))
        reply = decode(await c.recv())
        assert isinstance(reply, SyncMessage) and reply.kind == SyncType.STEP2


async def test_no_or_bad_token_is_refused(appliance: ApplianceProcess) -> None:
    code, reason = await refused(ws(appliance, "event/e1/control"), [])
    assert code == 4401 and "token" in reason
    code, reason = await refused(ws(appliance, "event/e1/control", "kp1.forged.sig"), [])
    assert code == 4401 and "signature" in reason
    async with httpx.AsyncClient() as http:
        assert (await http.get(f"{appliance.url}/sync")).status_code == 401


async def test_unknown_documents_are_refused(appliance: ApplianceProcess) -> None:
    tok = token(appliance, "--peer-id", "v1")
    for doc in ("event/e1/other", "event/e2/control", "whatever"):
        code, reason = await refused(ws(appliance, doc, tok), [])
        assert code == 4404, (doc, code, reason)
        assert "unknown document" in reason


async def test_a_peer_cannot_write_what_its_role_forbids(appliance: ApplianceProcess) -> None:
    before = stored_updates(appliance)
    viewer = token(appliance, "--peer-id", "v1")
    code, reason = await refused(
        ws(appliance, "event/e1/device/box1", viewer), [update_message(log_update())]
    )
    assert code == 4403 and "viewer" in reason
    # a device may write its own log, not another device's
    other = token(appliance, "--peer-id", "d2", "--role", "device", "--device-id", "d2")
    code, reason = await refused(ws(appliance, "event/e1/device/box1", other), [update_message(log_update())])
    assert code == 4403 and "d2" in reason and "box1" in reason
    # nor the control document without the organizer capability
    code, reason = await refused(ws(appliance, "event/e1/control", other), [update_message(log_update())])
    assert code == 4403 and "organizer" in reason
    assert stored_updates(appliance) == before


@pytest.mark.parametrize("doc", ["event/e1/device/d3", "event/e1/device/d3/2"])
async def test_a_device_writes_its_own_log_and_gets_an_acknowledgement(
    appliance: ApplianceProcess, doc: str
) -> None:
    before = stored_updates(appliance)
    tok = token(appliance, "--peer-id", "d3", "--role", "device", "--device-id", "d3")
    async with connect(ws(appliance, doc, tok)) as c:
        assert decode(await c.recv()).kind == SyncType.STEP1  # type: ignore[union-attr]
        update = log_update(3)
        await c.send(update_message(update))
        ack = decode(await c.recv())  # the server's fresh state vector, once stored
        assert isinstance(ack, SyncMessage) and ack.kind == SyncType.STEP1
        probe = Doc()
        probe.apply_update(update)
        assert ack.payload == probe.get_state()
    assert stored_updates(appliance) == before + 1
    async with httpx.AsyncClient() as http:
        listed = (await http.get(f"{appliance.url}/sync", headers={"Authorization": f"Bearer {tok}"})).json()
    assert doc in listed["documents"]  # peers learn of the shard


@pytest.mark.parametrize(
    ("frame", "expect"),
    [
        (b"\x00\x02\x85", "truncated"),  # update whose length varint never ends
        (b"\x00\x02\x10\x01\x02", "truncated"),  # length 16, two bytes follow
        (b"\x07", "unknown_type"),
        (b"\x00\x09\x00", "unknown_sync_type"),
        (b"\x00\x02\x02\x00\x00\x00", "trailing_bytes"),
        (b"\x00\x02" + write_var_uint(9) + b"not yjs!!", "bad_update"),
    ],
)
async def test_malformed_frames_are_refused_and_nothing_is_stored(
    appliance: ApplianceProcess, frame: bytes, expect: str
) -> None:
    before = stored_updates(appliance)
    tok = token(appliance, "--peer-id", "d4", "--role", "device", "--device-id", "d4")
    code, reason = await refused(ws(appliance, "event/e1/device/d4", tok), [frame])
    assert code == 4400 and reason.startswith(expect), (code, reason)
    assert stored_updates(appliance) == before


async def test_text_frames_and_oversized_messages_are_refused(appliance: ApplianceProcess) -> None:
    tok = token(appliance, "--peer-id", "d5", "--role", "device", "--device-id", "d5")
    async with connect(ws(appliance, "event/e1/device/d5", tok)) as c:
        await c.send("hello")
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await c.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4400
    before = stored_updates(appliance)
    big = encode(SyncMessage(SyncType.UPDATE, b"\x00" * (16 * 1024 * 1024)))
    code, reason = await refused(ws(appliance, "event/e1/device/d5", tok), [big])
    assert code == 4413 and "limit" in reason
    assert stored_updates(appliance) == before


def test_tokens_never_reach_the_log(appliance: ApplianceProcess) -> None:
    tok = token(appliance, "--peer-id", "v9")
    httpx.get(f"{appliance.url}/sync?token={tok}")
    log = appliance.log.read_text()
    assert "token=***" in log
    assert tok.split(".")[2] not in log
