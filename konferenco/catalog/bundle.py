"""The catalog bundle: how the roster travels from the hub to appliances.

A bundle is one JSON object ``{"catalog": {...}, "signature": {...}}``.
The signature is Ed25519, by a catalog key the appliance trusts (the hub's,
learnt at enrolment), over the *canonical bytes* of ``catalog``: the
msgspec encoding of :class:`Catalog` (fields in declared order, no
whitespace).  The verifier decodes, re-encodes and checks — so whitespace
or key order in the file do not matter, and an appliance may relay a bundle
it received to a peer appliance while the internet is down.

``base_revision`` is None for a snapshot; a delta carries the attendees
changed since ``base_revision`` and the ids ``removed``.  The hub produces
bundles with :func:`sign_catalog`; this module is the format's one owner.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from konferenco.badges import b64, key_id, raw_public_key, unb64
from konferenco.rules import CheckinList, Id, Name

FORMAT = "konferenco-catalog/1"

Text = Annotated[str, msgspec.Meta(max_length=200)]
Email = Annotated[str, msgspec.Meta(max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+\Z")]
NfcUid = Annotated[str, msgspec.Meta(pattern=r"^$|^([0-9A-F]{2}){4,10}\Z")]
Seconds = Annotated[int, msgspec.Meta(ge=0)]


class EventInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: Id
    name: Name
    timezone: str = "UTC"
    starts_at: int = 0  # ms
    ends_at: int = 0


class TicketType(msgspec.Struct, frozen=True):
    id: Id
    name: Name


class Gate(msgspec.Struct, frozen=True, kw_only=True):
    id: Id
    name: Name
    default_list: Id


class PublicKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key that signs this event's badges (base64 raw Ed25519)."""

    kid: str
    public_key: str
    not_before: Seconds = 0
    not_after: Seconds = 0


class Attendee(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One person on the roster.  ``gc=False``: only strings and ints, so no cycles are possible,
    and 180,000 of them are lighter and faster to decode without the GC's bookkeeping."""

    id: Id
    name: Name
    ticket_type_id: Id
    company: Text = ""
    email: Email = ""
    order_ref: Text = ""
    external_ref: Text = ""
    badge_code: Annotated[str, msgspec.Meta(max_length=2048)] = ""
    nfc_uid: NfcUid = ""
    valid_from: Seconds = 0
    valid_until: Seconds = 0
    status: Literal["valid", "cancelled"] = "valid"


class Catalog(msgspec.Struct, frozen=True, kw_only=True):
    format: Literal["konferenco-catalog/1"] = "konferenco-catalog/1"
    event: EventInfo
    revision: Annotated[int, msgspec.Meta(ge=1)]
    base_revision: int | None = None
    issued_at: int = 0
    ticket_types: list[TicketType] = []
    lists: list[CheckinList] = []
    gates: list[Gate] = []
    keys: list[PublicKey] = []
    attendees: list[Attendee] = []
    removed: list[Id] = []


class Signature(msgspec.Struct, frozen=True):
    kid: str
    value: str


class Bundle(msgspec.Struct, frozen=True):
    catalog: Catalog
    signature: Signature


class BundleError(ValueError):
    """A bundle that must not be applied; the message says why."""


_encode = msgspec.json.Encoder().encode


def canonical(catalog: Catalog) -> bytes:
    return _encode(catalog)


def sign_catalog(catalog: Catalog, key: Ed25519PrivateKey) -> bytes:
    """The bundle file's bytes (what the hub serves and ``appliance import`` reads)."""
    signature = Signature(key_id(raw_public_key(key.public_key())), b64(key.sign(canonical(catalog))))
    return _encode(Bundle(catalog, signature))


def decode_bundle(data: bytes) -> Bundle:
    """Decode and validate a bundle's structure; raise :class:`BundleError` naming the problem."""
    try:
        return msgspec.json.decode(data, type=Bundle)
    except msgspec.ValidationError as exc:
        raise BundleError(f"the bundle is not a valid Konferenco catalog: {exc}") from None
    except msgspec.DecodeError as exc:
        raise BundleError(f"the bundle is not JSON: {exc}") from None


def verify_bundle(bundle: Bundle, trusted: list[bytes]) -> str:
    """Check the signature against the trusted catalog keys; return the content hash."""
    body = canonical(bundle.catalog)
    for public in trusted:
        if key_id(public) != bundle.signature.kid:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(unb64(bundle.signature.value), body)
        except (InvalidSignature, ValueError):
            raise BundleError("the bundle's signature does not match: it was altered after signing") from None
        return hashlib.sha256(body).hexdigest()
    raise BundleError(
        f"the bundle is signed by key {bundle.signature.kid}, which this appliance does not trust "
        "(enrol it with the hub that issued the bundle)"
    )


def read_bundle(data: bytes, trusted: list[bytes]) -> tuple[Catalog, str]:
    """Decode, validate and verify a bundle; return it and its content hash."""
    bundle = decode_bundle(data)
    return bundle.catalog, verify_bundle(bundle, trusted)
