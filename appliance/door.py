"""One scan path for every input: the API, a keyboard-wedge scanner, an NFC reader.

``scan_at_door`` decides and records a scan exactly as ``POST /api/v1/scans``
does (the same :class:`~appliance.checkin.service.CheckinService`), then does
what the gate is set up to do after an admission: print the attendee's
badge on the gate's printer, once per attendee ever (``auto_print``).  A
printer problem never changes the door's answer: the job waits in the
durable queue and staff see why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from appliance.checkin.service import ScanAnswer, ScanRequest
from appliance.printing.queue import PrintError

if TYPE_CHECKING:
    from appliance.api.state import ApplianceState

log = logging.getLogger(__name__)


async def scan_at_door(state: ApplianceState, request: ScanRequest, staff: str) -> ScanAnswer:
    answer = await state.checkin.scan(request, staff)
    if (
        answer.result == "admitted"
        and not answer.replayed
        and answer.direction == "entry"
        and answer.attendee is not None
        and state.prints is not None
    ):
        printer = state.config.auto_print.get(answer.gate)
        if printer is not None:
            try:
                await state.prints.enqueue(state.event(request.event), answer.attendee.id, printer, "auto")
            except PrintError as exc:
                log.error("badge of %s not queued at %s: %s", answer.attendee.id, answer.gate, exc.message)
    return answer
