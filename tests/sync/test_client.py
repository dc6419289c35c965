"""The sync client: backoff with jitter, and refusals it reports instead of hiding."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sync.client import Backoff, SyncClient
from sync.permissions import PeerIdentity, Role
from sync.projection import RecordProjection
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from tests.helpers import ApplianceProcess, konferenco


def test_backoff_grows_to_its_cap_with_full_jitter() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (3, 4.0), (4, 8.0), (10, 8.0), (1000, 8.0)]:
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.7  # it uses the whole range...
        assert len(set(delays)) > 150  # ...at random, so peers do not reconnect in lockstep


async def client_status(appliance: ApplianceProcess, tmp_path: Path, token: str, doc: str) -> tuple[str, str]:
    replica = Replica(SQLiteUpdateStore(tmp_path / "c.db", projector=RecordProjection()))
    await replica.start()
    me = PeerIdentity(peer_id="d9", role=Role.DEVICE, events=("e1",), device_id="d9")
    client = SyncClient(replica, appliance.url, token, me, documents=[doc], backoff=Backoff(0.05, 0.2))
    client.start()
    try:
        async with asyncio.timeout(10):
            while client.status.get(doc) is None or client.status[doc].state not in ("refused", "synced"):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        return client.status[doc].state, client.status[doc].last_error
    finally:
        await client.stop()
        await replica.close()


async def test_a_refused_client_says_why(appliance: ApplianceProcess, tmp_path: Path) -> None:
    state, error = await client_status(appliance, tmp_path, "kp1.forged.token", "event/e1/device/d9")
    assert state == "refused"
    assert "unauthorized" in error


async def test_a_client_syncs_its_own_log(appliance: ApplianceProcess, tmp_path: Path) -> None:
    token = konferenco(
        "appliance",
        "peer-token",
        "--data",
        str(appliance.data),
        "--peer-id",
        "d9",
        "--role",
        "device",
        "--device-id",
        "d9",
    ).stdout.strip()
    state, error = await client_status(appliance, tmp_path, token, "event/e1/device/d9")
    assert (state, error) == ("synced", "")
