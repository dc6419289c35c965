"""Peers prove who they are, both ways, with the keys the hub certified at enrolment.

A bearer token proves the *client* to the server.  Nothing proved the
*server* to the client: a box on the venue LAN that answered at the address
an appliance was given (or advertised ``_konferenco._tcp`` and was chosen)
received that appliance's updates.  This module closes that gap with a
signed challenge at the WebSocket handshake, and lets LAN peers prove
themselves as clients the same way, without a token issued by each other
(docs/decisions.md, "Peers prove who they are").

**Server proof.**  The client sends 32 random bytes in the
``Konferenco-Challenge`` header of the upgrade request.  The server answers
the upgrade with a ``Konferenco-Proof`` header: its certificate and an
Ed25519 signature over the challenge and the document's name.  The client
checks it before it sends or accepts a single update:

* a **device** proves with its badge key and the certificate an event key
  signed (at enrolment, by the hub; or by a standalone box holding the event
  key).  The client knows the event's keys from the signed catalog, so the
  check works offline; a device revoked in the control document is refused;
* the **hub** proves with its catalog key, which the appliance pinned when
  it enrolled (``catalog_keys`` in its configuration).

**Client proof** (``kc1.`` tokens).  The client fetches a one-time challenge
(``GET /sync/challenge``), signs it with the same key and presents
certificate and signature as its bearer token.  The server verifies it like
the server proof, and takes the device's identity and capabilities from the
certificate.  A challenge is used once and expires after a minute, so a
captured token cannot be replayed.

The two signatures carry different context strings (``server`` and
``client``), so a proof one end made can never be reflected back as the
other's.  TLS would give the same guarantees but needs a certificate
authority, certificates the venue's browsers accept, and clock-checked X.509
chains on boxes that are offline for a day; Ed25519 keys and certificates
are what enrolment already hands out.
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from konferenco.badges import KeyRing
from sync.names import DocName, UnknownDocument
from sync.permissions import Capability, PeerIdentity, Role
from sync.records import DeviceKey
from sync.tokens import InvalidToken

#: The upgrade request's header with the client's challenge (base64url).
CHALLENGE_HEADER = "konferenco-challenge"
#: The upgrade response's header with the server's proof (base64url JSON).
PROOF_HEADER = "konferenco-proof"
#: Bearer tokens that are a device's signed answer to a server's challenge.
TOKEN_PREFIX = "kc1."
CHALLENGE_BYTES = 32
CHALLENGE_TTL_S = 60.0

_CONTEXT = b"konferenco-peer-proof-v1\0"

Direction = Literal["server", "client"]


class UntrustedPeer(Exception):
    """The other end could not prove it is a peer of this event; ``str()`` says why (logs, /healthz)."""


class Proof(msgspec.Struct, frozen=True, kw_only=True):
    """What one end shows the other: who it is, and its signature over the other's challenge."""

    role: Literal["hub", "device"]
    signature: str  # base64url, Ed25519 over proof_message(...)
    event_id: str = ""
    device_id: str = ""
    certificate: DeviceKey | None = None  # role "device": the badge key and its certificate
    public_key: str = ""  # role "hub": which of its catalog keys signed (base64url, raw)


class _Token(msgspec.Struct, frozen=True):
    challenge: str
    document: str  # the document the token was made for: it names the event, and is signed
    proof: Proof


def proof_message(direction: Direction, challenge: bytes, document: str) -> bytes:
    """The bytes a proof signs: the context, the side, the challenge and (server side) the document."""
    return b"\0".join([_CONTEXT, direction.encode(), challenge, document.encode()])


def new_challenge() -> bytes:
    return os.urandom(CHALLENGE_BYTES)


def encode_b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode_b64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise UntrustedPeer("malformed base64 in the peer's proof") from None


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


# --- proving ---------------------------------------------------------------------------


class Prover(Protocol):
    """One end's ability to sign a challenge with its certified key."""

    def prove(self, direction: Direction, challenge: bytes, document: str) -> Proof:
        """The proof for ``document``'s event; :class:`UntrustedPeer` when we hold no certificate for it."""
        ...


