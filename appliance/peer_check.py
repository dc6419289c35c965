"""Which boxes heard on the LAN are genuine peers of this event: each is asked to prove it.

A technician choosing an upstream among the appliances zeroconf found
(``GET /api/v1/peers``) must not have to guess which one is real: anyone can
advertise ``_konferenco._tcp``.  Each candidate gets a fresh challenge at a
WebSocket handshake, exactly as a sync connection would (sync/peer_proof.py);
the answer is read from the upgrade's headers and the socket closed without
a byte of data exchanged.  Results are kept for a short while, so a page
that polls the list does not make every box on the LAN sign on every poll.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import websockets
from websockets.asyncio.client import connect

from sync.names import DocName
from sync.peer_proof import (
    CHALLENGE_HEADER,
    PROOF_HEADER,
    Trust,
    UntrustedPeer,
    encode_b64,
    new_challenge,
    read_proof_header,
    verify_proof,
)

#: How long a verdict is reused (seconds).
KEEP_S = 30.0
PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class PeerCheck:
    url: str
    #: True: proved itself; False: answered and could not; None: did not answer.
    trusted: bool | None
    detail: str


async def probe(url: str, event_id: str, trust: Trust, open_timeout: float = PROBE_TIMEOUT_S) -> PeerCheck:
    """Ask the box at ``url`` (http://host:port) to prove it is a peer of ``event_id``."""
    challenge = new_challenge()
    doc = DocName.control(event_id)
    ws_url = url.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + f"/sync/{doc}"
    try:
        async with connect(
            ws_url, additional_headers={CHALLENGE_HEADER: encode_b64(challenge)}, open_timeout=open_timeout
        ) as ws:
            headers = ws.response.headers if ws.response is not None else {}
            proof = read_proof_header(headers.get(PROOF_HEADER))
            who = verify_proof(proof, "server", challenge, str(doc), trust, event_id=event_id)
    except UntrustedPeer as exc:
        return PeerCheck(url, False, str(exc))
    except (OSError, TimeoutError, websockets.exceptions.WebSocketException) as exc:
        return PeerCheck(url, None, f"did not answer: {type(exc).__name__}: {exc}")
    name = "the hub" if who.device_id is None else f"device {who.device_id}"
    return PeerCheck(url, True, f"proved to be {name} of event {event_id}")


class PeerChecks:
    """Verdicts per (url, event), each reused for :data:`KEEP_S`."""

    def __init__(self, trust: Trust) -> None:
        self.trust = trust
        self._verdicts: dict[tuple[str, str], tuple[float, PeerCheck]] = {}

    async def check(self, url: str, event_id: str) -> PeerCheck:
        key = (url, event_id)
        kept = self._verdicts.get(key)
        if kept is not None and time.monotonic() - kept[0] < KEEP_S:
            return kept[1]
        verdict = await probe(url, event_id, self.trust)
        self._verdicts[key] = (time.monotonic(), verdict)
        return verdict

    async def check_all(self, candidates: list[tuple[str, str]]) -> list[PeerCheck]:
        return list(await asyncio.gather(*(self.check(url, event) for url, event in candidates)))
