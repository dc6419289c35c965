"""Which devices are connected, and what they have not acknowledged, as every worker sees it.

A sync session lives in one worker's memory, and so does that worker's
acknowledgement tracker; an organizer's request may land on any worker.
Both answers are therefore read from PostgreSQL:

* **connected** — each worker stamps ``device.last_seen_at`` for the
  devices it holds sessions with every :data:`HEARTBEAT_S` seconds; a device
  stamped within :data:`CONNECTED_WITHIN_S` and not revoked is connected.
  A crashed worker's stamps simply age out.
* **not yet acknowledged** — the hub's own updates (``sync_authored``) that
  the device's last reported state vector (``sync_peer_state``, saved by
  whichever worker it talked to) does not cover: the same rule as
  :class:`sync.acks.AckTracker`, fed from the shared tables.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg

from sync.acks import AckTracker
from sync.protocol import decode_state_vector
from sync.server import SyncService
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
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

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

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.beat()
            except Exception as exc:  # database away: the stamps age out, nothing else is affected
                log.warning("device heartbeat failed: %s", exc)
