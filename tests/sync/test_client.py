"""The sync client: backoff with jitter, and refusals it reports instead of hiding."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sync.client import Backoff, SyncClient
from sync.permissions import PeerIdentity, Role
from sync.projection import RecordProjection
from sync.records import Scan
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


async def test_a_box_back_online_exchanges_a_few_shards_at_a_time(
    appliance: ApplianceProcess, tmp_path: Path
) -> None:
    """Twelve shards of an offline log: at most four in their first exchange at once, all synced."""
    token = konferenco(
        "appliance", "peer-token", "--data", str(appliance.data), "--peer-id", "d8", "--role", "device",
        "--device-id", "d8",
    ).stdout.strip()  # fmt: skip
    replica = Replica(SQLiteUpdateStore(tmp_path / "c.db", projector=RecordProjection()), shard_records=5)
    await replica.start()
    for i in range(60):
        await replica.log("e1", "d8", Scan(nonce=f"n{i}", gate="A", result="admitted"))
    shards = sorted(replica.loaded())
    assert len(shards) == 12
    me = PeerIdentity(peer_id="d8", role=Role.DEVICE, events=("e1",), device_id="d8")
    client = SyncClient(replica, appliance.url, token, me, documents=shards, backoff=Backoff(0.05, 0.2))
    busiest = 0
    client.start()
    try:
        async with asyncio.timeout(20):
            while not all(client.status.get(s) and client.status[s].state == "synced" for s in shards):
                exchanging = sum(client.status[s].state in ("connecting", "syncing") for s in client.status)
                busiest = max(busiest, exchanging)
                await asyncio.sleep(0.001)
        async with asyncio.timeout(10):  # the upstream acknowledges every shard
            while any(replica.acks.pending("upstream", s).count for s in shards):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    finally:
        await client.stop()
        await replica.close()
    assert 1 <= busiest <= client.handshakes == 4
