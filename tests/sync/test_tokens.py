"""Signed peer tokens (:mod:`sync.tokens`): ``kp1.<payload>.<mac>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat
import time
from pathlib import Path

import pytest

from sync.permissions import Capability, PeerIdentity, Role
from sync.tokens import InvalidToken, TokenSigner

SECRET = b"s" * 32
OTHER_SECRET = b"o" * 32

DEVICE = PeerIdentity(
    peer_id="appliance-7",
    role=Role.DEVICE,
    events=("ev-1", "ev-2"),
    device_id="dev-7",
    capabilities=(Capability.SCANNER, Capability.ORGANIZER),
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: str) -> str:
    """A token built by hand from the documented format (HMAC-SHA256 over "kp1.<payload>")."""
    mac = hmac.new(secret, f"kp1.{payload}".encode(), hashlib.sha256).digest()
    return f"kp1.{payload}.{b64(mac)}"


def invalid(signer: TokenSigner, token: str | None) -> str:
    with pytest.raises(InvalidToken) as info:
        signer.verify(token)
    message = str(info.value)
    assert message and message[0].isalpha(), message
    return message


# --- round trip ----------------------------------------------------------------------


def test_issue_verify_round_trip() -> None:
    signer = TokenSigner(SECRET)
    token = signer.issue(DEVICE)
    assert token.startswith("kp1.")
    assert token.count(".") == 2
    assert signer.verify(token) == DEVICE


@pytest.mark.parametrize(
    "identity",
    [
        PeerIdentity(peer_id="hub", role=Role.HUB, events=("*",)),
        PeerIdentity(peer_id="signage", role=Role.VIEWER, events=("ev-1",)),
        DEVICE,
    ],
    ids=lambda p: str(p.role),
)
def test_every_role_round_trips(identity: PeerIdentity) -> None:
    signer = TokenSigner(SECRET)
    got = signer.verify(signer.issue(identity))
    assert got == identity
    assert got.role is identity.role


def test_token_is_url_safe() -> None:
    token = TokenSigner(SECRET).issue(DEVICE)
    assert "=" not in token and "+" not in token and "/" not in token


def test_payload_is_json_with_identity_and_expiry() -> None:
    before = int(time.time())
    token = TokenSigner(SECRET).issue(DEVICE, ttl_seconds=3600)
    after = int(time.time())
    claims = json.loads(unb64(token.split(".")[1]))
    assert claims["identity"]["peer_id"] == "appliance-7"
    assert claims["identity"]["device_id"] == "dev-7"
    assert before + 3600 <= claims["exp"] <= after + 3600


def test_mac_is_hmac_sha256_of_prefix_and_payload() -> None:
    token = TokenSigner(SECRET).issue(DEVICE)
    payload = token.split(".")[1]
    assert token == sign(SECRET, payload)


def test_token_signed_by_hand_verifies() -> None:
    claims = {
        "identity": {"peer_id": "p", "role": "viewer", "events": ["e"]},
        "exp": int(time.time()) + 60,
    }
    token = sign(SECRET, b64(json.dumps(claims).encode()))
    assert TokenSigner(SECRET).verify(token) == PeerIdentity(peer_id="p", role=Role.VIEWER, events=("e",))


# --- rejections ----------------------------------------------------------------------


def test_tampered_payload_rejected() -> None:
    signer = TokenSigner(SECRET)
    prefix, payload, mac = signer.issue(DEVICE).split(".")
    claims = json.loads(unb64(payload))
    claims["identity"]["role"] = "hub"  # privilege escalation attempt
    forged = f"{prefix}.{b64(json.dumps(claims).encode())}.{mac}"
    assert "signature" in invalid(signer, forged)


def test_tampered_signature_rejected() -> None:
    signer = TokenSigner(SECRET)
    prefix, payload, mac = signer.issue(DEVICE).split(".")
    raw = bytearray(unb64(mac))
    raw[0] ^= 1
    assert "signature" in invalid(signer, f"{prefix}.{payload}.{b64(bytes(raw))}")
    assert "signature" in invalid(signer, f"{prefix}.{payload}.")
    assert "signature" in invalid(signer, f"{prefix}.{payload}.{mac[:-1]}")


def test_token_from_another_secret_rejected() -> None:
    token = TokenSigner(OTHER_SECRET).issue(DEVICE)
    assert "signature" in invalid(TokenSigner(SECRET), token)


def test_expired_token_rejected() -> None:
    signer = TokenSigner(SECRET)
    assert "expired" in invalid(signer, signer.issue(DEVICE, ttl_seconds=-1))
    assert "expired" in invalid(signer, signer.issue(DEVICE, ttl_seconds=-3600))


def test_token_still_valid_before_expiry() -> None:
    signer = TokenSigner(SECRET)
    assert signer.verify(signer.issue(DEVICE, ttl_seconds=60)) == DEVICE


@pytest.mark.parametrize("token", [None, ""])
def test_missing_token_rejected_with_instructions(token: str | None) -> None:
    message = invalid(TokenSigner(SECRET), token)
    assert "no token" in message
    assert "Bearer" in message and "token=" in message


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "kp1",
        "kp1.onlyonepart",
        "kp1.a.b.c",
        "kp2.a.b",
        "KP1.a.b",
        "Bearer kp1.a.b",
        ".....",
    ],
)
def test_malformed_tokens_rejected(token: str) -> None:
    assert invalid(TokenSigner(SECRET), token) == "malformed token"


def test_wrong_version_prefix_with_valid_mac_rejected() -> None:
    signer = TokenSigner(SECRET)
    _, payload, mac = signer.issue(DEVICE).split(".")
    assert invalid(signer, f"kp2.{payload}.{mac}") == "malformed token"


@pytest.mark.parametrize(
    "token",
    ["kp1.a.b", "kp1..", "kp1.%%%.abc", "kp1.\u00e9.abc"],
)
def test_garbage_parts_fail_the_signature_check(token: str) -> None:
    assert "signature" in invalid(TokenSigner(SECRET), token)


@pytest.mark.parametrize("token", ["kp1.abc.\u00e9", "kp1.abc.sig\u2603"])
def test_non_ascii_signature_is_an_invalid_token(token: str) -> None:
    invalid(TokenSigner(SECRET), token)


@pytest.mark.parametrize(
    "payload",
    [
        b64(b"not json"),
        b64(b"[]"),
        b64(b'{"identity": {"peer_id": "p"}, "exp": 1}'),  # missing role and events
        b64(b'{"identity": {"peer_id": "p", "role": "god", "events": []}, "exp": 99999999999}'),
        b64(b'{"identity": {"peer_id": "p", "role": "hub", "events": []}}'),  # no expiry
        "!!!",  # not base64url
        "a",  # impossible base64 length
    ],
)
def test_correctly_signed_but_malformed_payload_rejected(payload: str) -> None:
    assert invalid(TokenSigner(SECRET), sign(SECRET, payload)) == "malformed token payload"


# --- secrets -------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_short_secret_rejected(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSigner(b"x" * length)


def test_32_byte_secret_accepted() -> None:
    TokenSigner(b"x" * 32)


def test_secret_file_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "token.key"
    first = TokenSigner.from_file(path)
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_bytes()
    assert len(secret) >= 32
    token = first.issue(DEVICE)

    second = TokenSigner.from_file(path)
    assert path.read_bytes() == secret, "the second load must not regenerate the secret"
    assert second.verify(token) == DEVICE


def test_secret_files_differ_between_replicas(tmp_path: Path) -> None:
    a = TokenSigner.from_file(tmp_path / "a.key")
    b = TokenSigner.from_file(tmp_path / "b.key")
    assert (tmp_path / "a.key").read_bytes() != (tmp_path / "b.key").read_bytes()
    assert "signature" in invalid(b, a.issue(DEVICE))


def test_existing_secret_file_is_used(tmp_path: Path) -> None:
    path = tmp_path / "token.key"
    path.write_bytes(SECRET)
    signer = TokenSigner.from_file(path)
    assert signer.verify(TokenSigner(SECRET).issue(DEVICE)) == DEVICE
    assert path.read_bytes() == SECRET


def test_short_secret_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "token.key"
    path.write_bytes(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        TokenSigner.from_file(path)


def test_processes_starting_together_all_read_the_same_whole_secret(tmp_path: Path) -> None:
    """A fresh box: the server and CLI commands create the token secret at the same moment."""
    import subprocess
    import sys

    path = tmp_path / "secrets" / "shared.key"
    go = tmp_path / "go"
    script = (
        "import os, sys, time; from pathlib import Path; from sync.tokens import load_secret\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.0005)\n"
        "sys.stdout.write(load_secret(Path(sys.argv[1])).hex())"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(12)
    ]
    time.sleep(1.5)  # every process imported and waiting at the line
    go.touch()
    seen = {p.communicate(timeout=60)[0] for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert seen == {path.read_bytes().hex()}
    assert len(path.read_bytes()) == 32
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in path.parent.iterdir()) == ["shared.key"], "no temporary file is left behind"
