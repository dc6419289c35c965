"""One error vocabulary for the appliance, the hub and every client of theirs.

A refusal travels as ``{"code", "message", "details"}``: ``code`` is stable
and meant for programs (a kiosk picks its screen by it), ``message`` is
meant for the person in front of the screen, ``details`` carries what a
program needs to act (a wait, the rejected rows, the roles that would do).

Every code either side may answer is listed once, in :data:`CODES`, with the
HTTP status it travels with; ``docs/api-errors.md`` is written from the same
table and a test holds the two OpenAPI documents to it.  The generic codes
(``unauthorized``, ``forbidden``, ``not_found``, ``invalid``, ``conflict``,
``too_many_attempts``) are the first a client should handle; the specific
ones refine them where a client does something different.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

#: Which app answers a code: the appliance, the hub or both (the table in ``docs/api-errors.md``).
Side = Literal["appliance", "hub", "both"]


@dataclass(frozen=True, slots=True)
class ErrorCode:
    status: int
    meaning: str
    side: Side = "both"


#: Every ``code`` an API of ours answers with, and its HTTP status.
CODES: dict[str, ErrorCode] = {
    # generic: what any client must handle
    "invalid": ErrorCode(
        422, "the request was read, but a value is not acceptable (`details.field` names it when one is)"
    ),
    "bad_request": ErrorCode(
        400,
        "the request cannot be read: not UTF-8 JSON, or not the shape the OpenAPI document describes "
        "(`details.errors`)",
    ),
    "unauthorized": ErrorCode(401, "no credentials, or credentials that are not valid: sign in"),
    "forbidden": ErrorCode(
        403, "signed in, but this role or device may not do this (`details.allowed_roles` when a role would)"
    ),
    "not_found": ErrorCode(404, "no such thing here (or not visible to this organization)"),
    "method_not_allowed": ErrorCode(405, "this path does not take that HTTP method"),
    "conflict": ErrorCode(409, "the request contradicts what is already recorded"),
    "body_too_large": ErrorCode(413, "the request body is over the size this route accepts"),
    "too_many_attempts": ErrorCode(
        429, "too many tries in a short time; wait `retry_after` seconds (also the Retry-After header)"
    ),
    "internal_error": ErrorCode(500, "a bug; the server log has the details"),
    "unavailable": ErrorCode(
        503, "storage is briefly unavailable; nothing was recorded, retry the same request (Retry-After)"
    ),
    "disk_full": ErrorCode(507, "the disk is full; nothing was recorded, retry once space is freed"),
    # sign-in and staff
    "wrong_credentials": ErrorCode(401, "wrong name, e-mail, PIN or password", "both"),
    "token_expired": ErrorCode(401, "the session ended; sign in again", "appliance"),
    "locked": ErrorCode(
        423, "too many wrong PINs: the account is locked for `retry_after` seconds", "appliance"
    ),
    # scans and the desk
    "nonce_reused": ErrorCode(409, "the same nonce was sent before with a different scan", "appliance"),
    "too_late": ErrorCode(
        503,
        "the scan could not be recorded within its deadline (1 s) and was not recorded; send it again"
        " with the same nonce",
        "appliance",
    ),
    "unknown_event": ErrorCode(404, "this appliance does not serve that event", "appliance"),
    "unknown_gate": ErrorCode(422, "the gate is not configured in the event's catalog", "appliance"),
    "unknown_list": ErrorCode(422, "the check-in list is not in the event's catalog", "appliance"),
    "unknown_attendee": ErrorCode(404, "no such attendee in this event", "appliance"),
    "unknown_scan": ErrorCode(404, "no such scan recorded here", "appliance"),
    "already_annulled": ErrorCode(409, "the scan was annulled before", "appliance"),
    "not_annullable": ErrorCode(
        409,
        "the scan cannot be annulled: `details.reason` is not_admitted, annul_window_passed or "
        "not_this_device",
        "appliance",
    ),
    "nfc_in_use": ErrorCode(409, "the NFC tag belongs to another attendee", "appliance"),
    "no_event_key": ErrorCode(409, "this appliance does not hold the event key needed to sign", "appliance"),
    "no_device_key": ErrorCode(
        409, "this appliance has no certified badge key for walk-ins: enrol it with the hub", "appliance"
    ),
    "query_too_short": ErrorCode(422, "the search needs more characters", "appliance"),
    # catalog
    "catalog_rejected": ErrorCode(
        422, "the catalog bundle or file was refused; nothing was imported", "appliance"
    ),
    "import_rejected": ErrorCode(422, "rows were refused; nothing was imported (`details.problems`)", "hub"),
    "no_catalog": ErrorCode(404, "no signed catalog snapshot is held here", "appliance"),
    "tier_limit": ErrorCode(402, "the organization's plan does not allow this", "hub"),
    # the schedule and grassroots sessions
    "schedule_conflict": ErrorCode(
        409,
        "a blocking schedule rule refuses the change (`details.findings`: rule, sessions, sentence); nothing"
        " was written",
    ),
    "schedule_rejected": ErrorCode(
        422, "the schedule file was refused; nothing was imported (`details.problems`: where and why)"
    ),
    "unknown_room": ErrorCode(404, "no such room in the event's schedule"),
    "unknown_session": ErrorCode(404, "no such session in the event's schedule"),
    "unknown_proposal": ErrorCode(404, "no such grassroots proposal in this event"),
    "already_decided": ErrorCode(
        409, "the proposal was decided before (`details.status`); withdraw the approval to decide again"
    ),
    "proposal_refused": ErrorCode(
        422, "the event does not take this proposal now (`details.reason`: closed, limits, disabled)"
    ),
    "badge_refused": ErrorCode(
        422, "the badge does not prove a registered attendee of this event (`details.reason`, as at the door)"
    ),
    "not_host": ErrorCode(403, "only the session's host may change it with their badge"),
    # printing
    "no_printer": ErrorCode(404, "no such printer is configured", "appliance"),
    "not_waiting": ErrorCode(409, "the print job is not waiting any more", "appliance"),
    "not_finished": ErrorCode(409, "the print job has not finished yet", "appliance"),
    # the touch kiosk
    "wrong_code": ErrorCode(
        403, "the pairing code is wrong, expired or used (one answer for all three)", "appliance"
    ),
    "wrong_factor": ErrorCode(
        403, "the second factor does not match this attendee (`details.attempts_left`)", "appliance"
    ),
    "ask_at_desk": ErrorCode(
        429,
        "too many wrong second factors: the kiosk pauses for `details.retry_after_s` s; ask at the desk",
        "appliance",
    ),
    "correction_refused": ErrorCode(
        422,
        "the correction is beyond what a kiosk may change (`details.field`); ask at the desk",
        "appliance",
    ),
}


class KonferencoError(Exception):
    """A refusal with a stable code: raised by services, turned into JSON by either app.

    Subclasses fix a default ``code``; any call may name a more specific one
    from :data:`CODES`.  The status follows from the code, so the same
    refusal has the same status on the appliance and on the hub.
    """

    code: ClassVar[str] = "invalid"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        chosen = code or type(self).code
        if chosen not in CODES:
            raise ValueError(f"error code '{chosen}' is not in konferenco.errors.CODES")
        self.code = chosen  # type: ignore[misc]  # the instance refines the class default
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return CODES[self.code].status

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one JSON shape of a refusal (see the module docstring).

    Until 0.3 the details are also copied to the top level, where clients of
    0.1 read them (``docs/changes.md``); new clients read ``details``.
    """
    extra = details or {}
    return {**extra, "code": code, "message": message, "details": extra}


class Invalid(KonferencoError):
    code = "invalid"


class BadRequest(KonferencoError):
    code = "bad_request"


class Unauthorized(KonferencoError):
    code = "unauthorized"


class Forbidden(KonferencoError):
    code = "forbidden"


class NotFound(KonferencoError):
    code = "not_found"


class Conflict(KonferencoError):
    code = "conflict"


class TooManyAttempts(KonferencoError):
    code = "too_many_attempts"
