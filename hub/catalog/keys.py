"""Per-event Ed25519 badge keys: creation, rotation, and signing with the current one.

The private half is sealed with AES-GCM under a key derived from the hub's
master secret, with the event and key id as associated data, so a row
copied to another event (or a database dump alone) signs nothing.  Rotation
adds a key and retires the old one *for signing only*: badges it signed stay
valid until ``not_after``, because they are already printed and in pockets.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from konferenco.badges import BadgeSigner, b64, key_id, raw_public_key
from konferenco.catalog.bundle import PublicKey


class KeySealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, private: Ed25519PrivateKey, context: str) -> bytes:
        nonce = os.urandom(12)
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return nonce + self._aead.encrypt(nonce, raw, context.encode())

    def unseal(self, sealed: bytes, context: str) -> Ed25519PrivateKey:
        raw = self._aead.decrypt(sealed[:12], sealed[12:], context.encode())
        return Ed25519PrivateKey.from_private_bytes(raw)


@dataclass(frozen=True, slots=True)
class EventKey:
    kid: str
    public_key: bytes
    not_before: int
    not_after: int
    retired: bool


async def create_key(conn: AsyncConnection, sealer: KeySealer, org_id: str, event_id: str) -> str:
    """Add a signing key to the event, retire the previous one for signing; return the new key id."""
    private = Ed25519PrivateKey.generate()
    public = raw_public_key(private.public_key())
    kid = key_id(public)
    await conn.execute(
        text("UPDATE event_key SET retired_at = now() WHERE event_id = :e AND retired_at IS NULL"),
        {"e": event_id},
    )
    await conn.execute(
        text(
            "INSERT INTO event_key (event_id, kid, org_id, public_key, sealed_private_key, not_before)"
            " VALUES (:e, :kid, :org, :pub, :sealed, :nb)"
        ),
        {
            "e": event_id,
            "kid": kid,
            "org": org_id,
            "pub": public,
            "sealed": sealer.seal(private, f"{event_id}/{kid}"),
            "nb": int(time.time()) - 300,  # a little slack for appliance clocks that run behind
        },
    )
    await conn.execute(
        text("UPDATE event SET catalog_revision = catalog_revision + 1 WHERE id = :e"), {"e": event_id}
    )
    return kid


async def signer(conn: AsyncConnection, sealer: KeySealer, event_id: str) -> BadgeSigner:
    """The event's current signing key (the newest that is not retired)."""
    row = (
        await conn.execute(
            text(
                "SELECT kid, sealed_private_key FROM event_key WHERE event_id = :e AND retired_at IS NULL"
                " ORDER BY created_at DESC LIMIT 1"
            ),
            {"e": event_id},
        )
    ).first()
    if row is None:
        raise LookupError(f"event {event_id} has no signing key")
    return BadgeSigner(sealer.unseal(bytes(row.sealed_private_key), f"{event_id}/{row.kid}"))


async def public_keys(conn: AsyncConnection, event_id: str) -> list[PublicKey]:
    """Every key whose badges appliances must still accept (retired ones included)."""
    rows = await conn.execute(
        text(
            "SELECT kid, public_key, not_before, not_after FROM event_key WHERE event_id = :e"
            " ORDER BY created_at"
        ),
        {"e": event_id},
    )
    return [
        PublicKey(
            kid=r.kid, public_key=b64(bytes(r.public_key)), not_before=r.not_before, not_after=r.not_after
        )
        for r in rows
    ]
