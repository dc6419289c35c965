"""Scans, undo, duplicates and live figures."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from appliance.checkin import figures
from appliance.checkin.door import Door
from appliance.checkin.service import CheckinService
from appliance.checkin.structs import ScanAnswer, ScanRequest
from appliance.config import EventScope
from appliance.read_pool import ReadPool
from appliance.staff.guard import ALL_ROLES, roles, staff_of
from appliance.staff.service import StaffRole

DOOR = (StaffRole.DOOR, StaffRole.DESK, StaffRole.KIOSK)


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


ROUTES = [post_scan, annul_scan, get_duplicates, get_stats]
