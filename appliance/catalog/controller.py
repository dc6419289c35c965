"""The catalog on this box: apply a signed bundle from the hub, hand the newest one to a peer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, get, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery
from litestar.response import File

from appliance.catalog.importer import ImportRejected, import_bundle
from appliance.catalog.roster import CatalogConflict
from appliance.config import DataDir, EventScope
from appliance.staff.guard import roles
from appliance.staff.service import StaffRole
from konferenco.catalog.bundle import BundleError
from konferenco.errors import Invalid, NotFound
from sync.sqlite_writer import SQLiteWriter

#: A 180,000-attendee snapshot with badge codes is ~75 MB.
MAX_BUNDLE = 512 * 1024 * 1024


@put(
    "/api/v1/catalog",
    summary="Apply a signed catalog bundle (snapshot or delta), all or nothing",
    description="The body is the bundle file as the hub serves it. Rejected rows are listed in `problems`.",
    tags=["catalog"],
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
    request_max_body_size=MAX_BUNDLE,
)
async def put_catalog(
    request: Request[Any, Any, Any],
    datadir: NamedDependency[DataDir],
    writer: NamedDependency[SQLiteWriter],
    events: NamedDependency[EventScope],
    catalog_changed: NamedDependency[Callable[[], None]],
    event: FromQuery[str | None] = None,
) -> dict[str, Any]:
    event_id = events.resolve(event)
    raw = await request.body()
    try:
        report = await import_bundle(datadir, writer, raw, event_id)
    except ImportRejected as exc:
        problems = [{"position": p.line, "field": p.field, "message": p.message} for p in exc.report.problems]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise Invalid(
            f"{count} in the bundle; nothing was imported", code="catalog_rejected", problems=problems
        ) from None
    except (BundleError, CatalogConflict) as exc:
        raise Invalid(str(exc), code="catalog_rejected") from None
    catalog_changed()  # the door sees the new roster and keys at once
    result = report.result
    assert result is not None
    return {
        "event": event_id,
        "revision": result.revision,
        "added": result.added,
        "updated": result.updated,
        "removed": result.removed,
    }


@get(
    "/api/v1/catalog",
    summary="The newest signed catalog snapshot held here (for a peer appliance to verify and import)",
    tags=["catalog"],
    opt=roles(StaffRole.ORGANIZER),
    media_type="application/json",
    # The file is sent as it is, but it is a JSON object, not the octet stream a File implies.
    responses={200: ResponseSpec(data_container=dict[str, Any], description="the signed catalog bundle")},
)
async def get_catalog(
    datadir: NamedDependency[DataDir],
    events: NamedDependency[EventScope],
    event: FromQuery[str | None] = None,
) -> File:
    path = datadir.relay_bundle(events.resolve(event))
    if not path.exists():
        raise NotFound("no signed catalog snapshot has been imported here", code="no_catalog")
    return File(path, media_type="application/json", content_disposition_type="inline")


ROUTES = [put_catalog, get_catalog]
