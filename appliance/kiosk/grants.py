"""Grants and lookup refs: sealed, short-lived proofs that a kiosk identified someone.

A *grant* (``kg1.``) names the event, the attendee and the kiosk's staff id;
every step after identification (the badge preview, a correction, the
check-in) needs one, so a kiosk cannot act on an attendee it has not
identified, and one kiosk cannot use another's.  A *lookup ref* (``kr1.``)
names an attendee found by a name search, for the second-factor question
only; it proves nothing.  Both are HMAC-sealed (:class:`sync.tokens.SealedTokens`)
with keys derived from the box's staff-token secret, so they need no
database and survive nothing but their own expiry (and a key rotation).
"""

from __future__ import annotations

import hashlib
import hmac
import time

import msgspec

from konferenco.errors import KonferencoError
from sync.tokens import InvalidToken, SealedTokens

#: How long a grant lasts: the flow from scan to print is seconds; this is generous for a slow person.
GRANT_S = 15 * 60
#: How long a search result may be chosen.
REF_S = 10 * 60


class Grant(msgspec.Struct, frozen=True, kw_only=True):
    event: str
    attendee: str
    kiosk: str
    exp: int
    #: The badge presented (QR text or NFC UID), or the roster's badge code for a name lookup.
    code: str | None = None
    nfc_uid: str | None = None


class LookupRef(msgspec.Struct, frozen=True, kw_only=True):
    event: str
    attendee: str
    kiosk: str
    exp: int


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, b"konferenco kiosk " + purpose, hashlib.sha256).digest()


class KioskSeals:
    """Seals and opens grants and lookup refs for one box."""

    def __init__(self, secret: bytes) -> None:
        self._grants = SealedTokens("kg1", _derive(secret, b"grant"), Grant)
        self._refs = SealedTokens("kr1", _derive(secret, b"lookup ref"), LookupRef)

    def grant(
        self, event: str, attendee: str, kiosk: str, *, code: str | None = None, nfc_uid: str | None = None
    ) -> str:
        claims = Grant(
            event=event,
            attendee=attendee,
            kiosk=kiosk,
            exp=int(time.time()) + GRANT_S,
            code=code,
            nfc_uid=nfc_uid,
        )
        return self._grants.seal(claims)

    def open_grant(self, token: str, kiosk: str) -> Grant:
        try:
            claims = self._grants.open(token)
        except InvalidToken:
            raise _stale("grant") from None
        if claims.exp < time.time() or claims.kiosk != kiosk:
            raise _stale("grant")
        return claims

    def ref(self, event: str, attendee: str, kiosk: str) -> str:
        return self._refs.seal(
            LookupRef(event=event, attendee=attendee, kiosk=kiosk, exp=int(time.time()) + REF_S)
        )

    def open_ref(self, token: str, kiosk: str) -> LookupRef:
        try:
            claims = self._refs.open(token)
        except InvalidToken:
            raise _stale("ref") from None
        if claims.exp < time.time() or claims.kiosk != kiosk:
            raise _stale("ref")
        return claims


def _stale(field: str) -> KonferencoError:
    return KonferencoError(
        "this step has timed out or belongs to another kiosk; start again from the welcome screen",
        code="forbidden",
        field=field,
    )
