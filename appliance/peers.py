"""Who this box trusts as a sync peer, and how it proves itself to them (sync/peer_proof.py).

* :class:`BoxTrust` answers, offline, from what the box already holds: the
  event keys of the signed catalog (``catalog_key``), the hub keys pinned at
  enrolment (``catalog_keys`` in appliance.json), and device revocations
  projected from the control document (``checkin_revocation``).
* :class:`PeerAuthenticator` is the sync service's authentication hook: a
  ``kc1.`` token is a device's certificate proof, anything else one of this
  box's own peer tokens.  Refused proofs are remembered for ``/healthz``,
  so a rogue box on the LAN is visible to the technician, not only in logs.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from appliance.catalog.roster import capability_names, event_keys
from appliance.config import ApplianceConfig, DataDir
from konferenco.badges import KeyRing, unb64
from konferenco.types import now_ms
from sync.client import SyncClient
from sync.peer_proof import TOKEN_PREFIX, CertificateAuthenticator, Challenges, DeviceProver, claimed
from sync.permissions import Capability, PeerIdentity
from sync.records import PeerRefused
from sync.replica import Replica
from sync.tokens import InvalidToken, TokenSigner

#: How many refused peers /healthz lists (the newest).
REMEMBERED = 20


class BoxTrust:
    """What this box knows to judge a peer's proof, read from its own SQLite (a few point lookups).

    ``connection`` gives the event loop's read connection, where every
    check runs (sync handshakes, peer checks); it exists once the box started.
    """

    def __init__(self, connection: Callable[[], sqlite3.Connection], config: ApplianceConfig) -> None:
        self._db = connection
        self._config = config

    def event_keys(self, event_id: str) -> KeyRing:
        return event_keys(self._db(), event_id)

    def hub_keys(self) -> Iterable[bytes]:
        return [unb64(k) for k in self._config.catalog_keys]

    def revoked(self, event_id: str, device_id: str) -> bool:
        try:
            row = (
                self._db()
                .execute(
                    "SELECT 1 FROM checkin_revocation WHERE event_id = ? AND target = 'device' AND value = ?",
                    (event_id, device_id),
                )
                .fetchone()
            )
        except sqlite3.OperationalError:
            return False
        return row is not None


class CertifiedCapabilities:
    """What each device may write, as its certificate says: the appliance projection's check per record.

    A device publishes its certificate in its own log (``DeviceKey``); the
    projection keeps it in ``device_key``.  A certificate counts only if a key
    of the event signed it, checked here once per certificate and kept
    (certificates do not change; a new one is a new row, checked when first
    seen).  ``None``: no certificate of this device here (yet) — the server
    that accepted its log checked its credentials, and the projection lets it
    pass.

    Called from the projection, on the SQLite writer's thread, and from
    tests on theirs: each thread reads through a connection of its own.
    """

    def __init__(self, data: DataDir) -> None:
        self._data = data
        self._local = threading.local()
        self._known: dict[bytes, frozenset[Capability]] = {}

    def _db(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._data.reader()
        return conn

    def __call__(self, device_id: str) -> frozenset[Capability] | None:
        db = self._db()
        try:
            rows = db.execute(
                "SELECT event_id, public_key, not_after, signature, capabilities FROM device_key"
                " WHERE device_id = ?",
                (device_id,),
            ).fetchall()
        except sqlite3.OperationalError:  # no schema yet
            return None
        granted: set[Capability] = set()
        found = False
        for event_id, public, not_after, signature, capabilities in rows:
            caps = capability_names(capabilities)
            if not caps:  # a certificate from before 0.3 names no capabilities: it tells nothing here
                continue
            key = bytes(signature)
            if key not in self._known:
                if not event_keys(db, event_id).certified(
                    event_id, device_id, bytes(public), not_after or 0, key, caps
                ):
                    continue
                self._known[key] = frozenset(Capability(c) for c in caps if c in _KNOWN)
            found = True
            granted |= self._known[key]
        return frozenset(granted) if found else None


_KNOWN = frozenset(c.value for c in Capability)


@dataclass(frozen=True, slots=True)
class RefusedPeer:
    """A peer that tried to sync with this box and could not prove who it is."""

    reason: str
    at: int
    peer: str = ""  # the device it claimed to be (unverified)
    event_id: str = ""  # the event of the document it asked for


class PeerAuthenticator:
    """The sync service's hook: device certificates (``kc1.``) or this box's own peer tokens."""

    def __init__(self, signer: TokenSigner, trust: BoxTrust) -> None:
        self.challenges = Challenges()
        self._certificates = CertificateAuthenticator(self.challenges, trust)
        self._signer = signer
        self.refused: deque[RefusedPeer] = deque(maxlen=REMEMBERED)

    def __call__(self, token: str | None) -> PeerIdentity:
        if token and token.startswith(TOKEN_PREFIX):
            try:
                return self._certificates.verify(token)
            except InvalidToken as exc:
                peer, document = claimed(token)
                event = document.split("/")[1] if document.count("/") >= 2 else ""
                self.refused.append(RefusedPeer(str(exc), now_ms(), peer, event))
                raise
        return self._signer.verify(token)

    def report(self) -> list[dict[str, Any]]:
        return [asdict(r) for r in self.refused]


def box_prover(data: DataDir, config: ApplianceConfig) -> DeviceProver:
    """This box's proof: its badge key and the certificate each event gave it (enrolment or standalone)."""
    return DeviceProver(config.device_id, data.device_key(), data.device_certificate)


