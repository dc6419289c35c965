"""What goes in and out of the door: a scan request, its answer, the attendee as the door shows them.

Typed with msgspec: the API validates requests against these and the
OpenAPI document describes them, so a scanner vendor reads the contract
here or at ``/schema``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from sync.records import ScanResult

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]


class ScanRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One badge presented at a gate.  Exactly one of ``code`` and ``nfc_uid``."""

    nonce: Id
    gate: Id
    code: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    nfc_uid: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    device_time: Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)] | None = None
    direction: Literal["entry", "exit"] = "entry"
    list: Id | None = None
    event: Id | None = None  # default: the appliance's first event


class AttendeeView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    company: str = ""
    ticket_type_id: str = ""
    ticket_type: str = ""


class FirstAdmitted(msgspec.Struct, kw_only=True):
    at: int
    gate: str
    device_id: str


class ScanAnswer(msgspec.Struct, kw_only=True):
    scan_id: str
    result: ScanResult
    reason: str
    attendee: AttendeeView | None
    first_admitted: FirstAdmitted | None
    list: str
    gate: str
    direction: Literal["entry", "exit"]
    at: int
    rule: str | None = None
    replayed: bool = False
