"""Enrolment: a one-time token becomes a device, a credential and a capability certificate.

An organizer creates an enrolment for an event (capabilities, expiry) and
shows its token as a QR code or text.  The device presents it once, with the
public half of its walk-in badge key, and receives:

* its **device id** and a **credential** (``kd1_…``, random; only its SHA-256
  is stored), which authenticates it to the hub's sync endpoint and catalog;
* the **capabilities** the organizer granted (scanner, kiosk, printer,
  organizer), which decide what documents it may write;
* the hub's **catalog key** (to verify bundles, also ones relayed by peers);
* a **certificate** of its badge key signed by the event key, so walk-in
  badges it prints are accepted by every other appliance offline.

Redeeming is one ``UPDATE … WHERE used_at IS NULL AND expires_at > now()``:
two devices racing for one token cannot both win.  A credential is checked
against the database on every connection, so revoking a device refuses it
at once; the hub also closes its open sync sessions (``hub.peer``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.events import get_event
from hub.catalog.keys import KeySealer, signer
from hub.db.session import Database
from hub.tenants import audit
from hub.tenants.accounts import OrgRole, Principal
from konferenco.badges import b64, device_certificate_message, unb64
from konferenco.errors import Invalid, NotFound, Unauthorized
from sync.permissions import Capability, PeerIdentity, Role
from sync.records import DeviceKey

ENROLMENT_PREFIX = "ke1_"
CREDENTIAL_PREFIX = "kd1_"
#: How long a new enrolment token may wait for its device.
DEFAULT_TTL = dt.timedelta(hours=24)
#: How often a device's "last seen" is written (not on every connection of every document).
LAST_SEEN_EVERY_S = 30

_INSERT_ENROLMENT = """
INSERT INTO enrolment (org_id, event_id, token_hash, name, capabilities, expires_at, created_by)
VALUES (:o, :e, :h, :n, :c, now() + :ttl, :a) RETURNING id, expires_at
"""
_INSERT_DEVICE = """
INSERT INTO device (id, org_id, event_id, name, capabilities, credential_hash, badge_public_key)
VALUES (:d, :o, :e, :n, :c, :h, :k)
"""
_DEVICE_BY_CREDENTIAL = """
SELECT id, org_id, event_id, capabilities, revoked_at FROM device WHERE credential_hash = :h
"""


def _hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Enrolment(msgspec.Struct, frozen=True):
    id: str
    event_id: str
    token: str
    capabilities: list[str]
    expires_at: str
    uri: str  # what the QR code holds


class EnrolRequest(msgspec.Struct, frozen=True, kw_only=True):
    token: str
    badge_public_key: str  # base64 raw Ed25519: the device's walk-in key
    name: str = ""


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    """What a device receives for its enrolment token (see the module docstring)."""

    device_id: str
    event_id: str
    capabilities: list[str]
    credential: str
    catalog_keys: list[str]
    certificate: DeviceKey


class DeviceRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    event_id: str
    name: str
    capabilities: list[str]
    enrolled_at: str
    last_seen_at: str | None
    revoked_at: str | None


def enrolment_uri(hub_url: str, token: str) -> str:
    return f"konferenco://enrol?hub={hub_url}&token={token}"


def parse_capabilities(values: list[str]) -> list[str]:
    known = {c.value for c in Capability}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise Invalid(f"unknown capabilities {unknown}; choose from {sorted(known)}", field="capabilities")
    if not values:
        raise Invalid("choose at least one capability", field="capabilities")
    return sorted(set(values))


async def create_enrolment(
    conn: AsyncConnection,
    principal: Principal,
    event_id: str,
    capabilities: list[str],
    hub_url: str,
    *,
    name: str = "",
    ttl: dt.timedelta = DEFAULT_TTL,
) -> Enrolment:
    principal.require(OrgRole.ORGANIZER)
    caps = parse_capabilities(capabilities)
    await get_event(conn, event_id)
    token = ENROLMENT_PREFIX + secrets.token_urlsafe(24)
    row = (
        await conn.execute(
            text(_INSERT_ENROLMENT),
            {
                "o": principal.org_id,
                "e": event_id,
                "h": _hash(token),
                "n": name,
                "c": caps,
                "ttl": ttl,
                "a": principal.account_id,
            },
        )
    ).one()
    details = {"name": name, "capabilities": caps}
    await audit.record(conn, principal, "device.enrol", str(row.id), event_id=event_id, details=details)
    return Enrolment(
        str(row.id), event_id, token, caps, row.expires_at.isoformat(), enrolment_uri(hub_url, token)
    )


async def redeem(db: Database, sealer: KeySealer, catalog_public_key: bytes, request: EnrolRequest) -> Grant:
    """Exchange a one-time token for a device (module docstring); refuses reuse and expiry."""
    try:
        public = unb64(request.badge_public_key)
    except ValueError:
        public = b""
    if len(public) != 32:
        raise Invalid("badge_public_key must be a base64 raw Ed25519 public key (32 bytes)")
    device_id = f"dev-{secrets.token_hex(5)}"
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    async with db.system() as conn:  # system: the token, not a session, says which tenant this is
        row = (
            await conn.execute(
                text(
                    "UPDATE enrolment SET used_at = now(), device_id = :d"
                    " WHERE token_hash = :h AND used_at IS NULL AND expires_at > now()"
                    " RETURNING org_id, event_id, capabilities, name"
                ),
                {"h": _hash(request.token), "d": device_id},
            )
        ).first()
        if row is None:
            old = (
                await conn.execute(
                    text("SELECT used_at, expires_at FROM enrolment WHERE token_hash = :h"),
                    {"h": _hash(request.token)},
                )
            ).first()
            if old is None:
                raise Unauthorized("this enrolment token is not known to the hub; check it was typed fully")
            if old.used_at is not None:
                raise Unauthorized("this enrolment token was used already; ask the organizer for a new one")
            raise Unauthorized("this enrolment token has expired; ask the organizer for a new one")
        event = await get_event(conn, row.event_id)
        not_after = event.ends_at // 1000 + 7 * 86400 if event.ends_at else 0
        event_signer = await signer(conn, sealer, row.event_id)
        signature = event_signer.private.sign(
            device_certificate_message(row.event_id, device_id, public, not_after, row.capabilities)
        )
        await conn.execute(
            text(_INSERT_DEVICE),
            {
                "d": device_id,
                "o": row.org_id,
                "e": row.event_id,
                "n": request.name or row.name or device_id,
                "c": list(row.capabilities),
                "h": _hash(credential),
                "k": request.badge_public_key,
            },
        )
    return Grant(
        device_id=device_id,
        event_id=row.event_id,
        capabilities=list(row.capabilities),
        credential=credential,
        catalog_keys=[b64(catalog_public_key)],
        certificate=DeviceKey(
            public_key=request.badge_public_key,
            not_after=not_after,
            signature=b64(signature),
            capabilities=sorted(row.capabilities),
        ),
    )


class DeviceAuth:
    """Checks device credentials against the database; remembers when each device was last seen."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._seen: dict[str, float] = {}

    async def device(self, credential: str | None) -> tuple[PeerIdentity, str]:
        """The device's sync identity and its organization; raises Unauthorized."""
        if not credential or not credential.startswith(CREDENTIAL_PREFIX):
            raise Unauthorized("a device credential is required (Authorization: Bearer kd1_…)")
        async with self.db.system() as conn:  # system: the credential says which tenant it belongs to
            row = (
                await conn.execute(
                    text(_DEVICE_BY_CREDENTIAL),
                    {"h": _hash(credential)},
                )
            ).first()
            if row is None:
                raise Unauthorized("unknown device credential (rolled, or never issued)")
            if row.revoked_at is not None:
                raise Unauthorized(f"device {row.id} was revoked by the organizer")
            now = time.monotonic()
            if now - self._seen.get(row.id, -1e9) > LAST_SEEN_EVERY_S:
                self._seen[row.id] = now
                await conn.execute(
                    text("UPDATE device SET last_seen_at = now() WHERE id = :d"), {"d": row.id}
                )
        identity = PeerIdentity(
            peer_id=row.id,
            role=Role.DEVICE,
            events=(row.event_id,),
            device_id=row.id,
            capabilities=tuple(Capability(c) for c in row.capabilities),
        )
        return identity, str(row.org_id)


