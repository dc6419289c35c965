"""Schedule files over HTTP: ``POST /api/v1/schedule/import`` and the exports at stable URLs.

The exports are public (a conference app, a calendar or a signage player
fetches them without an account) and cacheable: ``ETag`` is a hash of the
body and ``Cache-Control: no-cache`` asks clients to revalidate, so a
calendar polling every minute gets ``304 Not Modified`` until the schedule
really changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIFormat, OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromQuery, QueryParameter

from appliance.config import EventScope
from appliance.schedule.service import ScheduleService
from appliance.schedule.transfer import (
    MAX_UPLOAD,
    ExportKind,
    ImportOutcome,
    export,
    import_schedule,
    not_modified,
)
from appliance.staff.guard import roles, staff_of
from appliance.staff.service import StaffRole
from konferenco.errors import KonferencoError

TAGS = ["schedule"]
_IMPORT = "POST /api/v1/schedule/import"

ROUTE_ERRORS: dict[str, tuple[str, ...]] = {
    _IMPORT: ("token_expired", "unknown_event", "schedule_rejected", "schedule_conflict"),
    "GET /api/v1/schedule.ics": ("unknown_event", "unknown_room"),
    "GET /api/v1/schedule.xml": ("unknown_event",),
    "GET /api/v1/schedule.json": ("unknown_event",),
}


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _too_large(size: int | None) -> KonferencoError:
    said = f" (this one is {_megabytes(size)})" if size is not None else ""
    return KonferencoError(
        f"a schedule file may be at most {MAX_UPLOAD // (1024 * 1024)} MB{said}; nothing was imported",
        code="body_too_large",
        limit=MAX_UPLOAD,
        size=size,
    )


@dataclass
class _FileUpload(Operation):
    """The import's request body in the OpenAPI document: the file's bytes, JSON or XML."""

    def __post_init__(self) -> None:
        binary = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))
        self.request_body = RequestBody(
            content={"application/json": binary, "application/xml": binary, "text/xml": binary},
            description=f"The schedule file itself (at most {MAX_UPLOAD // (1024 * 1024)} MB).",
            required=True,
        )


@post(
    "/api/v1/schedule/import",
    summary="Import a pretalx or frab schedule (schedule JSON or frab schedule.xml), all or nothing",
    description=(
        "The body is the file (at most 20 MB; more is `413 body_too_large` and nothing is read). "
        "Rooms and sessions are created or updated by the stable ids of the file; nothing that is not "
        "in the file is removed. A file that cannot be read whole is `422 schedule_rejected` with "
        "every problem (`details.problems`: where, line, source id, reason); a result that breaks a "
        "blocking rule is `409 schedule_conflict` with every finding. Either way nothing is written. "
        "`dry_run=true` answers the same without writing. `filename` helps tell the format. "
        "`approve_overlaps=REASON` approves, for the whole file, the room overlaps among its own "
        "sessions (recorded on each with the staff member and the reason), as real programmes "
        "double-book on purpose; overlaps with sessions already here still refuse."
    ),
    tags=TAGS,
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
    request_max_body_size=MAX_UPLOAD,
    operation_class=_FileUpload,
)
async def post_import(
    request: Request[Any, Any, Any],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    dry_run: FromQuery[bool] = False,
    filename: Annotated[str | None, QueryParameter(max_length=255)] = None,
    approve_overlaps: Annotated[str | None, QueryParameter(min_length=1, max_length=500)] = None,
    event: FromQuery[str | None] = None,
) -> ImportOutcome:
    event_id = events.resolve(event)
    if request.content_length is not None and request.content_length > MAX_UPLOAD:
        raise _too_large(request.content_length)
    try:
        data = await request.body()
    except HTTPException as exc:
        if exc.status_code == 413:
            raise _too_large(None) from None
        raise
    return await import_schedule(
        schedule, event_id, data, filename, dry_run=dry_run,
        by=staff_of(request).name, overlap_reason=approve_overlaps,
    )  # fmt: skip


async def _export(
    request: Request[Any, Any, Any],
    schedule: ScheduleService,
    event_id: str,
    kind: ExportKind,
    *,
    room: str | None = None,
    speaker: str | None = None,
) -> Response[bytes]:
    made = await export(schedule, event_id, kind, room=room, speaker=speaker)
    headers = {"ETag": made.etag, "Cache-Control": "no-cache"}
    if not_modified(request.headers.get("if-none-match"), made.etag):
        return Response(b"", status_code=304, headers=headers, media_type=made.media_type)
    return Response(made.body, headers=headers, media_type=made.media_type)


#: The answer to a client that already has this version (``If-None-Match``).
_NOT_MODIFIED = ResponseSpec(
    data_container=None, description="Not Modified: the `ETag` sent in `If-None-Match` is still current"
)
_CACHED = (
    " Public. `ETag` is a hash of the body; send it back in `If-None-Match` to get `304 Not Modified` "
    "until the schedule changes (`Cache-Control: no-cache`: revalidate every time)."
)


@get(
    "/api/v1/schedule.ics",
    summary="The schedule as iCalendar (RFC 5545), for the event, one room or one speaker",
    description="Every scheduled session, grassroots ones included, with times in the event's time zone."
    + _CACHED,
    tags=TAGS,
    media_type="text/calendar",
    responses={304: _NOT_MODIFIED},
)
async def get_ics(
    request: Request[Any, Any, Any],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    room: Annotated[str | None, QueryParameter(max_length=64)] = None,
    speaker: Annotated[str | None, QueryParameter(max_length=120)] = None,
    event: FromQuery[str | None] = None,
) -> Response[bytes]:
    event_id = events.resolve(event)
    if room is not None:
        await schedule.room(event_id, room)  # 404 unknown_room, not an empty calendar
    return await _export(request, schedule, event_id, "ics", room=room, speaker=speaker)


@get(
    "/api/v1/schedule.xml",
    summary="The schedule as frab schedule.xml (valid against its XSD)",
    description="Every scheduled session, grassroots ones included." + _CACHED,
    tags=TAGS,
    media_type="application/xml",
    responses={304: _NOT_MODIFIED},
)
async def get_xml(
    request: Request[Any, Any, Any],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: FromQuery[str | None] = None,
) -> Response[bytes]:
    return await _export(request, schedule, events.resolve(event), "xml")


@get(
    "/api/v1/schedule.json",
    summary="The schedule as schedule JSON (the format pretalx and frab export)",
    description="Every scheduled session, grassroots ones included." + _CACHED,
    tags=TAGS,
    media_type="application/json",
    responses={
        304: _NOT_MODIFIED,
        200: ResponseSpec(
            data_container=dict[str, Any],
            media_type="application/json",
            description="The schedule JSON (schema: https://c3voc.de/schedule/schema.json)",
            generate_examples=False,
        ),
    },
)
async def get_json(
    request: Request[Any, Any, Any],
    events: NamedDependency[EventScope],
    schedule: NamedDependency[ScheduleService],
    event: FromQuery[str | None] = None,
) -> Response[bytes]:
    return await _export(request, schedule, events.resolve(event), "json")


ROUTES = [post_import, get_ics, get_xml, get_json]
