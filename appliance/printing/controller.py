"""The print queue as staff work it: jobs, reprints, cancels."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from appliance.config import EventScope
from appliance.printing.queue import PrintError, PrintJob, PrintQueue
from appliance.staff.guard import ALL_ROLES, roles
from appliance.staff.service import StaffRole


class PrintRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    attendee_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    printer: str | None = None  # default: the first printer configured
    event: str | None = None


class ReprintRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the badge is printed again; kept with the new job (``GET /api/v1/print-jobs``)."""

    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""


def _queue(prints: NamedDependency[PrintQueue]) -> PrintQueue:
    if not prints.printers:
        raise PrintError("no_printer", "no printer is configured on this appliance")
    return prints


#: Who may print and reprint badges (a kiosk prints the badge of the person in front of it).
DESK = (StaffRole.DESK, StaffRole.KIOSK, StaffRole.ORGANIZER)


@get("/api/v1/print-jobs", summary="Badge print jobs, newest first", tags=["printing"], opt=roles(*ALL_ROLES))
async def list_print_jobs(
    prints: NamedDependency[PrintQueue], status: FromQuery[str | None] = None
) -> list[PrintJob]:
    return _queue(prints).jobs(status)


@post(
    "/api/v1/print-jobs",
    summary="Print an attendee's badge",
    tags=["printing"],
    status_code=202,
    opt=roles(*DESK),
)
async def create_print_job(
    data: JSONBody[PrintRequest],
    prints: NamedDependency[PrintQueue],
    events: NamedDependency[EventScope],
) -> PrintJob:
    queue = _queue(prints)
    event = events.resolve(data.event)
    printer = data.printer or next(iter(queue.printers))
    job = await queue.enqueue(event, data.attendee_id, printer, "request")
    assert job is not None
    return job


@post(
    "/api/v1/print-jobs/{job_id:str}/reprint",
    summary="Print a finished job's badge again (a new job), with the reason staff give",
    tags=["printing"],
    status_code=202,
    opt=roles(*DESK),
)
async def reprint(
    job_id: FromPath[str],
    prints: NamedDependency[PrintQueue],
    data: JSONBody[ReprintRequest | None] = None,
) -> PrintJob:
    reason = data.reason.strip() if data is not None else ""
    return await _queue(prints).reprint(job_id, reason)


@post(
    "/api/v1/print-jobs/{job_id:str}/cancel",
    summary="Cancel a job that is still waiting",
    tags=["printing"],
    status_code=200,
    opt=roles(*DESK),
)
async def cancel(job_id: FromPath[str], prints: NamedDependency[PrintQueue]) -> PrintJob:
    return await _queue(prints).cancel(job_id)


@get(
    "/api/v1/print-jobs/{job_id:str}",
    summary="One print job: its status and the printer's reason (e.g. out of paper)",
    tags=["printing"],
    opt=roles(*ALL_ROLES),
)
async def get_print_job(job_id: FromPath[str], prints: NamedDependency[PrintQueue]) -> PrintJob:
    return prints.job(job_id)


ROUTES = [list_print_jobs, create_print_job, reprint, cancel, get_print_job]
