"""Scans in, verdicts out: the check-in path from request to durable log record.

For one scan: identify the person (badge signature or NFC tag), gather the
state the decision needs (admitted history on this list, revocations,
room occupancy), decide (a pure function), append the scan — admitted or
not — to this device's log, and answer only once that append is durable:
the update and its projection commit in one SQLite transaction
(DESIGN.md §2), so an acknowledged scan survives ``kill -9``.

Concurrency: scans of *different* attendees run in parallel and share
group commits; scans of the *same* attendee are serialised by a per-attendee
lock held until the write is durable, so two lanes cannot both admit one
badge.  Entries in flight count towards room occupancy.  A retried nonce
waits for, or replays, the first answer.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import msgspec

from appliance.checkin.catalog_cache import CatalogCache, EventCatalog
from appliance.checkin.decide import Context, Presented, PriorScan, Verdict, decide
from appliance.checkin.history import NOT_IN_ROSTER, CheckinHistory
from appliance.checkin.structs import AttendeeView, FirstAdmitted, ScanAnswer, ScanRequest
from appliance.config import EventScope
from konferenco.badges import BadgeError, verify
from konferenco.errors import KonferencoError
from konferenco.types import nfc_uid, now_ms
from sync.records import Annulment, Scan
from sync.replica import Replica

#: How long staff may undo a check-in (pretix's annul window).
ANNUL_WINDOW_MS = 15 * 60 * 1000
#: A scan is recorded within this many seconds of arriving, or refused unrecorded (``too_late``).
SCAN_DEADLINE_S = 1.0
_NFC = re.compile(r"^([0-9A-F]{2}){4,10}\Z")


class CheckinError(KonferencoError):
    """A request the service refuses before deciding anything (nothing is written).

    ``code`` is one of :data:`konferenco.errors.CODES`, which fixes the HTTP status; ``details``
    are what the client needs to act (e.g. an import's problems).  ``status`` is ignored: it is
    accepted only so that call sites written before the shared vocabulary keep working.
    """

    code = "invalid"

    def __init__(self, code: str, message: str, status: int | None = None, **details: Any) -> None:
        super().__init__(message, code=code, **details)


@dataclass(frozen=True, slots=True)
class Identified:
    presented: Presented | None
    verdict: Verdict | None  # set when identification itself failed
    revoked: str | None = None
    company: str = ""

    def view(self) -> AttendeeView | None:
        """The answer's attendee, from the same lookup that identified them (one query a scan)."""
        p = self.presented
        if p is None:
            return None
        return AttendeeView(
            id=p.attendee_id,
            name=p.name,
            company=self.company,
            ticket_type_id=p.ticket_type_id,
            ticket_type=p.ticket_type_name,
        )


class CheckinService:
    def __init__(self, replica: Replica, conn: sqlite3.Connection, events: list[str], device_id: str) -> None:
        self.replica = replica
        self.conn = conn  # the event loop's read connection: point lookups, sub-millisecond
        self.events = events
        self.scope = EventScope(tuple(events))
        self.device_id = device_id
        self.catalog_cache = CatalogCache(conn, events)
        self.history = CheckinHistory(conn)
        self._attendee_locks: dict[str, asyncio.Lock] = {}
        self._lock_users: dict[str, int] = defaultdict(int)
        self._in_flight: dict[str, tuple[ScanRequest, asyncio.Future[ScanAnswer]]] = {}
        self._entering: dict[tuple[str, str], int] = defaultdict(int)  # (event, list) -> entries in flight
        self.results: Counter[str] = Counter()  # recorded scans by result, for /metrics

    # --- scans --------------------------------------------------------------------------

    async def scan(self, req: ScanRequest, staff: str | None = None) -> ScanAnswer:
        """Decide and record one scan, or refuse it (``too_late``) before recording it.

        The deadline (:data:`SCAN_DEADLINE_S` from now) bounds how long a
        scanner waits: a scan not on its way to disk by then is not recorded
        at all, so a client that gave up never leaves an admission behind
        that it was not told about.  Retrying with the same nonce is safe
        either way (it replays a recorded answer, or decides afresh).
        """
        deadline = time.monotonic() + SCAN_DEADLINE_S
        event = self.scope.resolve(req.event)
        pending = self._in_flight.get(req.nonce)
        if pending is not None:
            if _fingerprint(pending[0]) != _fingerprint(req):
                raise _nonce_reused()
            answer = await asyncio.shield(pending[1])
            return msgspec.structs.replace(answer, replayed=True)
        stored = self._stored_answer(req)
        if stored is not None:
            return stored
        future: asyncio.Future[ScanAnswer] = asyncio.get_running_loop().create_future()
        self._in_flight[req.nonce] = (req, future)
        try:
            answer = await self._scan(event, req, staff, deadline)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a concurrent retry re-raises it itself
            raise
        finally:
            del self._in_flight[req.nonce]
        future.set_result(answer)
        return answer

    async def _scan(self, event: str, req: ScanRequest, staff: str | None, deadline: float) -> ScanAnswer:
        cat = self.catalog_cache.event(event)
        if (req.code is None) == (req.nfc_uid is None):
            raise CheckinError("invalid", "send exactly one of 'code' (QR text) and 'nfc_uid'")
        gate = cat.gates.get(req.gate)
        if gate is None:
            known = ", ".join(sorted(cat.gates)) or "none (import the catalog first)"
            raise CheckinError(
                "unknown_gate", f"gate '{req.gate}' is not configured here; known gates: {known}"
            )
        list_id = req.list or gate[1]
        checkin_list = cat.lists.get(list_id)
        if checkin_list is None:
            raise CheckinError("unknown_list", f"check-in list '{list_id}' is not in this event's catalog")
        who = self.identify(event, cat, req)
        attendee_id = who.presented.attendee_id if who.presented else None
        async with self._attendee_lock(attendee_id):
            now = now_ms()
            history: list[PriorScan] = []
            if who.verdict is not None:
                verdict = who.verdict
            else:
                assert who.presented is not None
                history = self.history.admitted(event, who.presented.attendee_id, list_id)
                capacity, room_name = checkin_list.capacity, ""
                if checkin_list.room_id is not None:
                    room_name, room_capacity = cat.rooms.get(checkin_list.room_id, ("", None))
                    capacity = capacity or room_capacity
                inside = self._inside(event, list_id) if capacity is not None else 0
                verdict = decide(
                    req.direction,
                    who.presented,
                    Context(
                        now=now,
                        tz=cat.timezone,
                        checkin_list=checkin_list,
                        history=history,
                        revoked=who.revoked,
                        inside=inside,
                        capacity=capacity,
                        room_name=room_name,
                    ),
                )
            record = Scan(
                at=now,
                nonce=req.nonce,
                gate=req.gate,
                direction=req.direction,
                result=verdict.result,
                reason=verdict.reason[:500],  # the record's limit; names and reasons are user data
                code=req.code or None,  # an empty read is recorded as a scan without a code
                nfc_uid=req.nfc_uid or None,
                attendee_id=attendee_id,
                list_id=list_id,
                device_time=req.device_time,
                staff=staff,
            )
            entering = verdict.admitted and req.direction == "entry"
            if entering:
                self._entering[(event, list_id)] += 1
            try:
                await self.replica.log(event, self.device_id, record, deadline=deadline)
                self.results[verdict.result] += 1
            finally:
                if entering:
                    self._entering[(event, list_id)] -= 1
        first = next((s for s in history if s.direction == "entry"), None)
        if first is None and entering:
            first = PriorScan(now, "entry", req.gate, self.device_id)
        return self._answer(record, who.view(), verdict.rule, first)

    def identify(self, event: str, cat: EventCatalog, req: ScanRequest) -> Identified:
        if req.code is not None:
            try:
                badge = verify(req.code, cat.keys, event, now_ms() // 1000)
            except BadgeError as exc:
                return Identified(None, Verdict("invalid", exc.reason))
            p = badge.payload
            row = self.history.attendee(event, p.attendee)
            presented = Presented(
                attendee_id=p.attendee,
                name=row.name if row else NOT_IN_ROSTER,
                ticket_type_id=p.ticket_type,
                ticket_type_name=cat.ticket_types.get(p.ticket_type, ""),
                valid_from=p.valid_from,  # the signed badge's window, not the roster's
                valid_until=p.valid_until,
                cancelled=bool(row and row.cancelled),
            )
            revoked = self.history.revoked(
                event, [("badge", badge.badge_id), ("attendee", p.attendee), ("key", badge.kid)]
            )
            return Identified(presented, None, revoked, row.company if row else "")
        uid = nfc_uid(req.nfc_uid or "")
        if not _NFC.match(uid):
            return Identified(
                None, Verdict("invalid", "This is not a readable NFC tag id; tap the badge again.")
            )
        row = self.history.tag_holder(event, uid)
        if row is None:
            return Identified(
                None,
                Verdict("unknown_badge", "This tag is not linked to anyone; send the person to the desk."),
            )
        presented = Presented(
            attendee_id=row.id,
            name=row.name,
            ticket_type_id=row.ticket_type_id,
            ticket_type_name=cat.ticket_types.get(row.ticket_type_id, ""),
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            cancelled=row.cancelled,
        )
        return Identified(presented, None, self.history.revoked(event, [("attendee", row.id)]), row.company)

    def _inside(self, event: str, list_id: str) -> int:
        """Inside now, counting entries still being written (two lanes cannot both fill the last seat)."""
        return self.history.inside(event, list_id) + self._entering[(event, list_id)]

    @asynccontextmanager
    async def _attendee_lock(self, attendee_id: str | None) -> AsyncIterator[None]:
        if attendee_id is None:
            yield
            return
        lock = self._attendee_locks.setdefault(attendee_id, asyncio.Lock())
        self._lock_users[attendee_id] += 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[attendee_id] -= 1
            if not self._lock_users[attendee_id]:
                del self._lock_users[attendee_id]
                del self._attendee_locks[attendee_id]

    # --- answers ------------------------------------------------------------------------

    def _stored_answer(self, req: ScanRequest) -> ScanAnswer | None:
        """The first answer to a nonce this device already logged, or None."""
        stored = self.history.stored_scan(self.device_id, req.nonce)
        if stored is None:
            return None
        event, record = stored
        same_list = req.list is None or req.list == record.list_id
        if _request_fields(req) != _record_fingerprint(record) or not same_list:
            raise _nonce_reused()
        first = None
        if record.attendee_id and record.list_id:
            first = self.history.first_entry(event, record.attendee_id, record.list_id)
        view = self.history.attendee_view(event, record.attendee_id) if record.attendee_id else None
        answer = self._answer(record, view, None, first)
        return msgspec.structs.replace(answer, replayed=True)

    def _answer(
        self, record: Scan, attendee: AttendeeView | None, rule: str | None, first: PriorScan | None
    ) -> ScanAnswer:
        return ScanAnswer(
            scan_id=record.id,
            result=record.result,
            reason=record.reason,
            attendee=attendee,
            first_admitted=FirstAdmitted(at=first.at, gate=first.gate, device_id=first.device_id)
            if first
            else None,
            list=record.list_id or "",
            gate=record.gate,
            direction=record.direction,
            at=record.at,
            rule=rule,
        )

    def attendee_view(self, event: str, attendee_id: str) -> AttendeeView:
        return self.history.attendee_view(event, attendee_id)

    # --- undo ---------------------------------------------------------------------------

    async def annul(self, scan_id: str, reason: str, staff: str | None) -> Annulment:
        """Undo an admission made by this device in the last 15 minutes; the scan stays logged."""
        row = self.conn.execute(
            "SELECT event_id, device_id, result, at, attendee_id, gate FROM checkin WHERE id = ?", (scan_id,)
        ).fetchone()
        if row is None:
            raise CheckinError("unknown_scan", f"no scan '{scan_id}' is recorded here")
        event, device, result, at, _attendee, _gate = row
        if device != self.device_id:
            raise CheckinError(
                "not_annullable",
                f"scan {scan_id} was made by device {device}; annul it there",
                reason="not_this_device",
            )
        if result != "admitted":
            raise CheckinError(
                "not_annullable",
                "only an admitted scan can be annulled; this one was refused",
                reason="not_admitted",
            )
        if self.conn.execute("SELECT 1 FROM checkin_annulment WHERE scan_id = ?", (scan_id,)).fetchone():
            raise CheckinError("already_annulled", f"scan {scan_id} is already annulled")
        age = now_ms() - at
        if age > ANNUL_WINDOW_MS:
            raise CheckinError(
                "not_annullable",
                f"scans can be annulled for 15 minutes; this one is {age // 60_000} minutes old",
                reason="annul_window_passed",
            )
        record = Annulment(scan_id=scan_id, reason=reason, staff=staff)
        await self.replica.log(event, self.device_id, record)
        return record


def _fingerprint(req: ScanRequest) -> tuple[object, ...]:
    return (req.code, req.nfc_uid, req.gate, req.direction, req.list, req.device_time)


def _request_fields(req: ScanRequest) -> tuple[object, ...]:
    return (req.code or None, req.nfc_uid or None, req.gate, req.direction, req.device_time)


def _record_fingerprint(s: Scan) -> tuple[object, ...]:
    """The request fields a stored scan keeps (its list may have been the gate's default)."""
    return (s.code, s.nfc_uid, s.gate, s.direction, s.device_time)


def _nonce_reused() -> CheckinError:
    return CheckinError(
        "nonce_reused",
        "this nonce was already used for a different scan; every scan needs a fresh nonce",
    )
