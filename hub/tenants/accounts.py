"""Organizations, organizer accounts and roles; sign-in, console sessions and API tokens.

* Passwords are hashed with scrypt (``konferenco.passwords`` owns the format, so
  staff PINs and organizer passwords are hashed one way).
* A console session is a sealed cookie (``kh1.`` token, HMAC under a key
  derived from the hub master secret) naming the account and an expiry:
  any worker can check it without a database round trip.  Roles are read
  from ``membership`` on every request, so removing a member takes effect
  at once.
* An API token (``kt1_…``) belongs to one account *in one organization*;
  only its SHA-256 is stored, so a database dump reveals no usable token.
* Sign-in is rate-limited per e-mail and per client address
  (:class:`LoginLimiter`), and takes the same time for an unknown e-mail
  as for a wrong password.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from enum import StrEnum

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.session import Database
from konferenco.errors import Conflict, Forbidden, Invalid, TooManyAttempts, Unauthorized
from konferenco.passwords import check_secret, hash_secret
from sync.tokens import InvalidToken, SealedTokens

SESSION_SECONDS = 12 * 3600
API_TOKEN_PREFIX = "kt1_"
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
#: Short names that are console pages themselves (``/console/login``) or may become so.
RESERVED_SLUGS = frozenset({"login", "logout", "static", "api", "admin", "new", "settings", "account"})
_DUMMY = hash_secret("timing equaliser")


class OrgRole(StrEnum):
    OWNER = "owner"
    ORGANIZER = "organizer"
    VIEWER = "viewer"

    def at_least(self, other: OrgRole) -> bool:
        order = [OrgRole.VIEWER, OrgRole.ORGANIZER, OrgRole.OWNER]
        return order.index(self) >= order.index(other)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting, in which organization, with which role."""

    account_id: str
    org_id: str
    org_slug: str
    role: OrgRole
    email: str = ""

    def require(self, role: OrgRole) -> None:
        if not self.role.at_least(role):
            raise Forbidden(f"this needs the {role} role in the organization; you are {self.role}")


@dataclass(frozen=True, slots=True)
class Membership:
    org_id: str
    slug: str
    name: str
    role: OrgRole
    tier: str


class SessionClaims(msgspec.Struct, frozen=True):
    account: str
    exp: int


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Sessions:
    def __init__(self, secret: bytes) -> None:
        self._tokens = SealedTokens("kh1", secret, SessionClaims)

    def issue(self, account_id: str, ttl: int = SESSION_SECONDS) -> str:
        return self._tokens.seal(SessionClaims(account_id, int(time.time()) + ttl))

    def account(self, cookie: str | None) -> str:
        if not cookie:
            raise Unauthorized("sign in first")
        try:
            claims = self._tokens.open(cookie)
        except InvalidToken as exc:
            raise Unauthorized(f"session not valid: {exc}") from None
        if claims.exp < time.time():
            raise Unauthorized("the session has expired; sign in again")
        return claims.account


