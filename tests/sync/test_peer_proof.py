"""Peer proofs (sync/peer_proof.py): who may pass as a device of the event, or as the hub, and who may not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from konferenco.badges import KeyRing, TrustedKey, b64, device_certificate_message, key_id, raw_public_key
from sync.peer_proof import (
    CertificateAuthenticator,
    Challenges,
    DeviceProver,
    HubProver,
    UntrustedPeer,
    client_token,
    encode_b64,
    new_challenge,
    proof_header,
    read_proof_header,
    verify_proof,
)
from sync.permissions import Capability, PeerIdentity, Role
from sync.records import DeviceKey
from sync.tokens import InvalidToken

EVENT = "expo"
DOC = f"event/{EVENT}/device/box-a"
EVENT_KEY = Ed25519PrivateKey.generate()
HUB_KEY = Ed25519PrivateKey.generate()


def certificate(
    device_id: str, key: Ed25519PrivateKey, *, issuer: Ed25519PrivateKey = EVENT_KEY, not_after: int = 0,
    capabilities: tuple[str, ...] = ("scanner",), event: str = EVENT,
) -> DeviceKey:  # fmt: skip
    public = raw_public_key(key.public_key())
    signature = issuer.sign(device_certificate_message(event, device_id, public, not_after, capabilities))
    return DeviceKey(
        public_key=b64(public), not_after=not_after, signature=b64(signature), capabilities=list(capabilities)
    )


@dataclass
class VenueTrust:
    """What a box of the event knows: the event key from its catalog, the pinned hub key, revocations."""

    revoked_devices: set[str] = field(default_factory=set)
    hub: list[bytes] = field(default_factory=lambda: [raw_public_key(HUB_KEY.public_key())])

    def event_keys(self, event_id: str) -> KeyRing:
        public = raw_public_key(EVENT_KEY.public_key())
        return KeyRing([TrustedKey(key_id(public), public, EVENT)]) if event_id == EVENT else KeyRing()

    def hub_keys(self) -> Iterable[bytes]:
        return self.hub

    def revoked(self, event_id: str, device_id: str) -> bool:
        return device_id in self.revoked_devices


def device(device_id: str = "box-a", **kwargs: object) -> DeviceProver:
    key = Ed25519PrivateKey.generate()
    cert = certificate(device_id, key, **kwargs)  # type: ignore[arg-type]
    return DeviceProver(device_id, key, lambda event: cert if event == EVENT else None)


def server_proof(prover: DeviceProver | HubProver, challenge: bytes, doc: str = DOC) -> str:
    return proof_header(prover, encode_b64(challenge), doc)["konferenco-proof"]


def check(header: str, challenge: bytes, trust: VenueTrust | None = None, doc: str = DOC) -> PeerIdentity:
    return verify_proof(
        read_proof_header(header), "server", challenge, doc, trust or VenueTrust(), event_id=EVENT
    )


def test_a_certified_device_proves_itself_with_its_capabilities() -> None:
    challenge = new_challenge()
    who = check(server_proof(device(capabilities=("organizer", "scanner")), challenge), challenge)
    assert who.role == Role.DEVICE and who.device_id == "box-a"
    assert set(who.capabilities) == {Capability.ORGANIZER, Capability.SCANNER}


def test_a_rogue_box_with_its_own_event_key_is_refused() -> None:
    """The attack of the issue: a box on the LAN made its own 'expo' event key and certified itself."""
    challenge = new_challenge()
    rogue = device(issuer=Ed25519PrivateKey.generate())
    with pytest.raises(UntrustedPeer, match="not signed by a key of event expo"):
        check(server_proof(rogue, challenge), challenge)


def test_a_proof_is_bound_to_our_challenge_and_document() -> None:
    honest = device()
    recorded = new_challenge()
    header = server_proof(honest, recorded)
    with pytest.raises(UntrustedPeer, match="signature"):
        check(header, new_challenge())  # a replayed answer to someone else's challenge
    with pytest.raises(UntrustedPeer, match="signature"):
        check(header, recorded, doc=f"event/{EVENT}/control")  # an answer for another document


def test_a_certificate_cannot_be_widened() -> None:
    """Capabilities are signed: a scanner cannot claim to be an organizer."""
    key = Ed25519PrivateKey.generate()
    cert = certificate("box-a", key, capabilities=("scanner",))
    forged = DeviceKey(
        public_key=cert.public_key,
        not_after=0,
        signature=cert.signature,
        capabilities=["organizer", "scanner"],
    )
    challenge = new_challenge()
    header = server_proof(DeviceProver("box-a", key, lambda _e: forged), challenge)
    with pytest.raises(UntrustedPeer, match="not signed"):
        check(header, challenge)


def test_revoked_and_expired_devices_are_refused() -> None:
    challenge = new_challenge()
    with pytest.raises(UntrustedPeer, match="revoked"):
        check(server_proof(device(), challenge), challenge, VenueTrust(revoked_devices={"box-a"}))
    with pytest.raises(UntrustedPeer, match="expired"):
        check(server_proof(device(not_after=1_000_000), challenge), challenge)


def test_the_hub_proves_with_the_key_pinned_at_enrolment_only() -> None:
    challenge = new_challenge()
    assert check(server_proof(HubProver(HUB_KEY), challenge), challenge).role == Role.HUB
    with pytest.raises(UntrustedPeer, match="did not pin"):
        check(server_proof(HubProver(Ed25519PrivateKey.generate()), challenge), challenge)


def test_a_server_without_a_certificate_cannot_prove_and_says_nothing() -> None:
    prover = DeviceProver("box-a", Ed25519PrivateKey.generate(), lambda _e: None)
    assert proof_header(prover, encode_b64(new_challenge()), DOC) == {}
    assert proof_header(device(), "AAAA", DOC) == {}  # a challenge that is not 32 bytes gets no signature
    with pytest.raises(UntrustedPeer, match="did not prove"):
        read_proof_header(None)
    with pytest.raises(UntrustedPeer, match="malformed"):
        read_proof_header("bm90IGpzb24")


def test_a_client_certificate_token_works_once() -> None:
    challenges = Challenges()
    auth = CertificateAuthenticator(challenges, VenueTrust())
    challenge = challenges.issue()
    token = client_token(device("box-b"), challenge, f"event/{EVENT}/device/box-b")
    assert auth.verify(token).device_id == "box-b"
    with pytest.raises(InvalidToken, match="was used or expired"):
        auth.verify(token)  # captured and replayed


def test_a_client_token_needs_a_challenge_this_server_issued_in_time() -> None:
    challenges = Challenges(ttl_s=-1)  # already expired when issued
    auth = CertificateAuthenticator(challenges, VenueTrust())
    with pytest.raises(InvalidToken, match="was used or expired"):
        auth.verify(client_token(device("box-b"), challenges.issue(), DOC))
    with pytest.raises(InvalidToken, match="was used or expired"):
        auth.verify(client_token(device("box-b"), new_challenge(), DOC))  # never issued here


def test_a_server_proof_cannot_be_reflected_as_a_client_token() -> None:
    """The two sides sign different contexts: what a server signed never authenticates a client."""
    challenges = Challenges()
    auth = CertificateAuthenticator(challenges, VenueTrust())
    challenge = challenges.issue()
    honest = device("box-a")
    server_signed = read_proof_header(server_proof(honest, challenge))

    from sync.peer_proof import TOKEN_PREFIX, _Token

    token = TOKEN_PREFIX + encode_b64(msgspec.json.encode(_Token(encode_b64(challenge), DOC, server_signed)))
    with pytest.raises(InvalidToken, match="signature"):
        auth.verify(token)


def test_challenges_stay_bounded() -> None:
    challenges = Challenges(limit=100)
    first = challenges.issue()
    for _ in range(500):
        challenges.issue()
    assert not challenges.take(first)
    assert len(challenges._issued) <= 100
