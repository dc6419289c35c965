"""Who is proposing: an attendee proven by their badge, checked exactly as the door checks it.

The issue's rule: the proposer must be a registered attendee of this event,
proven by a badge scan, never by a typed name.  So the badge goes through the
door's own identification (signature and event, or the NFC tag's holder;
revocations) and the door's own decision for the badge itself (cancelled
ticket, validity window), with a list that admits everyone: what a gate adds
(ticket types, hours, re-entry, capacity) is about a room, not about a person.
Nothing is recorded: proving who someone is, is not a check-in.

A refusal carries the door's result and its sentence (``details.reason``),
so the kiosk says what the door would have said.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgspec

from appliance.checkin.decide import Context, decide
from appliance.checkin.history import NOT_IN_ROSTER
from appliance.checkin.service import CheckinService
from appliance.checkin.structs import ScanRequest
from konferenco.errors import KonferencoError
from konferenco.rules import CheckinList
from konferenco.types import now_ms

#: The door's decision with nothing a gate adds: who the badge is, and whether it is valid now.
_ANYONE = CheckinList(id="grassroots", name="Grassroots", reentry="multiple")


class BadgeProof(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A badge presented at a kiosk or desk: exactly one of ``code`` (the QR text) and ``nfc_uid``."""

    code: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)] | None = None
    nfc_uid: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] | None = None


@dataclass(frozen=True, slots=True)
class Attendee:
    """The attendee a badge proved: id and name as the roster has them."""

    id: str
    name: str


def badge_refused(result: str, reason: str, **window: int) -> KonferencoError:
    """The door's refusal; ``window`` (``valid_from``/``valid_until``, ms) lets a kiosk name the day."""
    return KonferencoError(reason, code="badge_refused", reason=reason, result=result, **window)


def prove(checkin: CheckinService, event: str, badge: BadgeProof) -> Attendee:
    """The registered attendee of ``event`` this badge belongs to, or ``badge_refused`` saying why."""
    if (badge.code is None) == (badge.nfc_uid is None):
        raise KonferencoError(
            "send exactly one of 'badge.code' (QR text) and 'badge.nfc_uid'", code="invalid", field="badge"
        )
    catalog = checkin.catalog_cache.event(event)
    # The door's identification itself (signature, event, tag holder, revocations): one code path,
    # one set of sentences.  The gate and nonce are not read by it.
    request = ScanRequest(nonce="grassroots", gate="grassroots", code=badge.code, nfc_uid=badge.nfc_uid)
    who = checkin.identify(event, catalog, request)
    if who.verdict is not None:
        raise badge_refused(who.verdict.result, who.verdict.reason)
    presented = who.presented
    assert presented is not None
    verdict = decide(
        "entry",
        presented,
        Context(now=now_ms(), tz=catalog.timezone, checkin_list=_ANYONE, revoked=who.revoked),
    )
    if not verdict.admitted:
        window = {}
        if presented.valid_from:
            window["valid_from"] = presented.valid_from * 1000
        if presented.valid_until:
            window["valid_until"] = presented.valid_until * 1000
        raise badge_refused(verdict.result, verdict.reason, **window)
    if presented.name == NOT_IN_ROSTER:
        raise badge_refused(
            "unknown_badge",
            "This badge is genuine, but its attendee is not in this appliance's roster yet; "
            "try again in a minute or ask at the desk.",
        )
    return Attendee(presented.attendee_id, presented.name)