class LoginLimiter:
    """At most ``attempts`` failures per e-mail and per address in ``window`` seconds.

    In memory, per worker: with N workers an attacker gets N times the
    budget, still a handful of guesses a minute against scrypt hashes.
    """

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def check(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            recent = self._failures[key]
            while recent and recent[0] < now - self.window:
                recent.popleft()
            if len(recent) >= self.attempts:
                wait = max(1, math.ceil(recent[0] + self.window - now))
                raise TooManyAttempts(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._failures[key].append(now)

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)


async def create_account(conn: AsyncConnection, email: str, password: str, name: str = "") -> str:
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise Invalid(f"{email!r} is not an e-mail address")
    if len(password) < 10:
        raise Invalid("the password must have at least 10 characters")
    existing = (
        await conn.execute(text("SELECT id FROM account WHERE lower(email) = lower(:e)"), {"e": email})
    ).first()
    if existing is not None:
        raise Conflict(f"an account for {email} exists already")
    row = (
        await conn.execute(
            text("INSERT INTO account (email, name, password_hash) VALUES (:e, :n, :h) RETURNING id"),
            {"e": email, "n": name, "h": hash_secret(password)},
        )
    ).one()
    return str(row.id)


async def create_organization(
    conn: AsyncConnection, name: str, slug: str, owner_id: str, tier: str = "free"
) -> str:
    if not SLUG.match(slug):
        raise Invalid("the short name must be 2-63 of a-z, 0-9 and '-', starting with a letter or digit")
    if slug in RESERVED_SLUGS:
        raise Invalid(f"the short name {slug!r} is reserved by the console; choose another")
    taken = (await conn.execute(text("SELECT 1 FROM organization WHERE slug = :s"), {"s": slug})).first()
    if taken is not None:
        raise Conflict(f"the short name {slug!r} is taken")
    row = (
        await conn.execute(
            text("INSERT INTO organization (name, slug, tier) VALUES (:n, :s, :t) RETURNING id"),
            {"n": name, "s": slug, "t": tier},
        )
    ).one()
    org_id = str(row.id)
    await conn.execute(
        text("INSERT INTO membership (org_id, account_id, role) VALUES (:o, :a, 'owner')"),
        {"o": org_id, "a": owner_id},
    )
    return org_id


async def add_member(conn: AsyncConnection, org_id: str, email: str, role: OrgRole) -> None:
    account = (
        await conn.execute(text("SELECT id FROM account WHERE lower(email) = lower(:e)"), {"e": email})
    ).first()
    if account is None:
        raise Invalid(f"no account for {email}; create it first")
    await conn.execute(
        text(
            "INSERT INTO membership (org_id, account_id, role) VALUES (:o, :a, :r)"
            " ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role"
        ),
        {"o": org_id, "a": account.id, "r": str(role)},
    )


async def sign_in(db: Database, limiter: LoginLimiter, email: str, password: str, address: str) -> str:
    """The account id for a correct e-mail and password; raises Unauthorized or TooManyAttempts."""
    keys = (f"email:{email.strip().lower()}", f"addr:{address}")
    limiter.check(*keys)
    async with db.system() as conn:  # system: the account is found by e-mail, before any tenant is known
        row = (
            await conn.execute(
                text("SELECT id, password_hash FROM account WHERE lower(email) = lower(:e)"),
                {"e": email.strip()},
            )
        ).first()
    if row is None:
        check_secret(password, _DUMMY)
        limiter.failed(*keys)
        raise Unauthorized("wrong e-mail or password", code="wrong_credentials")
    if not check_secret(password, row.password_hash):
        limiter.failed(*keys)
        raise Unauthorized("wrong e-mail or password", code="wrong_credentials")
    limiter.succeeded(keys[0])  # the account's count only: one good password must not unlock an address
    return str(row.id)


async def memberships(db: Database, account_id: str) -> list[Membership]:
    async with db.system() as conn:  # system: which tenants may this account enter at all
        rows = await conn.execute(
            text(
                "SELECT o.id, o.slug, o.name, o.tier, m.role FROM membership m"
                " JOIN organization o ON o.id = m.org_id WHERE m.account_id = :a ORDER BY o.name"
            ),
            {"a": account_id},
        )
        return [Membership(str(r.id), r.slug, r.name, OrgRole(r.role), r.tier) for r in rows]


async def principal_for(db: Database, account_id: str, slug: str) -> Principal:
    for m in await memberships(db, account_id):
        if m.slug == slug:
            return Principal(account_id, m.org_id, m.slug, m.role)
    raise Forbidden(f"you are not a member of {slug!r}")


async def issue_api_token(conn: AsyncConnection, principal: Principal, name: str) -> str:
    """A token that acts with its owner's *current* role (read from membership at every use),
    so a viewer's token reads and a demoted organizer's token stops writing at once."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        text("INSERT INTO api_token (org_id, account_id, name, token_hash) VALUES (:o, :a, :n, :h)"),
        {"o": principal.org_id, "a": principal.account_id, "n": name, "h": hash_token(token)},
    )
    return token


async def principal_for_token(db: Database, token: str) -> Principal:
    async with db.system() as conn:  # system: the token says which tenant it belongs to
        row = (
            await conn.execute(
                text(
                    "UPDATE api_token t SET last_used_at = now() FROM membership m, organization o"
                    " WHERE t.token_hash = :h AND t.revoked_at IS NULL"
                    " AND m.org_id = t.org_id AND m.account_id = t.account_id AND o.id = t.org_id"
                    " RETURNING t.account_id, t.org_id, o.slug, m.role"
                ),
                {"h": hash_token(token)},
            )
        ).first()
    if row is None:
        raise Unauthorized("the API token is not valid (revoked, or its owner left the organization)")
    return Principal(str(row.account_id), str(row.org_id), row.slug, OrgRole(row.role))
