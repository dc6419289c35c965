"""The audit trail: who did what to which thing in an organization, and when.

Every organizer action that changes who may do what (a device enrolled or
revoked, an API token created or revoked, sessions ended, a password or a
role changed) or what the venue believes (an import, an attendee revoked or
amended) writes one ``audit`` row, **on the connection of the action**: the
row and the change commit together or not at all, so the trail never shows
an action that did not happen, nor misses one that did.

Schedule edits and grassroots decisions are the exception: they are
written to the event's control document (the sync log, shared with the
appliances), not in a tenant transaction, so their row follows in a
transaction of its own once the edit is durable.  A crash between the two
leaves the edit without its row, never a row without its edit; the edit
itself still names its author in the document (``Decision.by``, an
overlap approval's ``by``).

The table has row-level security like every tenant table, and the tenant
role may only insert and read (no ``UPDATE``/``DELETE`` grant): a request
for one organization can neither read nor rewrite another's history, nor
its own.  The actor's e-mail is copied into the row when it is written, so
the trail still says who acted after the account is gone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Protocol

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

#: What an organizer can do that the trail records (the ``action`` column).
ACTIONS = {
    "device.enrol": "created an enrolment code",
    "device.revoke": "revoked a device",
    "token.create": "created an API token",
    "token.revoke": "revoked an API token",
    "catalog.import": "imported attendees",
    "attendee.revoke": "revoked an attendee's badge",
    "attendee.amend": "amended an attendee",
    "session.sign_out_everywhere": "signed out everywhere",
    "account.password_change": "changed their password",
    "member.role_change": "changed a member's role",
    "schedule.import": "imported a schedule",
    "schedule.edit": "changed the schedule",
    "proposal.approve": "approved a grassroots proposal",
    "proposal.reject": "rejected a grassroots proposal",
    "proposal.withdraw": "withdrew a grassroots approval",
}
PAGE_SIZE = 100


class Actor(Protocol):
    """Who acted: a :class:`hub.tenants.accounts.Principal` (a protocol here, because accounts.py
    writes audit rows itself and the two modules must not import each other)."""

    @property
    def account_id(self) -> str: ...
    @property
    def org_id(self) -> str: ...
    @property
    def email(self) -> str: ...


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the trail, as the console shows it and the API returns it."""

    id: int
    at: dt.datetime
    actor: str
    actor_id: str | None
    action: str
    summary: str
    event_id: str | None
    target: str
    details: dict[str, Any]


async def record(
    conn: AsyncConnection,
    principal: Actor,
    action: str,
    target: str = "",
    *,
    event_id: str | None = None,
    details: dict[str, Any] | None = None,
    org_id: str | None = None,
) -> None:
    """Write one row of ``principal``'s organization (or ``org_id``) in ``conn``'s transaction.

    ``conn`` is the action's own connection: a tenant transaction (row-level
    security checks the organization) or, for account-wide actions such as a
    password change, the system one with an explicit ``org_id``.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    await conn.execute(
        text(
            "INSERT INTO audit (org_id, actor_id, actor, action, event_id, target, details)"
            " VALUES (:o, :aid, coalesce((SELECT email FROM account WHERE id = :aid), :fallback),"
            " :action, :e, :t, CAST(:d AS jsonb))"
        ),
        {
            "o": org_id or principal.org_id,
            "aid": uuid.UUID(principal.account_id),
            "fallback": principal.email or principal.account_id,
            "action": action,
            "e": event_id,
            "t": target,
            "d": msgspec.json.encode(details or {}).decode(),
        },
    )


async def recent(
    conn: AsyncConnection, *, limit: int = PAGE_SIZE, before: int | None = None
) -> list[AuditEntry]:
    """The organization's trail, newest first (``before``: an id, for the next page).

    Run in a tenant transaction: row-level security picks the organization.
    """
    rows = await conn.execute(
        text(
            "SELECT id, at, actor, actor_id, action, event_id, target, details FROM audit"
            " WHERE (CAST(:before AS bigint) IS NULL OR id < :before) ORDER BY id DESC LIMIT :limit"
        ),
        {"before": before, "limit": max(1, min(limit, 1000))},
    )
    return [
        AuditEntry(
            id=r.id,
            at=r.at,
            actor=r.actor,
            actor_id=str(r.actor_id) if r.actor_id else None,
            action=r.action,
            summary=ACTIONS.get(r.action, r.action),
            event_id=r.event_id,
            target=r.target,
            details=dict(r.details or {}),
        )
        for r in rows
    ]
