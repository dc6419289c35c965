"""Badge codes: what a QR badge says, signed so any appliance can check it offline.

A badge code is ``KB1:`` followed by the base-45 text (RFC 9285) of::

    0x01 | key id (4 bytes) | payload (msgpack array) | Ed25519 signature (64 bytes)

The payload is ``[event, attendee, ticket type, serial, valid from, valid
until]`` (times in seconds since the epoch, 0 for "open").  The signature
covers the version, the key id and the payload.  A typical code is about 190
characters: base 45 is what QR alphanumeric mode stores at 5.5 bits a
character, so the QR stays at version 7-8 (a small square) where base 64 in
byte mode would need version 9-10.

Verification needs no database: only the key ring (the event's public keys
from the signed catalog, plus device keys the event key certified for
walk-in badges).  Several keys may be valid at once, so keys rotate without
reprinting badges.  The ``serial`` lets the hub re-issue one attendee's
badge and revoke the old one by ``attendee:serial`` (pretix's
``revoked_secrets``, research/checkin-anchors.md b1).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "KB1:"
VERSION = 1
KID_BYTES = 4
SIGNATURE_BYTES = 64
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_INDEX = {c: i for i, c in enumerate(_B45)}
_DEVICE_CERT_CONTEXT = b"konferenco-device-key-v1\0"
_DEVICE_CERT_CONTEXT_V2 = b"konferenco-device-key-v2\0"


class BadgeError(ValueError):
    """A code that is not a valid badge of this event; ``reason`` is for the volunteer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- base 45 (RFC 9285) ---------------------------------------------------------------


def b45encode(data: bytes) -> str:
    """Encode base 45; a 180,000-badge import calls it for every badge, so two bytes are one lookup.

    The three digits of every 16-bit group are precomputed (:func:`_b45_groups`, on first use),
    and the bytes are read as big-endian 16-bit groups by ``array``: the same digits as RFC 9285's
    arithmetic (tests/appliance/test_badges.py holds its vectors), at a fifth of the cost.
    """
    whole = len(data) & ~1
    groups = array("H", data[:whole])
    if sys.byteorder == "little":
        groups.byteswap()
    text = "".join(map(_b45_groups().__getitem__, groups))
    if whole < len(data):
        d, c = divmod(data[-1], 45)
        text += _B45[c] + _B45[d]
    return text


@functools.cache
def _b45_groups() -> list[str]:
    """The digits of 0 … 65535, least significant first (~4 MB, ~10 ms to build)."""
    return [c + d + e for e in _B45[:33] for d in _B45 for c in _B45][:65536]


_B45_TABLE = bytes(_B45_INDEX.get(chr(c), 255) for c in range(256))


def b45decode(text: str) -> bytes:
    """Decode base 45; on the scan path, so digits are mapped by ``bytes.translate``, not per character."""
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("base-45 text holds a non-ASCII character") from None
    values = raw.translate(_B45_TABLE)
    if 255 in values:
        raise ValueError(f"character {chr(raw[values.index(255)])!r} is not base 45")
    if len(values) % 3 == 1:
        raise ValueError("base-45 text has a dangling character")
    out = bytearray()
    full = len(values) - len(values) % 3
    for i in range(0, full, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise ValueError("base-45 group out of range")
        out += n.to_bytes(2, "big")
    if full < len(values):
        n = values[full] + values[full + 1] * 45
        if n > 0xFF:
            raise ValueError("base-45 group out of range")
        out.append(n)
    return bytes(out)


# --- keys ----------------------------------------------------------------------------


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public: bytes) -> str:
    """The 4-byte id of a raw Ed25519 public key, as 8 hex digits."""
    return hashlib.sha256(public).digest()[:KID_BYTES].hex()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True, slots=True)
class TrustedKey:
    """A public key allowed to sign this event's badges."""

    kid: str
    public: bytes
    event_id: str
    not_before: int = 0  # seconds; 0 = always
    not_after: int = 0
    signer: str = "event"  # "event" or "device:<id>" (walk-in badges)
    _key: Ed25519PublicKey | None = field(default=None, compare=False, repr=False)

    def key(self) -> Ed25519PublicKey:
        if self._key is None:
            object.__setattr__(self, "_key", Ed25519PublicKey.from_public_bytes(self.public))
        assert self._key is not None
        return self._key


def device_certificate_message(
    event_id: str, device_id: str, public: bytes, not_after: int, capabilities: Iterable[str] = ()
) -> bytes:
    """What an event key signs to certify a device's key (DESIGN.md §3).

    The key signs walk-in badges and proves the device to its sync peers
    (sync/peer_proof.py).  Since 0.3 the certificate also names the
    device's capabilities, so a peer learns what the device may write from
    the certificate itself, offline; a certificate without capabilities
    (issued before) keeps its old message and still verifies.
    """
    fields = [_DEVICE_CERT_CONTEXT, event_id.encode(), device_id.encode(), public, str(not_after).encode()]
    caps = sorted(set(capabilities))
    if caps:
        fields[0] = _DEVICE_CERT_CONTEXT_V2
        fields.append(",".join(caps).encode())
    return b"\0".join(fields)


