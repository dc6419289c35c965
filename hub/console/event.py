"""An event's sections: live dashboard, attendees (search, import), ticket types, duplicates, badge codes.

Each request opens one tenant transaction (``db.tenant``): row-level
security then hides every other organization's rows, so an event id of
another organization is simply "not found" here.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.api.catalog import MAX_IMPORT_BYTES, badge_csv
from hub.catalog import events as event_service
from hub.catalog.roster import ImportRefused, ImportResult, import_attendees
from hub.catalog.search import search
from hub.checkins import dashboard
from hub.console.auth import OrgAccess, is_htmx
from hub.console.render import render, see_other
from hub.devices.enrolment import list_devices
from hub.state import state_of
from hub.tenants import audit
from konferenco.errors import Invalid, KonferencoError
from konferenco.types import now_ms

EVENT = "/console/{org:str}/events/{event:str}"
SEARCH_LIMIT = 50
_MINUTE = 60_000


@asynccontextmanager
async def event_scope(
    request: Request[Any, Any, Any], access: OrgAccess, event_id: str
) -> AsyncIterator[tuple[AsyncConnection, event_service.EventRow]]:
    """A tenant transaction and the event (NotFound if it is not this organization's)."""
    async with state_of(request).db.tenant(access.principal.org_id) as conn:
        yield conn, await event_service.get_event(conn, event_id)


def base_context(access: OrgAccess, event: event_service.EventRow, section: str) -> dict[str, Any]:
    return {
        "access": access,
        "event": event,
        "section": section,
        "event_url": f"/console/{access.membership.slug}/events/{event.id}",
    }


# --- dashboard -------------------------------------------------------------------------


def minute_series(per_minute: list[dict[str, int]], now: int) -> list[dict[str, int]]:
    """The last hour as 60 one-minute slots, empty minutes included, so the chart's x axis is time."""
    counts = {p["minute"]: p["scans"] for p in per_minute}
    last = (now // _MINUTE) * _MINUTE
    return [{"minute": m, "scans": counts.get(m, 0)} for m in range(last - 59 * _MINUTE, last + 1, _MINUTE)]


async def live_figures(conn: AsyncConnection, event: event_service.EventRow) -> dict[str, Any]:
    stats = await dashboard.stats(conn, event.id)
    names = {d.id: d.name for d in await list_devices(conn, event.id)}
    now = now_ms()
    series = minute_series(stats["per_minute"], now)
    busiest = max(series, key=lambda s: s["scans"])
    return {
        "now": now,
        "stats": stats,
        "series": series,
        "series_max": max(busiest["scans"], 1),  # the y axis' top label; 1 on an empty chart
        "series_total": sum(s["scans"] for s in series),
        "busiest": busiest,
        "gate_max": max([g["admitted"] for g in stats["gates"]] + [1]),
        "device_names": names,
    }


@get(EVENT, include_in_schema=False)
async def dashboard_page(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    async with event_scope(request, access, event) as (conn, row):
        live = await live_figures(conn, row)
    return render("event/dashboard.html", {**base_context(access, row, "dashboard"), **live})


@get(f"{EVENT}/dashboard/live", include_in_schema=False)
async def dashboard_live(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    """The figures alone: the dashboard page polls this every 2 s (htmx) and swaps it in."""
    async with event_scope(request, access, event) as (conn, row):
        live = await live_figures(conn, row)
    return render("partials/dashboard_live.html", {**base_context(access, row, "dashboard"), **live})


# --- attendees -------------------------------------------------------------------------


@get(f"{EVENT}/attendees", include_in_schema=False)
async def attendees_page(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    q: Annotated[str, QueryParameter(name="q", max_length=200)] = "",
) -> Template:
    async with event_scope(request, access, event) as (conn, row):
        context = await _attendees_context(conn, access, row, q)
    return render("event/attendees.html", context)


async def _attendees_context(
    conn: AsyncConnection, access: OrgAccess, event: event_service.EventRow, q: str
) -> dict[str, Any]:
    return {
        **base_context(access, event, "attendees"),
        "q": q,
        "attendees": await search(conn, event.id, q, SEARCH_LIMIT),
        "limit": SEARCH_LIMIT,
        "ticket_types": await event_service.ticket_types(conn, event.id),
    }


@get(f"{EVENT}/attendees/search", include_in_schema=False)
async def attendees_search(
    request: Request[Any, Any, Any],
    access: NamedDependency[OrgAccess],
    event: FromPath[str],
    q: Annotated[str, QueryParameter(name="q", max_length=200)] = "",
) -> Template:
    """The result rows for what is typed in the search box (htmx, debounced)."""
    async with event_scope(request, access, event) as (conn, row):
        hits = await search(conn, row.id, q, SEARCH_LIMIT)
        types = await event_service.ticket_types(conn, row.id)
    return render(
        "partials/attendee_rows.html",
        {
            **base_context(access, row, "attendees"),
            "attendees": hits,
            "q": q,
            "limit": SEARCH_LIMIT,
            "ticket_types": types,
        },
    )


def guess_format(filename: str, data: bytes, chosen: str) -> str:
    """CSV or JSON: as chosen, else by the file name, else by the first character."""
    if chosen in ("csv", "json"):
        return chosen
    lower = filename.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"[", b"{") else "csv"


@post(f"{EVENT}/attendees/import", include_in_schema=False, request_max_body_size=MAX_IMPORT_BYTES)
async def attendees_import(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    """Import an uploaded file: the counts, or the per-row report of a refused file (nothing imported)."""
    access.require_editor()
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise Invalid("choose a CSV or JSON file to import")
    data = await upload.read()
    chosen = form.get("format", "auto")
    fmt = guess_format(upload.filename, data, chosen if isinstance(chosen, str) else "auto")
    ticket_type = form.get("ticket_type")
    outcome: dict[str, Any] = {"filename": upload.filename, "format": fmt}
    status = 200
    headers: dict[str, str] = {}
    state = state_of(request)
    row: event_service.EventRow | None = None
    try:
        async with event_scope(request, access, event) as (conn, row):
            result: ImportResult = await import_attendees(
                conn,
                state.sealer,
                access.principal,
                row.id,
                data,
                fmt,
                default_ticket_type=ticket_type if isinstance(ticket_type, str) and ticket_type else None,
            )
            # In the import's own transaction: the trail shows it if and only if the rows were written.
            details = {"rows": result.rows, "added": result.added, "updated": result.updated}
            await audit.record(
                conn, access.principal, "catalog.import", upload.filename, event_id=row.id, details=details
            )
        outcome["result"] = result
        headers["HX-Trigger"] = "attendees-changed"  # the search results below refresh themselves
    except ImportRefused as exc:
        # Each kind of problem once ("1,204 rows: ticket_type: …"), then every line for reference.
        outcome["refused"] = {"message": exc.message, **exc.details, "groups": exc.groups}
        status = exc.status
    assert row is not None  # get_event succeeded, or its NotFound went past the except
    if is_htmx(request):
        return render(
            "partials/import_result.html",
            {**base_context(access, row, "attendees"), "outcome": outcome},
            status=status,
            headers=headers,
        )
    async with event_scope(request, access, event) as (conn, row):
        context = await _attendees_context(conn, access, row, "")
    return render("event/attendees.html", {**context, "outcome": outcome}, status=status)


# --- ticket types ----------------------------------------------------------------------


def type_id_from(name: str) -> str:
    """A ticket type id derived from its name when none is typed ("Speaker pass" → ``speaker-pass``)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]


async def _ticket_types_page(
    request: Request[Any, Any, Any],
    access: OrgAccess,
    event: str,
    *,
    status: int = 200,
    **extra: Any,
) -> Template:
    async with event_scope(request, access, event) as (conn, row):
        types = await event_service.ticket_types(conn, row.id)
    context = {
        **base_context(access, row, "ticket_types"),
        "ticket_types": types,
        "form": {"id": "", "name": ""},
    }
    return render("event/ticket_types.html", {**context, **extra}, status=status)


@get(f"{EVENT}/ticket-types", include_in_schema=False)
async def ticket_types_page(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    return await _ticket_types_page(request, access, event)


@post(f"{EVENT}/ticket-types", include_in_schema=False, status_code=303)
async def ticket_type_add(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[Any]:
    access.require_editor()
    form = await request.form()
    typed = {k: v.strip() if isinstance(v := form.get(k, ""), str) else "" for k in ("id", "name")}
    type_id = typed["id"] or type_id_from(typed["name"])
    try:
        async with event_scope(request, access, event) as (conn, row):
            await event_service.add_ticket_type(conn, access.principal, row.id, type_id, typed["name"])
    except KonferencoError as exc:
        if exc.status in (403, 404):
            raise
        return await _ticket_types_page(
            request, access, event, status=exc.status, form=typed, error=exc.message
        )
    return see_other(f"/console/{access.membership.slug}/events/{event}/ticket-types", request)


# --- duplicates and badge codes --------------------------------------------------------


@get(f"{EVENT}/duplicates", include_in_schema=False)
async def duplicates_page(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Template:
    async with event_scope(request, access, event) as (conn, row):
        found = await dashboard.duplicates(conn, row.id)
        names = {d.id: d.name for d in await list_devices(conn, row.id)}
    return render(
        "event/duplicates.html",
        {**base_context(access, row, "duplicates"), "duplicates": found, "device_names": names},
    )


@get(f"{EVENT}/badges.csv", include_in_schema=False)
async def badges_csv(
    request: Request[Any, Any, Any], access: NamedDependency[OrgAccess], event: FromPath[str]
) -> Response[str]:
    """Every attendee's badge code, for printing badges elsewhere (same file as the API's)."""
    async with event_scope(request, access, event) as (conn, row):
        body = await badge_csv(conn, row.id)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{row.id}-badges.csv"',
            "Cache-Control": "no-store",
        },
    )


EVENT_ROUTES = [
    dashboard_page,
    dashboard_live,
    attendees_page,
    attendees_search,
    attendees_import,
    ticket_types_page,
    ticket_type_add,
    duplicates_page,
    badges_csv,
]