async def roll_credential(db: Database, credential: str) -> str:
    """A new credential for the device presenting its current one; the old one stops working."""
    new = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    async with db.system() as conn:  # system: the credential says which tenant it belongs to
        row = (
            await conn.execute(
                text(
                    "UPDATE device SET credential_hash = :new, rolled_at = now()"
                    " WHERE credential_hash = :old AND revoked_at IS NULL RETURNING id"
                ),
                {"new": _hash(new), "old": _hash(credential)},
            )
        ).first()
    if row is None:
        raise Unauthorized("unknown or revoked device credential")
    return new


async def revoke_device(conn: AsyncConnection, principal: Principal, device_id: str) -> str:
    """Mark the device revoked (tenant transaction); returns its event.  The caller tells the peers."""
    principal.require(OrgRole.ORGANIZER)
    row = (
        await conn.execute(
            text(
                "UPDATE device SET revoked_at = coalesce(revoked_at, now()) WHERE id = :d"
                " RETURNING event_id, name"
            ),
            {"d": device_id},
        )
    ).first()
    if row is None:
        raise NotFound(f"no device {device_id!r} in this organization")
    details = {"name": row.name}
    await audit.record(
        conn, principal, "device.revoke", device_id, event_id=str(row.event_id), details=details
    )
    return str(row.event_id)


async def list_devices(conn: AsyncConnection, event_id: str | None = None) -> list[DeviceRow]:
    rows = await conn.execute(
        text(
            "SELECT id, event_id, name, capabilities, enrolled_at, last_seen_at, revoked_at FROM device"
            " WHERE (CAST(:e AS text) IS NULL OR event_id = :e) ORDER BY enrolled_at"
        ),
        {"e": event_id},
    )
    return [
        DeviceRow(
            id=r.id,
            event_id=r.event_id,
            name=r.name,
            capabilities=list(r.capabilities),
            enrolled_at=r.enrolled_at.isoformat(),
            last_seen_at=r.last_seen_at.isoformat() if r.last_seen_at else None,
            revoked_at=r.revoked_at.isoformat() if r.revoked_at else None,
        )
        for r in rows
    ]