class KeyRing:
    """The keys an appliance trusts, by key id; rebuilt when the catalog changes."""

    def __init__(self, keys: list[TrustedKey] | None = None) -> None:
        self._by_kid: dict[str, list[TrustedKey]] = {}
        for key in keys or []:
            self.add(key)

    def add(self, key: TrustedKey) -> None:
        self._by_kid.setdefault(key.kid, []).append(key)

    def add_device_key(
        self,
        event_id: str,
        device_id: str,
        public: bytes,
        not_after: int,
        signature: bytes,
        capabilities: Iterable[str] = (),
    ) -> bool:
        """Trust a device key if one of the event's keys certified it; False if none did."""
        if not self.certified(event_id, device_id, public, not_after, signature, capabilities):
            return False
        self.add(TrustedKey(key_id(public), public, event_id, 0, not_after, f"device:{device_id}"))
        return True

    def certified(
        self,
        event_id: str,
        device_id: str,
        public: bytes,
        not_after: int,
        signature: bytes,
        capabilities: Iterable[str] = (),
    ) -> bool:
        """Whether one of the event's own keys signed this device certificate (device keys cannot)."""
        message = device_certificate_message(event_id, device_id, public, not_after, capabilities)
        for keys in self._by_kid.values():
            for issuer in keys:
                if issuer.signer != "event" or issuer.event_id != event_id:
                    continue
                try:
                    issuer.key().verify(signature, message)
                except InvalidSignature:
                    continue
                return True
        return False

    def candidates(self, kid: str) -> list[TrustedKey]:
        return self._by_kid.get(kid, [])

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_kid.values())


# --- codes ---------------------------------------------------------------------------


class BadgePayload(msgspec.Struct, array_like=True, frozen=True):
    event: str
    attendee: str
    ticket_type: str
    serial: int = 0
    valid_from: int = 0  # seconds since the epoch; 0 = open
    valid_until: int = 0


_encode_payload = msgspec.msgpack.Encoder().encode
_decode_payload = msgspec.msgpack.Decoder(BadgePayload).decode


@dataclass(frozen=True, slots=True)
class Badge:
    """A verified badge code."""

    payload: BadgePayload
    signer: str
    kid: str

    @property
    def badge_id(self) -> str:
        """What a revocation names to invalidate this very badge (not the attendee)."""
        return f"{self.payload.attendee}:{self.payload.serial}"


class BadgeSigner:
    """Signs badge codes with one private key (the event's, or a certified device's)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.public = raw_public_key(private.public_key())
        self.kid = key_id(self.public)
        self._kid_bytes = bytes.fromhex(self.kid)

    def sign(self, payload: BadgePayload) -> str:
        body = bytes([VERSION]) + self._kid_bytes + _encode_payload(payload)
        return PREFIX + b45encode(body + self.private.sign(body))


def parse_code(text: str) -> tuple[str, bytes, BadgePayload, bytes]:
    """Split a code into (key id, signed bytes, payload, signature) or raise BadgeError."""
    # Upper-cased: base 45 has no lower-case digits, and a keyboard-wedge scanner with
    # caps lock on sends the code in lower case.
    text = text.strip().upper()
    if not text.startswith(PREFIX):
        raise BadgeError("This is not a Konferenco badge code.")
    try:
        raw = b45decode(text[len(PREFIX) :])
    except ValueError:
        raise BadgeError("The badge code is damaged (it does not decode); scan it again.") from None
    if len(raw) < 1 + KID_BYTES + SIGNATURE_BYTES + 2 or raw[0] != VERSION:
        raise BadgeError("The badge code is damaged or from an unsupported version.")
    signed, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    try:
        payload = _decode_payload(signed[1 + KID_BYTES :])
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):  # ValueError: bad UTF-8 inside
        raise BadgeError("The badge code is damaged (its content is unreadable).") from None
    return signed[1 : 1 + KID_BYTES].hex(), signed, payload, signature


def verify(text: str, ring: KeyRing, event_id: str, now_s: int | None = None) -> Badge:
    """Check a badge code's signature and event; raise :class:`BadgeError` with a reason.

    With ``now_s``, a key is trusted only inside its own window (``not_before``
    to ``not_after``): a retired event key, or a walk-in device key whose
    certificate ran out, no longer admits anyone.  The *badge's* validity
    window is not checked here: the decision does that, because "not yet
    valid" and "expired" are results of their own.
    """
    kid, signed, payload, signature = parse_code(text)
    keys = ring.candidates(kid)
    if not keys:
        raise BadgeError(
            "This badge was signed with a key this appliance does not know: "
            "it belongs to another event, or the catalog here is out of date."
        )
    for key in keys:
        try:
            key.key().verify(signature, signed)
        except InvalidSignature:
            continue
        if payload.event != event_id or key.event_id != event_id:
            raise BadgeError(f"This badge is for another event ({payload.event}), not this one.")
        if now_s is not None and (
            (key.not_before and now_s < key.not_before) or (key.not_after and now_s > key.not_after)
        ):
            raise BadgeError(
                "This badge was signed with a key that is not valid now; send the person to the desk."
            )
        return Badge(payload, key.signer, kid)
    raise BadgeError("The badge's signature does not match: it has been altered or forged.")