async def publish_certificates(
    data: DataDir, config: ApplianceConfig, replica: Replica, conn: sqlite3.Connection
) -> int:
    """Put this box's certificate of each event in its own log, once; how many were added.

    Peers learn from it which keys sign this box's walk-in badges and which
    record kinds it may write (:class:`CertifiedCapabilities`), before they
    see its first record.  Idempotent: a certificate already in the log
    (same signature) is not logged again.
    """
    added = 0
    for event in config.events:
        certificate = data.device_certificate(event)
        if certificate is None:
            continue
        logged = conn.execute(
            "SELECT 1 FROM device_key WHERE event_id = ? AND device_id = ? AND signature = ?",
            (event, config.device_id, unb64(certificate.signature)),
        ).fetchone()
        if logged is None:
            await replica.log(event, config.device_id, certificate)
            added += 1
    return added


class RefusalReporter:
    """Writes each refused peer to this box's own log, so the organizer sees it in the hub's console.

    Runs every few seconds (:data:`REPORT_EVERY_S`).  The same peer refused
    for the same reason is reported again at most every
    :data:`REPORT_AGAIN_MS`, and at most :data:`REPORT_BUDGET` reports go
    into the log in any such window: a rogue box that retries all day, or
    claims a new name at every attempt, fills neither the log nor the console.
    """

    def __init__(self, config: ApplianceConfig, replica: Replica, auth: PeerAuthenticator) -> None:
        self._config = config
        self._replica = replica
        self._auth = auth
        self._upstreams: list[SyncClient] = []
        #: What was reported in the current window, and when: its size is the window's count.
        self._last: dict[tuple[str, Direction, str, str], int] = {}

    def watch(self, client: SyncClient) -> None:
        self._upstreams.append(client)

    def _pending(self) -> list[tuple[str, PeerRefused]]:
        found: list[tuple[str, Direction, str, str]] = [
            (r.event_id, "incoming", r.peer or "unknown device", r.reason) for r in self._auth.refused
        ]
        found += [
            (u.untrusted.event_id, "upstream", u.untrusted.url, u.untrusted.reason)
            for u in self._upstreams
            if u.untrusted is not None
        ]
        now = now_ms()
        self._last = {key: at for key, at in self._last.items() if now - at < REPORT_AGAIN_MS}
        due = []
        for key in dict.fromkeys(found):
            event, direction, peer, reason = key
            if event not in self._config.events or key in self._last:
                continue
            if len(self._last) >= REPORT_BUDGET:
                break
            self._last[key] = now
            due.append((event, PeerRefused(peer=peer[:120], direction=direction, reason=reason[:500])))
        return due

    async def report(self) -> int:
        """Log what is due; how many records were written."""
        due = self._pending()
        for event, record in due:
            await self._replica.log(event, self._config.device_id, record)
        return len(due)


Direction = Literal["upstream", "incoming"]
REPORT_EVERY_S = 5.0
REPORT_AGAIN_MS = 10 * 60 * 1000
REPORT_BUDGET = 10
