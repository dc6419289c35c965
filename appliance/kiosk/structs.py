"""The kiosk API's bodies (``/api/v1/kiosk/*``): what kiosk_ui and other clients send and get back."""

from __future__ import annotations

from typing import Annotated

import msgspec

from appliance.checkin.structs import ScanAnswer
from appliance.grassroots.proof import BadgeProof
from appliance.printing.queue import PrintJob

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
Nonce = Annotated[str, msgspec.Meta(min_length=8, max_length=58, pattern=r"^[A-Za-z0-9_.:-]+\Z")]


class EventView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    timezone: str


class PrinterView(msgspec.Struct, kw_only=True):
    id: str
    name: str
    ready: bool
    state: str
    detail: str


class KioskSettingsView(msgspec.Struct, kw_only=True):
    idle_timeout_s: int
    extend_s: int
    corrections: list[str]
    #: Organizer texts: one for every language, or one per language code; "" for the kiosk's own.
    pickup: str | dict[str, str]
    next_steps: str | dict[str, str]
    proposals_open: bool


class KioskStatus(msgspec.Struct, kw_only=True):
    event: EventView
    printers: list[PrinterView]
    can_print: bool
    settings: KioskSettingsView


class PairingCodeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] = "Kiosk"


class PairingCode(msgspec.Struct, kw_only=True):
    code: str
    name: str
    expires_at: int


class PairRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class Paired(msgspec.Struct, kw_only=True):
    token: str
    name: str
    role: str
    expires_at: int


class IdentifyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    badge: BadgeProof


class KioskAttendee(msgspec.Struct, kw_only=True):
    id: str
    name: str
    company: str
    ticket_type: str


class Identified(msgspec.Struct, kw_only=True):
    grant: str
    attendee: KioskAttendee
    printed_before: bool
    checked_in: bool


class LookupHit(msgspec.Struct, kw_only=True):
    ref: str
    name: str
    company: str


class LookupAnswer(msgspec.Struct, kw_only=True):
    results: list[LookupHit]
    more: bool


class VerifyRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ref: Token
    factor: Annotated[str, msgspec.Meta(min_length=1, max_length=254)]


class CorrectionRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    grant: Token
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    company: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class CheckinRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    grant: Token
    #: The kiosk's idempotency key for this attendee's check-in: a retry with it never prints twice.
    nonce: Nonce
    printer: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class NextSession(msgspec.Struct, kw_only=True):
    title: str
    room: str
    starts_at: int


class CheckinAnswer(msgspec.Struct, kw_only=True):
    scan: ScanAnswer
    job: PrintJob | None
    pickup: str | dict[str, str]
    next: list[NextSession]