class CertificateSource(Protocol):
    def __call__(self, event_id: str) -> DeviceKey | None: ...


@dataclass(frozen=True, slots=True)
class DeviceProver:
    """A device proves with its badge key and the event's certificate of it."""

    device_id: str
    key: Ed25519PrivateKey
    certificates: CertificateSource

    def prove(self, direction: Direction, challenge: bytes, document: str) -> Proof:
        event_id = _event_of(document)
        certificate = self.certificates(event_id)
        if certificate is None:
            raise UntrustedPeer(f"device {self.device_id} holds no certificate for event {event_id}")
        return Proof(
            role="device",
            event_id=event_id,
            device_id=self.device_id,
            certificate=certificate,
            signature=encode_b64(self.key.sign(proof_message(direction, challenge, document))),
        )


@dataclass(frozen=True, slots=True)
class HubProver:
    """The hub proves with its catalog key: the key every enrolled appliance pinned."""

    key: Ed25519PrivateKey

    def prove(self, direction: Direction, challenge: bytes, document: str) -> Proof:
        return Proof(
            role="hub",
            public_key=encode_b64(_raw(self.key.public_key())),
            signature=encode_b64(self.key.sign(proof_message(direction, challenge, document))),
        )


def proof_header(prover: Prover, challenge_b64: str, document: str) -> dict[str, str]:
    """The header answering a client's challenge; none if it is malformed or we cannot prove."""
    try:
        challenge = decode_b64(challenge_b64)
        if len(challenge) != CHALLENGE_BYTES:
            return {}
        proof = prover.prove("server", challenge, document)
    except UntrustedPeer:
        return {}
    return {PROOF_HEADER: encode_b64(msgspec.json.encode(proof))}


def client_token(prover: Prover, challenge: bytes, document: str) -> str:
    """A ``kc1.`` bearer token: this device's signed answer to the server's one-time challenge."""
    proof = prover.prove("client", challenge, document)
    return TOKEN_PREFIX + encode_b64(msgspec.json.encode(_Token(encode_b64(challenge), document, proof)))


# --- verifying -------------------------------------------------------------------------


class Trust(Protocol):
    """What one end knows, offline, to judge the other's proof."""

    def event_keys(self, event_id: str) -> KeyRing:
        """The event's own signing keys (from the signed catalog)."""
        ...

    def hub_keys(self) -> Iterable[bytes]:
        """The hub's catalog keys this box pinned at enrolment (raw Ed25519)."""
        ...

    def revoked(self, event_id: str, device_id: str) -> bool:
        """Whether the control document revokes this device."""
        ...


def verify_proof(
    proof: Proof,
    direction: Direction,
    challenge: bytes,
    document: str,
    trust: Trust,
    *,
    event_id: str,
    now_s: float | None = None,
) -> PeerIdentity:
    """The identity ``proof`` establishes for ``event_id``; raise :class:`UntrustedPeer` saying why not."""
    message = proof_message(direction, challenge, document)
    if proof.role == "hub":
        public = decode_b64(proof.public_key)
        if public not in {bytes(k) for k in trust.hub_keys()}:
            raise UntrustedPeer("it claims to be the hub, with a key this box did not pin at enrolment")
        _check_signature(public, proof.signature, message)
        return PeerIdentity(peer_id="hub", role=Role.HUB, events=(event_id,))
    certificate = proof.certificate
    if certificate is None or not proof.device_id:
        raise UntrustedPeer("its proof carries no device certificate")
    if proof.event_id != event_id:
        raise UntrustedPeer(f"its certificate is for event {proof.event_id!r}, not {event_id!r}")
    public = decode_b64(certificate.public_key)
    if not trust.event_keys(event_id).certified(
        event_id,
        proof.device_id,
        public,
        certificate.not_after,
        decode_b64(certificate.signature),
        certificate.capabilities,
    ):
        raise UntrustedPeer(
            f"the certificate of {proof.device_id!r} is not signed by a key of event {event_id}"
        )
    now = time.time() if now_s is None else now_s
    if certificate.not_after and now > certificate.not_after:
        raise UntrustedPeer(f"the certificate of {proof.device_id!r} expired")
    if trust.revoked(event_id, proof.device_id):
        raise UntrustedPeer(f"device {proof.device_id!r} was revoked by the organizer")
    _check_signature(public, proof.signature, message)
    known = {c.value for c in Capability}
    return PeerIdentity(
        peer_id=proof.device_id,
        role=Role.DEVICE,
        events=(event_id,),
        device_id=proof.device_id,
        capabilities=tuple(Capability(c) for c in certificate.capabilities if c in known),
    )


