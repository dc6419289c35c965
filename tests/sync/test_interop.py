"""A standard y-websocket JavaScript client, unchanged, against a real appliance.

This is how a browser page or a third-party tool reads an event's live state,
so it must keep working: read, be refused a write its role forbids, write
what it may, and see records our Python peers wrote as plain JSON.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sync.client import SyncClient
from sync.documents import DeviceLog
from sync.names import DocName
from sync.permissions import PeerIdentity, Role
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.helpers import ROOT, ApplianceProcess, konferenco, wait_for

JS = ROOT / "tests" / "js"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not (JS / "node_modules" / "y-websocket").exists(),
    reason="node or tests/js/node_modules missing: run 'make setup'",
)


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApplianceProcess]:
    data = tmp_path_factory.mktemp("interop") / "data"
    konferenco("demo", "seed", "--data", str(data), "--event", "demo")
    with ApplianceProcess(data) as proc:
        yield proc


def token(appliance: ApplianceProcess, *args: str) -> str:
    return konferenco("appliance", "peer-token", "--data", str(appliance.data), *args).stdout.strip()


def js_client(appliance: ApplianceProcess, doc: str, tok: str, *change: str) -> list[dict[str, object]]:
    out = subprocess.run(
        ["node", "client.mjs", f"ws://127.0.0.1:{appliance.port}/sync", doc, tok, *change],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_a_yjs_viewer_reads_the_schedule(appliance: ApplianceProcess) -> None:
    events = js_client(appliance, "event/demo/control", token(appliance, "--peer-id", "browser"))
    synced = next(e for e in events if e["event"] == "synced")
    state = synced["state"]
    assert isinstance(state, dict)
    assert state["rooms"]["room-b"] == {"id": "room-b", "name": "Sala Łódź", "capacity": 60}
    assert len(state["sessions"]) == 12
    assert state["settings"]["name"] == "Konferenco Demo Days"


def test_a_yjs_viewer_may_not_write(appliance: ApplianceProcess) -> None:
    tok = token(appliance, "--peer-id", "browser")
    events = js_client(appliance, "event/demo/control", tok, "name", "Hacked")
    close = next(e for e in events if e["event"] == "close")
    assert close["code"] == 4403
    assert "viewer" in str(close["reason"])
    again = js_client(appliance, "event/demo/control", tok)
    assert (
        next(e for e in again if e["event"] == "synced")["state"]["settings"]["name"]
        == "Konferenco Demo Days"
    )  # type: ignore[index]


def test_a_yjs_organizer_writes_and_it_is_kept(appliance: ApplianceProcess) -> None:
    tok = token(
        appliance,
        "--peer-id",
        "console",
        "--role",
        "device",
        "--device-id",
        "console",
        "--capability",
        "organizer",
    )
    events = js_client(appliance, "event/demo/control", tok, "doors_open", "08:30")
    assert not any(e["event"] == "close" for e in events)
    viewer = token(appliance, "--peer-id", "browser")
    again = js_client(appliance, "event/demo/control", viewer)
    assert next(e for e in again if e["event"] == "synced")["state"]["settings"]["doors_open"] == "08:30"  # type: ignore[index]


def test_a_bad_token_gets_a_reason_a_browser_can_show(appliance: ApplianceProcess) -> None:
    events = js_client(appliance, "event/demo/control", "nonsense")
    close = next(e for e in events if e["event"] == "close")
    assert close["code"] == 4401
    assert "unauthorized" in str(close["reason"])


async def test_python_scans_reach_yjs_as_plain_json(appliance: ApplianceProcess, tmp_path: Path) -> None:
    tok = token(appliance, "--peer-id", "door1", "--role", "device", "--device-id", "door1")
    identity = PeerIdentity(peer_id="door1", role=Role.DEVICE, events=("demo",), device_id="door1")
    doc = DocName.device("demo", "door1")
    replica = Replica(SQLiteUpdateStore(tmp_path / "door1.db", projector=RecordProjection()))
    await replica.start()
    for i in range(3):
        await replica.write(
            doc,
            lambda d, i=i: DeviceLog(d).append_scan(
                nonce=f"n{i}",
                gate="Hall A",
                result="admitted",
                attendee_id=f"att{i}",
                device_time=1767225600000 + i,
            ),
        )
    client = SyncClient(replica, appliance.url, tok, identity, remote_peer="box", documents=[str(doc)])
    client.start()
    async with asyncio.timeout(20):
        await client.wait_synced([str(doc)])
    for _ in range(100):
        if replica.acks.pending("box", str(doc)).count == 0:
            break
        await asyncio.sleep(0.05)
    assert replica.acks.pending("box", str(doc)).count == 0
    await client.stop()
    await replica.close()

    events = js_client(appliance, str(doc), token(appliance, "--peer-id", "browser"))
    log = next(e for e in events if e["event"] == "synced")["state"]["log"]  # type: ignore[index]
    assert [entry["nonce"] for entry in log] == ["n0", "n1", "n2"]
    assert log[2]["device_time"] == 1767225600002
    assert log[0]["kind"] == "scan" and log[0]["gate"] == "Hall A"


def test_scans_a_yjs_client_writes_without_a_list_still_count_in_the_figures(
    appliance: ApplianceProcess,
) -> None:
    """A device log written by another client may omit what ours always set; the figures stay up."""
    tok = token(appliance, "--peer-id", "js-door", "--role", "device", "--device-id", "js-door")
    doc = str(DocName.device("demo", "js-door"))
    staff = konferenco(
        "appliance", "issue-token", "--data", str(appliance.data), "--role", "door"
    ).stdout.strip()
    headers = {"Authorization": f"Bearer {staff}"}
    before = httpx.get(f"{appliance.url}/api/v1/stats", headers=headers, timeout=10).json()
    at = int(time.time() * 1000)
    records = [  # valid by the record schema: no list, one without an attendee or gate name
        {"kind": "scan", "id": "js-1", "at": at, "nonce": "js-n1", "gate": "main", "result": "admitted",
         "attendee_id": "js-someone"},
        {"kind": "scan", "id": "js-2", "at": at + 1, "nonce": "js-n2", "gate": "", "result": "invalid"},
    ]  # fmt: skip
    for record in records:
        events = js_client(appliance, doc, tok, "--append-log", json.dumps(record))
        assert {"event": "appended"} in events, events

    def figures() -> dict[str, object] | None:
        response = httpx.get(f"{appliance.url}/api/v1/stats", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body if body["scans"] == int(before["scans"]) + 2 else None

    after = wait_for(figures, what="the foreign scans in the figures")
    assert after["admitted"] == int(before["admitted"]) + 1
    assert after["refused"] == int(before["refused"]) + 1
    unlisted_before = before["per_list"].get("(no list)", {"admitted": 0})["admitted"]
    assert after["per_list"]["(no list)"]["admitted"] == unlisted_before + 1  # type: ignore[index]
    assert after["per_gate"]["(no gate)"]["refused"] == 1  # type: ignore[index]
