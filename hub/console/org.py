"""An organization's pages: its events (and a new one), and API tokens for scripts."""

from __future__ import annotations

import functools
import zoneinfo
from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import text

from hub.catalog import events as event_service
from hub.console.auth import OrgAccess
from hub.console.render import day_bounds, render, see_other
from hub.state import state_of
from hub.tenants.accounts import issue_api_token, revoke_api_token
from konferenco.errors import KonferencoError


@functools.cache
def time_zones() -> list[str]:
    """IANA names offered in the new-event form (the server still checks what is typed)."""
    return sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/"))
    )


def form_text(form: Any, name: str) -> str:
    value = form.get(name, "")
    return value.strip() if isinstance(value, str) else ""


async def _org_page(
    request: Request[Any, Any, Any], access: OrgAccess, *, status: int = 200, **extra: Any
) -> Template:
    async with state_of(request).db.tenant(access.principal.org_id) as conn:
        events = await event_service.list_events(conn)
    context: dict[str, Any] = {
        "access": access,
        "events": events,
        "zones": time_zones(),
        "form": {"name": "", "timezone": "UTC", "starts": "", "ends": ""},
        **extra,
    }
    return render("org.html", context, status=status)


@get("/console/{org:str}", include_in_schema=False)
async def org_page(request: Request[Any, Any, Any], access: NamedDependency[OrgAccess]) -> Template:
    return await _org_page(request, access)


@post("/console/{org:str}/events", include_in_schema=False, status_code=303)
async def create_event(request: Request[Any, Any, Any], access: NamedDependency[OrgAccess]) -> Response[Any]:
    """Create an event from the form; on a mistake, the form again with the message and what was typed."""
    access.require_editor()
    form = await request.form()
    typed = {k: form_text(form, k) for k in ("name", "timezone", "starts", "ends")}
    timezone = typed["timezone"] or "UTC"
    state = state_of(request)
    try:
        try:
            starts_at, ends_at = day_bounds(typed["starts"], typed["ends"], timezone)
        except ValueError as exc:
            return await _org_page(request, access, status=422, form=typed, error=str(exc))
        async with state.db.tenant(access.principal.org_id) as conn:
            event_id = await event_service.create_event(
                conn,
                state.sealer,
                access.principal,
                typed["name"],
                timezone=timezone,
                starts_at=starts_at,
                ends_at=ends_at,
            )
    except KonferencoError as exc:
        if exc.status == 403:
            raise
        return await _org_page(request, access, status=exc.status, form=typed, error=exc.message)
    return see_other(f"/console/{access.membership.slug}/events/{event_id}", request)


async def _tokens_page(
    request: Request[Any, Any, Any], access: OrgAccess, *, status: int = 200, **extra: Any
) -> Template:
    async with state_of(request).db.tenant(access.principal.org_id) as conn:
        rows = await conn.execute(
            text(
                "SELECT id, name, created_at, last_used_at, revoked_at FROM api_token"
                " WHERE account_id = :a ORDER BY created_at DESC"
            ),
            {"a": access.principal.account_id},
        )
        tokens = [dict(r._mapping) for r in rows]
    hub_url = state_of(request).settings.public_url
    return render(
        "tokens.html", {"access": access, "tokens": tokens, "hub_url": hub_url, **extra}, status=status
    )


@get("/console/{org:str}/tokens", include_in_schema=False)
async def tokens_page(request: Request[Any, Any, Any], access: NamedDependency[OrgAccess]) -> Template:
    return await _tokens_page(request, access)


@post("/console/{org:str}/tokens", include_in_schema=False, status_code=201)
async def create_token(request: Request[Any, Any, Any], access: NamedDependency[OrgAccess]) -> Template:
    """A new API token of the visitor in this organization, shown once (only its hash is stored)."""
    access.require_editor()
    form = await request.form()
    name = form_text(form, "name") or "script"
    if len(name) > 100:
        return await _tokens_page(
            request, access, status=422, error="a token name has at most 100 characters"
        )
    async with state_of(request).db.tenant(access.principal.org_id) as conn:
        token = await issue_api_token(conn, access.principal, name)
    return await _tokens_page(request, access, status=201, new_token=token, new_name=name)


@post("/console/{org:str}/tokens/{token:str}/revoke", include_in_schema=False, status_code=303)
async def revoke_token(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], token: FromPath[str]
) -> Response[Any]:
    """Revoke one of the visitor's tokens: the next request a script makes with it is refused."""
    async with state_of(request).db.tenant(access.principal.org_id) as conn:
        await revoke_api_token(conn, access.principal, token)
    return see_other(f"/console/{access.membership.slug}/tokens", request)


ORG_ROUTES = [org_page, create_event, tokens_page, create_token, revoke_token]
