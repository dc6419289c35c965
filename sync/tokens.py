"""Signed peer tokens: how a replica proves who it is when it connects.

``kp1.<payload>.<mac>``: the payload is the :class:`PeerIdentity` plus an
expiry, as JSON, base64url; the MAC is HMAC-SHA256 with the issuing
replica's secret.  Verification needs no database, so it works offline.

This is the default authentication hook of an appliance (it can hand a
token to a peer appliance, a kiosk page or a viewer).  Hub-issued device
credentials plug into the same hook (``Authenticator``) later.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Generic, TypeVar

import msgspec

from sync.permissions import PeerIdentity

PREFIX = "kp1"
C = TypeVar("C", bound=msgspec.Struct)

#: Turns the token a peer presented (or None) into its identity, or raises
#: :class:`InvalidToken`.  Called once per connection.
#: Turns a presented token into a peer, or raises :class:`InvalidToken`; may be a coroutine
#: function when the check needs I/O (the hub looks device credentials up in PostgreSQL).
Authenticator = Callable[[str | None], PeerIdentity | Awaitable[PeerIdentity]]


class InvalidToken(ValueError):
    pass


class _Claims(msgspec.Struct, frozen=True):
    identity: PeerIdentity
    exp: int


class SealedTokens(Generic[C]):
    """``<prefix>.<payload>.<mac>``: msgspec claims as base64url JSON, HMAC-SHA256 over both.

    The one implementation of signed bearer tokens: peer tokens here, staff
    tokens on the appliance.  The prefix is part of the MAC, so a token of
    one kind never passes as another even under the same secret.
    """

    def __init__(self, prefix: str, secret: bytes, claims: type[C]) -> None:
        if len(secret) < 32:
            raise ValueError("the token secret must be at least 32 bytes")
        self.prefix = prefix
        self._secret = secret
        self._decode = msgspec.json.Decoder(claims).decode

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, f"{self.prefix}.{payload}".encode(), hashlib.sha256).digest())

    def seal(self, claims: C) -> str:
        payload = _b64(msgspec.json.encode(claims))
        return f"{self.prefix}.{payload}.{self._mac(payload)}"

    def open(self, token: str) -> C:
        """The claims of a genuine token; raises :class:`InvalidToken` saying what is wrong."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != self.prefix:
            raise InvalidToken("malformed token")
        if not hmac.compare_digest(self._mac(parts[1]).encode(), parts[2].encode("utf-8", "replace")):
            raise InvalidToken("token signature does not match")
        try:
            return self._decode(_unb64(parts[1]))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError):
            raise InvalidToken("malformed token payload") from None


def load_secret(path: Path) -> bytes:
    """A token secret from ``path``, created (32 random bytes, mode 0600) on first use."""
    return secret_file(path, lambda: os.urandom(32))


def secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """The contents of a secret file, created with ``make()`` (mode 0600) if it is missing.

    Safe when several processes start at once (the server and a few CLI
    commands on a fresh box): the file is written in full under a private
    name and then hard-linked into place, so nobody ever reads it half
    written, and whoever links second reads the winner's secret.
    """
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(make())
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secret: bytes) -> None:
        self._tokens = SealedTokens(PREFIX, secret, _Claims)

    @classmethod
    def from_file(cls, path: Path) -> TokenSigner:
        """Load the secret, creating it (mode 0600) on first use."""
        return cls(load_secret(path))

    def issue(self, identity: PeerIdentity, ttl_seconds: int = 30 * 24 * 3600) -> str:
        return self._tokens.seal(_Claims(identity, int(time.time()) + ttl_seconds))

    def verify(self, token: str | None) -> PeerIdentity:
        if not token:
            raise InvalidToken("no token: send 'Authorization: Bearer <token>' or '?token=<token>'")
        claims = self._tokens.open(token)
        if claims.exp < time.time():
            raise InvalidToken("token expired")
        return claims.identity
