"""Which devices are connected, and what they have not acknowledged, as every worker sees it.

A sync session lives in one worker's memory, and so does that worker's
acknowledgement tracker; an organizer's request may land on any worker.
Both answers are therefore read from PostgreSQL:

* **connected** — each worker stamps ``device.last_seen_at`` for the
  devices it holds sessions with every :data:`HEARTBEAT_S` seconds; a device
  stamped within :data:`CONNECTED_WITHIN_S` and not revoked is connected.
  A crashed worker's stamps simply age out.  A failed stamp (database away)
  is retried at the same pace, never slower: a longer pause would show
  connected devices as gone once the database is back.
* **not yet acknowledged** — the hub's own updates (``sync_authored``) that
  the device's last reported state vector (``sync_peer_state``, saved by
  whichever worker it talked to) does not cover: the same rule as
  :class:`sync.acks.AckTracker`, fed from the shared tables.
"""

from __future__ import annotations

import logging

import asyncpg

from konferenco.lifecycle import Periodic, Supervised
from sync.acks import AckTracker
from sync.protocol import decode_state_vector
from sync.service import SyncService
from sync.store import Authored

HEARTBEAT_S = 10.0
CONNECTED_WITHIN_S = 3 * HEARTBEAT_S
log = logging.getLogger(__name__)


async def unacknowledged(pool: asyncpg.Pool, event_id: str, device_ids: list[str]) -> dict[str, int]:
    """Per device, the hub's updates of this event the device has not acknowledged."""
    prefix = f"event/{event_id}/%"
    async with pool.acquire() as conn:
        authored = await conn.fetch(
            "SELECT doc, client_id, clock_end, at FROM sync_authored WHERE doc LIKE $1", prefix
        )
        states = await conn.fetch(
            "SELECT peer, doc, state_vector FROM sync_peer_state WHERE doc LIKE $1 AND peer = ANY($2)",
            prefix,
            device_ids,
        )
    tracker = AckTracker()
    for row in authored:
        tracker.authored(row["doc"], Authored(row["client_id"], row["clock_end"], row["at"]))
    for row in states:
        tracker.peer_state(row["peer"], row["doc"], decode_state_vector(bytes(row["state_vector"])))
    return {d: sum(p.count for p in tracker.pending_all(d).values()) for d in device_ids}


async def connected(pool: asyncpg.Pool, device_ids: list[str]) -> set[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id FROM device WHERE id = ANY($1) AND revoked_at IS NULL"
            " AND last_seen_at > now() - make_interval(secs => $2)",
            device_ids,
            CONNECTED_WITHIN_S,
        )
    return {r["id"] for r in rows}


class Heartbeat:
    """Stamps ``last_seen_at`` for the devices this worker holds sync sessions with."""

    def __init__(self, pool: asyncpg.Pool, sync: SyncService, every: float = HEARTBEAT_S) -> None:
        self.pool = pool
        self.sync = sync
        self.every = every
        self.task = Periodic(
            "device heartbeat", self.beat, every, first_delay=every, backoff=(every, every), logger=log
        )

    @property
    def tasks(self) -> list[Supervised]:
        return [self.task]

    def start(self) -> None:
        self.task.start()

    async def stop(self) -> None:
        await self.task.stop()

    async def beat(self) -> None:
        peers: set[str] = set()
        for sessions in self.sync.connected().values():
            peers.update(sessions)
        if peers:
            async with self.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE device SET last_seen_at = now() WHERE id = ANY($1) AND revoked_at IS NULL",
                    sorted(peers),
                )
