"""Hub-wide notices between workers, and what a device revocation sets in motion.

Revoking a device must stop it everywhere at once: its credential is
refused from the next connection on (checked in the database), its open
sync sessions are closed on *every* worker (a notice on the
``konferenco_hub`` channel), and a ``Revocation`` of the device goes into
the event's control document, so appliances at the venue stop trusting
walk-in badges it signs even before they next reach the hub.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sync.documents import ControlDoc
from sync.names import DocName

if TYPE_CHECKING:
    from hub.state import HubState

log = logging.getLogger(__name__)
CHANNEL = "konferenco_hub"


async def announce_revocation(state: HubState, event_id: str, device_id: str, by: str | None) -> None:
    if state.replica is not None:
        await state.replica.write(
            DocName.control(event_id),
            lambda doc: ControlDoc(doc).revoke("device", device_id, reason="revoked by the organizer", by=by),
        )
    if state.sync is not None:
        await state.sync.disconnect(device_id, "device revoked")
    if state.pool is not None:
        async with state.pool.acquire() as conn:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, f"revoked {device_id}")


async def announce_cancellation(state: HubState, event_id: str, attendee_id: str, by: str | None) -> None:
    """Revoke a cancelled attendee in the control document: synced boxes refuse them at once,
    without waiting for their next catalog delta (which carries the cancellation too)."""
    if state.replica is not None:
        await state.replica.write(
            DocName.control(event_id),
            lambda doc: ControlDoc(doc).revoke("attendee", attendee_id, reason="ticket cancelled", by=by),
        )


async def on_notice(state: HubState, payload: str) -> None:
    """A notice from any worker (this one included: closing twice is harmless)."""
    kind, _, arg = payload.partition(" ")
    if kind == "revoked" and state.sync is not None:
        closed = await state.sync.disconnect(arg, "device revoked")
        if closed:
            log.info("closed %d sync sessions of revoked device %s", closed, arg)