def read_proof_header(value: str | None) -> Proof:
    """The server's proof from the upgrade response; :class:`UntrustedPeer` if absent or malformed."""
    if not value:
        raise UntrustedPeer("it did not prove who it is (no Konferenco-Proof in its answer)")
    try:
        return msgspec.json.decode(decode_b64(value), type=Proof)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise UntrustedPeer("its proof is malformed") from None


def _check_signature(public: bytes, signature_b64: str, message: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(decode_b64(signature_b64), message)
    except (InvalidSignature, ValueError):
        raise UntrustedPeer("its signature over our challenge does not verify") from None


def _event_of(document: str) -> str:
    try:
        return DocName.parse(document).event_id
    except UnknownDocument:
        raise UntrustedPeer(f"no event in document name {document!r}") from None


# --- the server's side of client proofs ------------------------------------------------


class Challenges:
    """One-time challenges this server handed out, each good for one ``kc1.`` token within a minute.

    In memory: a restart forgets them, and a client simply fetches a new one.
    Bounded, oldest first out, so a flood of requests cannot grow it.
    """

    def __init__(self, ttl_s: float = CHALLENGE_TTL_S, limit: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.limit = limit
        self._issued: OrderedDict[bytes, float] = OrderedDict()

    def issue(self) -> bytes:
        now = time.monotonic()
        while self._issued and (len(self._issued) >= self.limit or next(iter(self._issued.values())) < now):
            self._issued.popitem(last=False)
        challenge = new_challenge()
        self._issued[challenge] = now + self.ttl_s
        return challenge

    def take(self, challenge: bytes) -> bool:
        """True once for a challenge this server issued and that has not expired."""
        expires = self._issued.pop(challenge, None)
        return expires is not None and expires >= time.monotonic()


def claimed(token: str) -> tuple[str, str]:
    """(device id, document) a ``kc1.`` token claims, unverified: who to name in a refusal report."""
    try:
        body = msgspec.json.decode(decode_b64(token[len(TOKEN_PREFIX) :]), type=_Token)
    except (msgspec.DecodeError, msgspec.ValidationError, UntrustedPeer):
        return "", ""
    return body.proof.device_id or body.proof.role, body.document


@dataclass
class CertificateAuthenticator:
    """Turns a ``kc1.`` bearer token into the device identity its certificate names.

    Used by an appliance's sync service beside its own peer tokens
    (:class:`sync.tokens.TokenSigner`): a token of another kind goes to
    ``fallback``.
    """

    challenges: Challenges
    trust: Trust

    def verify(self, token: str) -> PeerIdentity:
        """The device's identity; :class:`~sync.tokens.InvalidToken` saying why not."""
        try:
            body = msgspec.json.decode(decode_b64(token[len(TOKEN_PREFIX) :]), type=_Token)
            challenge = decode_b64(body.challenge)
        except (msgspec.DecodeError, msgspec.ValidationError, UntrustedPeer):
            raise InvalidToken("malformed device proof") from None
        if not self.challenges.take(challenge):
            raise InvalidToken("the challenge was not issued here, was used or expired; fetch a new one")
        try:
            event_id = _event_of(body.document)
            return verify_proof(body.proof, "client", challenge, body.document, self.trust, event_id=event_id)
        except UntrustedPeer as exc:
            raise InvalidToken(f"device proof refused: {exc}") from None
