"""The touch kiosk's API (``/api/v1/kiosk/*``): thin handlers over the kiosk service.

The kiosk's staff id (from its paired token) is the "who" of everything it
does: grants name it, corrections and scans record it.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from appliance.kiosk.service import KioskService
from appliance.kiosk.structs import (
    CheckinAnswer,
    CheckinRequest,
    CorrectionRequest,
    Identified,
    IdentifyRequest,
    KioskStatus,
    LookupAnswer,
    Paired,
    PairingCode,
    PairingCodeRequest,
    PairRequest,
    VerifyRequest,
)
from appliance.staff.guard import roles, staff_of
from appliance.staff.service import StaffRole

KIOSK = roles(StaffRole.KIOSK)
TAGS = ["kiosk"]


@get(
    "/api/v1/kiosk/status",
    summary="What the kiosk shows before it asks anything: event, printers (read now), settings",
    tags=TAGS,
    opt=roles(StaffRole.KIOSK, StaffRole.DESK),
)
async def kiosk_status(kiosk: NamedDependency[KioskService]) -> KioskStatus:
    return await kiosk.status()


@post(
    "/api/v1/kiosk/pairing-codes",
    summary="A 6-digit code to pair a kiosk (single use, 10 minutes)",
    tags=TAGS,
    status_code=201,
    opt=roles(StaffRole.DESK),
)
async def create_pairing_code(
    data: JSONBody[PairingCodeRequest], kiosk: NamedDependency[KioskService]
) -> PairingCode:
    return await kiosk.pairing_code(data.name)


@post(
    "/api/v1/kiosk/pair",
    summary="Exchange a pairing code for the kiosk's token (role kiosk, 30 days)",
    description="Wrong, expired and used codes get the same answer (`wrong_code`); five wrong codes from "
    "one address in 10 minutes lock it (`locked`, `details.retry_after_s`).",
    tags=TAGS,
    status_code=200,
)
async def pair(
    request: Request[Any, Any, Any], data: JSONBody[PairRequest], kiosk: NamedDependency[KioskService]
) -> Paired:
    address = request.client.host if request.client else ""
    return await kiosk.pair(data.code, address)


@post(
    "/api/v1/kiosk/identify",
    summary="Who this badge is, checked as the door checks it; nothing is recorded",
    tags=TAGS,
    status_code=200,
    opt=KIOSK,
)
async def identify(
    request: Request[Any, Any, Any], data: JSONBody[IdentifyRequest], kiosk: NamedDependency[KioskService]
) -> Identified:
    return await kiosk.identify(staff_of(request).sub, data.badge)


@get(
    "/api/v1/kiosk/lookup",
    summary="Find yourself by name: at most 8 results, initials and company only",
    tags=TAGS,
    opt=KIOSK,
)
async def lookup(
    request: Request[Any, Any, Any],
    kiosk: NamedDependency[KioskService],
    q: Annotated[str, QueryParameter(max_length=200)],
) -> LookupAnswer:
    return await kiosk.lookup(staff_of(request).sub, q)


@post(
    "/api/v1/kiosk/lookup/verify",
    summary="Prove a search result is you: the order code's last 4 characters or the e-mail's domain",
    tags=TAGS,
    status_code=200,
    opt=KIOSK,
)
async def verify(
    request: Request[Any, Any, Any], data: JSONBody[VerifyRequest], kiosk: NamedDependency[KioskService]
) -> Identified:
    return await kiosk.verify(staff_of(request).sub, data.ref, data.factor)


@get(
    "/api/v1/kiosk/badge.png",
    summary="The badge as it will print (same layout and paper width as the printer)",
    tags=TAGS,
    media_type="image/png",
    opt=KIOSK,
)
async def badge_png(
    request: Request[Any, Any, Any],
    kiosk: NamedDependency[KioskService],
    grant: Annotated[str, QueryParameter(max_length=4096)],
) -> Response[bytes]:
    png = await kiosk.badge_png(staff_of(request).sub, grant)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@post(
    "/api/v1/kiosk/corrections",
    summary="Correct the name (a spelling fix) or the company, recorded as the desk's correction",
    tags=TAGS,
    status_code=200,
    opt=KIOSK,
)
async def corrections(
    request: Request[Any, Any, Any], data: JSONBody[CorrectionRequest], kiosk: NamedDependency[KioskService]
) -> Identified:
    return await kiosk.correct(staff_of(request).sub, data.grant, data.name, data.company)


@post(
    "/api/v1/kiosk/checkins",
    summary="Check in and print the badge; a retry with the same nonce never prints twice",
    tags=TAGS,
    status_code=200,
    opt=KIOSK,
)
async def checkins(
    request: Request[Any, Any, Any], data: JSONBody[CheckinRequest], kiosk: NamedDependency[KioskService]
) -> CheckinAnswer:
    return await kiosk.check_in(staff_of(request).sub, data.grant, data.nonce, data.printer)


ROUTES = [kiosk_status, create_pairing_code, pair, identify, lookup, verify, badge_png, corrections, checkins]
