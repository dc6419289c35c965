"""Sync peers the event's appliances refused: rogue boxes on a venue LAN, shown to the organizer.

An appliance that meets a box which cannot prove it belongs to the event
(sync/peer_proof.py) records it in its own log (``peer_refused``); the hub's
projection keeps those records in ``peer_refusal`` (migration 0006).  This is
how an organizer at home learns that someone plugged a rogue box into the
venue's network, and which of their boxes met it.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

#: How many refusals the console lists (the newest).
SHOWN = 20


class PeerRefusal(msgspec.Struct, frozen=True, kw_only=True):
    device_id: str
    device_name: str
    peer: str
    direction: str  # "upstream": the box would not sync to it; "incoming": it would not let it in
    reason: str
    at: str  # ISO 8601, UTC


async def recent_refusals(conn: AsyncConnection, event_id: str, limit: int = SHOWN) -> list[PeerRefusal]:
    """The event's newest refusals, each with the name of the box that refused (tenant transaction)."""
    rows = await conn.execute(
        text(
            "SELECT r.device_id, coalesce(d.name, r.device_id) AS name, r.peer, r.direction, r.reason, r.at"
            " FROM peer_refusal r LEFT JOIN device d ON d.id = r.device_id"
            " WHERE r.event_id = :e ORDER BY r.at DESC, r.id DESC LIMIT :n"
        ),
        {"e": event_id, "n": limit},
    )
    return [
        PeerRefusal(
            device_id=r.device_id or "",
            device_name=r.name or "",
            peer=r.peer,
            direction=r.direction,
            reason=r.reason,
            at=dt.datetime.fromtimestamp(r.at / 1000, dt.UTC).isoformat(timespec="seconds"),
        )
        for r in rows
    ]
