"""Organizations, organizer accounts and roles; sign-in, console sessions and API tokens.

* Passwords are hashed with scrypt (``konferenco.passwords`` owns the format, so
  staff PINs and organizer passwords are hashed one way).
* A console session is a random cookie (``kh1.…``) whose keyed hash is a row
  of ``console_session`` in PostgreSQL: every hub worker sees the same rows,
  so a session can be ended for good, everywhere: "sign out everywhere",
  a password change and a role change delete every row of the account.
  Roles are read from ``membership`` on every request, so removing a member
  takes effect at once.
* An API token (``kt1_…``) belongs to one account *in one organization*;
  only its SHA-256 is stored, so a database dump reveals no usable token.
* Sign-in is rate-limited per e-mail and per client address
  (:class:`LoginLimiter`, counted in PostgreSQL so all workers share one
  budget), and takes the same time for an unknown e-mail as for a wrong
  password.
* ``password_hash`` is readable by the system role only (migration 0005):
  sign-in runs in a system transaction, tenant transactions cannot see it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
import secrets
import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.db.session import Database
from hub.tenants import audit
from konferenco.errors import Conflict, Forbidden, Invalid, NotFound, TooManyAttempts, Unauthorized
from konferenco.passwords import check_secret, hash_secret

SESSION_SECONDS = 12 * 3600
#: The prefix of the sealed cookies these replaced, kept so log redaction (konferenco.logs) knows it.
SESSION_PREFIX = "kh1."
API_TOKEN_PREFIX = "kt1_"
MIN_PASSWORD = 10
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


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Sessions:
    """Console sessions stored in ``console_session``, so any worker can check or end them.

    The cookie is 32 random bytes; the table keeps its HMAC under a key
    derived from the hub's master secret, so neither a database dump nor a
    log line of the table gives a cookie that would work.
    """

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("the session key must be at least 32 bytes")
        self._secret = secret

    def _key(self, cookie: str) -> bytes:
        return hmac.new(self._secret, cookie.encode(), hashlib.sha256).digest()

    async def issue(self, db: Database, account_id: str, ttl: int = SESSION_SECONDS) -> str:
        """A new session cookie for ``account_id``, valid ``ttl`` seconds unless ended sooner."""
        cookie = SESSION_PREFIX + secrets.token_urlsafe(32)
        async with db.system() as conn:  # system: sessions are the account's, not a tenant's
            await conn.execute(
                text("DELETE FROM console_session WHERE expires_at < now()"),  # anyone's, long gone
            )
            await conn.execute(
                text(
                    "INSERT INTO console_session (token_hash, account_id, expires_at)"
                    " VALUES (:h, :a, now() + make_interval(secs => :ttl))"
                ),
                {"h": self._key(cookie), "a": uuid.UUID(account_id), "ttl": ttl},
            )
        return cookie

    async def account(self, db: Database, cookie: str | None) -> str:
        """The account a cookie is signed in as; Unauthorized if it is unknown, ended or expired."""
        if not cookie:
            raise Unauthorized("sign in first")
        if not cookie.startswith(SESSION_PREFIX) or len(cookie) > 100:
            raise Unauthorized("session not valid: sign in again")
        async with db.system() as conn:  # system: the cookie says which account, before any tenant
            row = (
                await conn.execute(
                    text(
                        "SELECT account_id, expires_at < now() AS expired"
                        " FROM console_session WHERE token_hash = :h"
                    ),
                    {"h": self._key(cookie)},
                )
            ).first()
        if row is None:
            raise Unauthorized(
                "your session has ended (signed out, or the password or role changed); sign in again"
            )
        if row.expired:
            raise Unauthorized("the session has expired; sign in again")
        return str(row.account_id)

    async def end(self, db: Database, cookie: str | None) -> None:
        """Sign this browser out: its row is deleted, so a copy of the cookie stops working too."""
        if not cookie:
            return
        async with db.system() as conn:
            await conn.execute(
                text("DELETE FROM console_session WHERE token_hash = :h"), {"h": self._key(cookie)}
            )


async def end_sessions(conn: AsyncConnection, account_id: str) -> int:
    """End every console session of the account, on every worker; the number ended.

    Runs on the caller's connection (a system transaction), so it commits with
    the change that made it necessary (a new password, a new role).
    """
    result = await conn.execute(
        text("DELETE FROM console_session WHERE account_id = :a"), {"a": uuid.UUID(account_id)}
    )
    return int(result.rowcount or 0)


class LoginLimiter:
    """At most ``attempts`` failures per e-mail and per address in ``window`` seconds.

    The failures are rows of ``login_failure`` in PostgreSQL, so the budget
    is one for the whole hub, however many workers serve it.  Two guesses
    checked at the very same moment on two workers may both pass the check:
    the overshoot is at most the number of workers, once per window.
    """

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts = attempts
        self.window = window

    async def check(self, conn: AsyncConnection, *keys: str) -> None:
        """TooManyAttempts (with ``retry_after``) if any key has used its budget."""
        rows = await conn.execute(
            text(
                "SELECT key, count(*) AS n,"
                " extract(epoch FROM min(failed_at) + make_interval(secs => :w) - clock_timestamp()) AS wait"
                " FROM login_failure WHERE key = ANY(:keys)"
                " AND failed_at > clock_timestamp() - make_interval(secs => :w) GROUP BY key"
            ),
            {"keys": list(keys), "w": self.window},
        )
        for row in rows:
            if row.n >= self.attempts:
                wait = max(1, math.ceil(float(row.wait)))
                raise TooManyAttempts(f"too many failed sign-ins; try again in {wait} s", retry_after=wait)

    async def failed(self, conn: AsyncConnection, *keys: str) -> None:
        await conn.execute(  # every key's old failures: they no longer count
            text("DELETE FROM login_failure WHERE failed_at < clock_timestamp() - make_interval(secs => :w)"),
            {"w": self.window},
        )
        await conn.execute(
            text("INSERT INTO login_failure (key) SELECT unnest(CAST(:keys AS text[]))"), {"keys": list(keys)}
        )

    async def succeeded(self, conn: AsyncConnection, *keys: str) -> None:
        await conn.execute(text("DELETE FROM login_failure WHERE key = ANY(:keys)"), {"keys": list(keys)})


async def create_account(conn: AsyncConnection, email: str, password: str, name: str = "") -> str:
    email = email.strip()
    if "@" not in email or len(email) > 254:
        raise Invalid(f"{email!r} is not an e-mail address")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"the password must have at least {MIN_PASSWORD} characters")
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


async def add_member(
    conn: AsyncConnection, org_id: str, email: str, role: OrgRole, *, by: Principal | None = None
) -> None:
    """Add an account to the organization, or change its role there.

    A changed role ends every console session of the account (in this
    transaction): a demoted organizer's open pages stop working at once, and
    the next sign-in reads the new role.  ``by``: who did it, for the audit
    trail.  Needs a system transaction (the account is found by e-mail).
    """
    account = (
        await conn.execute(text("SELECT id FROM account WHERE lower(email) = lower(:e)"), {"e": email})
    ).first()
    if account is None:
        raise Invalid(f"no account for {email}; create it first")
    before = (
        await conn.execute(
            text("SELECT role FROM membership WHERE org_id = :o AND account_id = :a FOR UPDATE"),
            {"o": org_id, "a": account.id},
        )
    ).first()
    await conn.execute(
        text(
            "INSERT INTO membership (org_id, account_id, role) VALUES (:o, :a, :r)"
            " ON CONFLICT (org_id, account_id) DO UPDATE SET role = excluded.role"
        ),
        {"o": org_id, "a": account.id, "r": str(role)},
    )
    if before is not None and before.role != str(role):
        ended = await end_sessions(conn, str(account.id))
        if by is not None:
            details = {"from": before.role, "to": str(role), "sessions_ended": ended}
            await audit.record(conn, by, "member.role_change", email, details=details, org_id=org_id)


async def sign_in(db: Database, limiter: LoginLimiter, email: str, password: str, address: str) -> str:
    """The account id for a correct e-mail and password; raises Unauthorized or TooManyAttempts."""
    keys = (f"email:{email.strip().lower()}", f"addr:{address}")
    async with db.system() as conn:  # system: the account is found by e-mail, before any tenant is known
        await limiter.check(conn, *keys)
        row = (
            await conn.execute(
                text("SELECT id, password_hash FROM account WHERE lower(email) = lower(:e)"),
                {"e": email.strip()},
            )
        ).first()
    # scrypt takes ~50 ms of CPU: in a thread, not on the worker's event loop and outside the transaction.
    good = await asyncio.to_thread(check_secret, password, row.password_hash if row else _DUMMY)
    async with db.system() as conn:  # committed before the answer: raising inside would roll it back
        if row is None or not good:
            await limiter.failed(conn, *keys)
        else:  # the account's count only: one good password must not unlock an address
            await limiter.succeeded(conn, keys[0])
    if row is None or not good:
        raise Unauthorized("wrong e-mail or password", code="wrong_credentials")
    return str(row.id)


async def change_password(db: Database, account_id: str, current: str, new: str) -> int:
    """Set a new password after checking the current one; ends every session; the number ended.

    Every console session of the account ends in the same transaction as the
    new hash is stored, so whoever had a session from the old password (a
    shared laptop, a stolen cookie) is out.  The caller signs this browser in
    again.  Each organization of the account gets an audit row.
    """
    if len(new) < MIN_PASSWORD:
        raise Invalid(f"the new password must have at least {MIN_PASSWORD} characters")
    if len(new) > 1000:
        raise Invalid("the new password is too long (at most 1000 characters)")
    async with db.system() as conn:  # system: only this role may read password hashes
        row = (
            await conn.execute(
                text("SELECT password_hash, email FROM account WHERE id = :a"), {"a": uuid.UUID(account_id)}
            )
        ).first()
    if row is None:
        raise NotFound("this account does not exist any more")
    if not await asyncio.to_thread(check_secret, current, row.password_hash):
        raise Unauthorized("the current password is wrong", code="wrong_credentials")
    new_hash = await asyncio.to_thread(hash_secret, new)
    async with db.system() as conn:
        await conn.execute(
            text("UPDATE account SET password_hash = :h WHERE id = :a"),
            {"h": new_hash, "a": uuid.UUID(account_id)},
        )
        ended = await end_sessions(conn, account_id)
        for m in await _memberships(conn, account_id):
            who = Principal(account_id, m.org_id, m.slug, m.role, row.email)
            await audit.record(
                conn, who, "account.password_change", row.email, details={"sessions_ended": ended}
            )
    return ended


async def sign_out_everywhere(db: Database, account_id: str, *, api_tokens: bool = False) -> int:
    """End every console session of the account, on every worker; the number ended.

    With ``api_tokens``, also revoke every API token of the account (in every
    organization): for a laptop or a script host that may be in someone
    else's hands.  Audited in each organization of the account.
    """
    async with db.system() as conn:  # system: sessions belong to the account, across organizations
        ended = await end_sessions(conn, account_id)
        revoked = 0
        if api_tokens:
            result = await conn.execute(
                text("UPDATE api_token SET revoked_at = now() WHERE account_id = :a AND revoked_at IS NULL"),
                {"a": uuid.UUID(account_id)},
            )
            revoked = int(result.rowcount or 0)
        details = {"sessions_ended": ended, "api_tokens_revoked": revoked}
        await _audit_everywhere(conn, account_id, "session.sign_out_everywhere", details)
    return ended


async def _audit_everywhere(
    conn: AsyncConnection, account_id: str, action: str, details: dict[str, int]
) -> None:
    """One audit row in each organization of the account, for account-wide actions."""
    email = (
        await conn.execute(text("SELECT email FROM account WHERE id = :a"), {"a": uuid.UUID(account_id)})
    ).scalar_one()
    for m in await _memberships(conn, account_id):
        who = Principal(account_id, m.org_id, m.slug, m.role, email)
        await audit.record(conn, who, action, email, details=details)


async def _memberships(conn: AsyncConnection, account_id: str) -> list[Membership]:
    rows = await conn.execute(
        text(
            "SELECT o.id, o.slug, o.name, o.tier, m.role FROM membership m"
            " JOIN organization o ON o.id = m.org_id WHERE m.account_id = :a ORDER BY o.name"
        ),
        {"a": uuid.UUID(account_id)},
    )
    return [Membership(str(r.id), r.slug, r.name, OrgRole(r.role), r.tier) for r in rows]


async def memberships(db: Database, account_id: str) -> list[Membership]:
    async with db.system() as conn:  # system: which tenants may this account enter at all
        return await _memberships(conn, account_id)


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
    await audit.record(conn, principal, "token.create", name)
    return token


async def revoke_api_token(conn: AsyncConnection, principal: Principal, token_id: str) -> str:
    """Revoke one of the caller's own API tokens in this organization (tenant transaction); its name.

    Only the owner of a token revokes it here: a token acts with its owner's
    role, and an owner who leaves takes their tokens' power with them anyway.
    """
    try:
        key = uuid.UUID(token_id)
    except ValueError:
        raise NotFound(f"no API token {token_id!r} of yours here") from None
    row = (
        await conn.execute(
            text(
                "UPDATE api_token SET revoked_at = coalesce(revoked_at, now())"
                " WHERE id = :t AND account_id = :a RETURNING name"
            ),
            {"t": key, "a": uuid.UUID(principal.account_id)},
        )
    ).first()
    if row is None:
        raise NotFound(f"no API token {token_id!r} of yours here")
    await audit.record(conn, principal, "token.revoke", row.name, details={"token_id": token_id})
    return str(row.name)


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
