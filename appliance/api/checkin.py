"""Scans, undo, duplicates and live figures."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import File

from appliance.api.auth import ALL_ROLES, roles, staff_of
from appliance.box import Box, EventScope
from appliance.catalog.importer import ImportRejected, import_bundle
from appliance.catalog.roster import CatalogConflict
from appliance.checkin import figures
from appliance.checkin.service import CheckinError, CheckinService
from appliance.checkin.structs import ScanAnswer, ScanRequest
from appliance.desk import Desk, RevokeRequest
from appliance.door import Door
from appliance.read_pool import ReadPool
from appliance.staff import StaffRole
from konferenco.catalog.bundle import BundleError

DOOR = (StaffRole.DOOR, StaffRole.DESK, StaffRole.KIOSK)
#: A 180,000-attendee snapshot with badge codes is ~75 MB.
MAX_BUNDLE = 512 * 1024 * 1024


@post(
    "/api/v1/scans",
    summary="Decide and record one badge scan (idempotent by nonce)",
    description=(
        "Send exactly one of `code` (the QR text) and `nfc_uid`. Every scan, admitted or not, is "
        "recorded before the answer is sent. A retry with the same nonce returns the first answer "
        "(`replayed: true`); the same nonce with a different body is refused with `nonce_reused`."
    ),
    tags=["check-in"],
    status_code=200,
    opt=roles(*DOOR),
)
async def post_scan(
    request: Request[Any, Any, Any], data: JSONBody[ScanRequest], door: NamedDependency[Door]
) -> ScanAnswer:
    return await door.scan(data, staff_of(request).sub)


class AnnulRequest(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class Annulled(msgspec.Struct):
    scan_id: str
    annulment_id: str
    at: int


@post(
    "/api/v1/scans/{scan_id:str}/annul",
    summary="Undo a check-in made here in the last 15 minutes (the scan stays recorded)",
    tags=["check-in"],
    status_code=200,
    opt=roles(StaffRole.DOOR, StaffRole.DESK),
)
async def annul_scan(
    request: Request[Any, Any, Any],
    scan_id: FromPath[str],
    checkin: NamedDependency[CheckinService],
    data: JSONBody[AnnulRequest | None] = None,
) -> Annulled:
    reason = data.reason if data is not None else ""
    record = await checkin.annul(scan_id, reason, staff_of(request).sub)
    return Annulled(scan_id, record.id, record.at)


@get(
    "/api/v1/duplicates",
    summary="Badges admitted on two devices while they could not see each other",
    tags=["check-in"],
    opt=roles(StaffRole.DOOR, StaffRole.DESK),
)
async def get_duplicates(
    events: NamedDependency[EventScope], reads: NamedDependency[ReadPool], event: FromQuery[str | None] = None
) -> dict[str, Any]:
    event_id = events.resolve(event)
    async with reads.connection() as conn:
        found = await figures.duplicates(conn, event_id)
    return {"event": event_id, "count": len(found), "duplicates": found}


@get("/api/v1/stats", summary="Live check-in figures", tags=["check-in"], opt=roles(*ALL_ROLES))
async def get_stats(
    events: NamedDependency[EventScope], reads: NamedDependency[ReadPool], event: FromQuery[str | None] = None
) -> dict[str, Any]:
    async with reads.connection() as conn:
        return await figures.stats(conn, events.resolve(event))


class Revoked(msgspec.Struct):
    id: str
    target: str
    value: str
    at: int


@post(
    "/api/v1/revocations",
    summary="Revoke a badge (attendee:serial), an attendee or a signing key, on every appliance",
    tags=["check-in"],
    status_code=200,
    opt=roles(StaffRole.ORGANIZER),
)
async def revoke(
    request: Request[Any, Any, Any],
    data: JSONBody[RevokeRequest],
    desk: NamedDependency[Desk],
    events: NamedDependency[EventScope],
) -> Revoked:
    record = await desk.revoke(events.resolve(data.event), data, staff_of(request).sub)
    return Revoked(record.id, record.target, record.value, record.at)


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
    box: NamedDependency[Box],
    event: FromQuery[str | None] = None,
) -> dict[str, Any]:
    event_id = box.events.resolve(event)
    raw = await request.body()
    try:
        report = await import_bundle(box.data, box.writer, raw, event_id)
    except ImportRejected as exc:
        problems = [{"position": p.line, "field": p.field, "message": p.message} for p in exc.report.problems]
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise CheckinError(
            "catalog_rejected", f"{count} in the bundle; nothing was imported", problems=problems
        ) from None
    except (BundleError, CatalogConflict) as exc:
        raise CheckinError("catalog_rejected", str(exc)) from None
    box.checkin.catalog_cache.invalidate()
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
)
async def get_catalog(box: NamedDependency[Box], event: FromQuery[str | None] = None) -> File:
    path = box.data.relay_bundle(box.events.resolve(event))
    if not path.exists():
        raise CheckinError("no_catalog", "no signed catalog snapshot has been imported here")
    return File(path, media_type="application/json", content_disposition_type="inline")


ROUTES = [post_scan, annul_scan, get_duplicates, get_stats, revoke, put_catalog, get_catalog]
