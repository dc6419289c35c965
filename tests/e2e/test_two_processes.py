"""Two real processes syncing over a real WebSocket on loopback, through outages.

* A scripted peer writes scans, the server acknowledges them; the server is
  killed (``kill -9``), the peer keeps writing offline, the server comes back
  and the peer catches up by itself — and knows, from the server's state
  vector, that nothing is left unacknowledged.
* Two ``konferenco appliance serve`` processes, one the other's upstream,
  exchange the event's control document both ways.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ROOT, ApplianceProcess, konferenco, wait_for


class Peer:
    def __init__(self, db: Path, url: str, token: str, event: str, device: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.peer", str(db), url, token, event, device],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.read() == {"ready": True}

    def read(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "peer process died"
        return dict(json.loads(line))

    def ask(self, command: str) -> dict[str, object]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def records_of(data: Path, doc: str) -> set[str]:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT nonce FROM checkin WHERE doc = ?", (doc,))  # the projected scans
        return {row[0] for row in rows}


@pytest.fixture
def server_data(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "server"
    konferenco("appliance", "init", "--data", str(data), "--event", "e1", "--device-id", "hubbox")
    yield data


def test_a_peer_catches_up_after_the_server_is_killed_and_restarted(
    server_data: Path, tmp_path: Path
) -> None:
    token = konferenco(
        "appliance",
        "peer-token",
        "--data",
        str(server_data),
        "--peer-id",
        "door1",
        "--role",
        "device",
        "--device-id",
        "door1",
    ).stdout.strip()
    server = ApplianceProcess(server_data).start()
    peer = Peer(tmp_path / "door1.db", server.url, token, "e1", "door1")
    try:
        assert peer.ask("write 40") == {"written": 40}
        assert peer.ask("wait-acked 20") == {"pending": 0}
        assert len(records_of(server_data, "event/e1/device/door1")) == 40

        server.kill()
        assert peer.ask("write 60") == {"written": 100}  # offline: every write still acknowledged locally
        status = peer.ask("status")
        assert status["pending"] == 60
        assert status["status"]["event/e1/device/door1"] in ("waiting", "queued", "connecting")  # type: ignore[index]

        server = ApplianceProcess(server_data, server.port).start()
        assert peer.ask("wait-acked 30") == {"pending": 0}
        assert records_of(server_data, "event/e1/device/door1") == {f"door1-{i}" for i in range(100)}
        assert peer.ask("status")["status"]["event/e1/device/door1"] == "synced"  # type: ignore[index]
    finally:
        peer.close()
        server.stop()


def test_two_appliances_exchange_the_control_document(tmp_path: Path) -> None:
    """A box of the event (its catalog, its certificate) and the box that holds the event key, both ways."""
    server_data, box2 = tmp_path / "server", tmp_path / "box2"
    konferenco("demo", "seed", "--data", str(server_data), "--event", "e1", "--attendees", "20")
    catalog_key = json.loads((server_data / "appliance.json").read_text())["catalog_keys"][0]
    konferenco(
        "appliance", "init", "--data", str(box2), "--event", "e1", "--device-id", "box2",
        "--catalog-key", catalog_key,
    )  # fmt: skip
    konferenco("appliance", "import", "--data", str(box2), str(server_data / "catalog.json"))
    upstream_token = konferenco(
        "appliance", "peer-token", "--data", str(server_data), "--peer-id", "box2", "--role", "device",
        "--device-id", "box2", "--capability", "organizer",
    ).stdout.strip()  # fmt: skip
    organizer = konferenco(
        "appliance", "issue-token", "--data", str(box2), "--role", "organizer"
    ).stdout.strip()
    server = ApplianceProcess(server_data)
    with (
        server,
        ApplianceProcess(box2, None, "--upstream", server.url, "--upstream-token", upstream_token) as b,
    ):
        # the server's schedule reaches box2...
        wait_for(lambda: _rooms(box2) == _rooms(server_data) > 0, what="rooms at box2")
        # ...and a revocation made at box2 reaches the server
        revoked = httpx.post(
            f"{b.url}/api/v1/revocations",
            json={"target": "key", "value": "retired-key", "reason": "rotated"},
            headers={"Authorization": f"Bearer {organizer}"},
        )
        assert revoked.status_code in (200, 201), revoked.text
        wait_for(lambda: _revocations(server_data) == {"retired-key"}, what="the revocation at the server")
        # ...and box2 reports its upstream in sync, with nothing unacknowledged
        viewer = konferenco("appliance", "peer-token", "--data", str(box2), "--peer-id", "ops").stdout.strip()

        def upstream_synced() -> bool:
            status = httpx.get(
                f"{b.url}/api/v1/sync/status", headers={"Authorization": f"Bearer {viewer}"}
            ).json()
            docs = status["upstreams"][0]["documents"]
            return (
                bool(docs)
                and all(d["state"] == "synced" for d in docs.values())
                and not status["unacknowledged"].get("hub")
            )

        wait_for(upstream_synced, what="box2 synced with the server")
    for log in (server.log, b.log):  # the credential box2 presented is in neither log
        assert upstream_token not in log.read_text()


def _revocations(data: Path) -> set[str]:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return {row[0] for row in conn.execute("SELECT value FROM checkin_revocation WHERE target = 'key'")}


def _rooms(data: Path) -> int:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT count(*) FROM sync_entry WHERE root = 'rooms'").fetchone()[0])
