"""One attendee's whole record, as the help desk reads it: who, and everything that happened to them.

The desk answers "I was let in at the north door but the workshop says no",
"my badge never printed", "someone else has my name" from one screen, so this
gathers in one read what is otherwise spread over the roster, every device's
check-ins, the print queue, the organizers' corrections, duplicates and
revocations.  Everything comes from the merged projections on the read pool,
so a check-in another appliance made shows here as soon as it has synced.
Lists are bounded (``LIMIT``): a badge scanned ten thousand times by a broken
scanner must not make the desk wait.  Every read goes through the attendee's own
index entries (``INDEXED BY`` where SQLite would otherwise walk the whole event's
check-ins in time order to satisfy the ``ORDER BY``), so the record costs the same
with 100 check-ins in the event or 200,000.
"""

from __future__ import annotations

import json
from typing import Any

import aiosqlite
import msgspec

from appliance.checkin.service import CheckinError
from konferenco.duplicates import find_duplicates

#: Newest first; more than this is a scanner fault, not a history staff read.
MAX_ROWS = 200


class RecordedAttendee(msgspec.Struct, kw_only=True):
    id: str
    name: str
    company: str
    email: str
    order_ref: str
    ticket_type_id: str
    ticket_type: str
    status: str
    source: str
    nfc_uids: list[str]


class RecordedCheckin(msgspec.Struct, kw_only=True):
    scan_id: str
    at: int
    device_id: str
    gate: str
    list: str
    direction: str
    result: str
    reason: str
    annulled: bool


class RecordedCorrection(msgspec.Struct, kw_only=True):
    field: str
    value: str
    at: int
    staff: str


class RecordedRevocation(msgspec.Struct, kw_only=True):
    target: str
    value: str
    reason: str
    at: int


class AttendeeRecord(msgspec.Struct, kw_only=True):
    """What ``GET /api/v1/attendees/{id}/record`` answers (prints are the print queue's ``PrintJob``)."""

    attendee: RecordedAttendee
    checkins: list[RecordedCheckin]
    prints: list[dict[str, Any]]
    corrections: list[RecordedCorrection]
    duplicates: list[dict[str, Any]]
    revocations: list[RecordedRevocation]


_ATTENDEE = """
SELECT a.id, a.name, coalesce(a.company, ''), coalesce(a.email, ''), coalesce(a.order_ref, ''),
       a.ticket_type_id, coalesce(t.name, ''), a.status, a.source, coalesce(a.nfc_uid, '')
FROM attendee a
LEFT JOIN catalog_ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id
WHERE a.event_id = ? AND a.id = ?
"""

_CHECKINS = f"""
SELECT c.id, c.at, c.device_id, coalesce(c.gate, ''), coalesce(c.list_id, ''), c.direction, c.result,
       coalesce(c.reason, ''), EXISTS (SELECT 1 FROM checkin_annulment n WHERE n.scan_id = c.id)
FROM checkin c INDEXED BY idx_checkin_event_id_attendee_id_list_id_at
WHERE c.event_id = ? AND c.attendee_id = ?
ORDER BY c.at DESC, c.id DESC
LIMIT {MAX_ROWS}
"""

_PRINTS = f"""
SELECT id, printer, kind, status, attempts, detail, reprint_of, created_at, updated_at, reason
FROM print_job WHERE event_id = ? AND attendee_id = ?
ORDER BY created_at DESC, id DESC
LIMIT {MAX_ROWS}
"""

_CORRECTIONS = f"""
SELECT body, at FROM sync_record
WHERE kind = 'amendment' AND doc = ? AND json_extract(body, '$.attendee_id') = ?
ORDER BY at DESC, id DESC
LIMIT {MAX_ROWS}
"""

_ADMISSIONS = """
SELECT attendee_id, list_id, doc, id, at, gate, device_id, direction
FROM checkin c
WHERE event_id = ? AND attendee_id = ? AND result = 'admitted'
  AND NOT EXISTS (SELECT 1 FROM checkin_annulment a WHERE a.scan_id = c.id)
ORDER BY list_id, at, doc, id
"""

_REVOCATIONS = """
SELECT target, value, coalesce(reason, ''), at FROM checkin_revocation
WHERE event_id = ?
  AND ((target = 'attendee' AND value = ?) OR (target = 'badge' AND value LIKE ? ESCAPE '\\'))
ORDER BY at DESC
"""

_PRINT_FIELDS = (
    "id", "printer", "kind", "status", "attempts", "detail", "reprint_of",
    "created_at", "updated_at", "reason",
)  # fmt: skip


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + ":%"


async def attendee_record(conn: aiosqlite.Connection, event_id: str, attendee_id: str) -> AttendeeRecord:
    """The record, or 404 ``unknown_attendee``; one read transaction, so the parts agree."""
    rows = list(await conn.execute_fetchall(_ATTENDEE, (event_id, attendee_id)))
    if not rows:
        raise CheckinError("unknown_attendee", f"no attendee '{attendee_id}' in this event")
    a = rows[0]
    tags = [a[9]] if a[9] else []
    linked = "SELECT nfc_uid FROM tag_link WHERE event_id = ? AND attendee_id = ? ORDER BY at"
    for (uid,) in await conn.execute_fetchall(linked, (event_id, attendee_id)):
        if uid not in tags:
            tags.append(uid)
    attendee = RecordedAttendee(
        id=a[0], name=a[1], company=a[2], email=a[3], order_ref=a[4], ticket_type_id=a[5],
        ticket_type=a[6], status=a[7], source=a[8], nfc_uids=tags,
    )  # fmt: skip
    checkins = [
        RecordedCheckin(
            scan_id=r[0],
            at=r[1],
            device_id=r[2],
            gate=r[3],
            list=r[4],
            direction=r[5],
            result=r[6],
            reason=r[7],
            annulled=bool(r[8]),
        )
        for r in await conn.execute_fetchall(_CHECKINS, (event_id, attendee_id))
    ]
    prints = [
        dict(zip(_PRINT_FIELDS, r, strict=True))
        for r in await conn.execute_fetchall(_PRINTS, (event_id, attendee_id))
    ]
    corrections = []
    for body, at in await conn.execute_fetchall(_CORRECTIONS, (f"event/{event_id}/control", attendee_id)):
        value = json.loads(body)
        by = value.get("by") or ""
        named = list(await conn.execute_fetchall("SELECT name FROM staff WHERE id = ?", (by,)))
        staff = named[0][0] if named else by  # an account of another box: its id is all we know
        corrections.append(RecordedCorrection(field=value["field"], value=value["value"], at=at, staff=staff))
    reentry = {
        row[0]: row[1]
        for row in await conn.execute_fetchall(
            "SELECT id, reentry FROM catalog_list WHERE event_id = ?", (event_id,)
        )
    }
    admissions = list(await conn.execute_fetchall(_ADMISSIONS, (event_id, attendee_id)))
    duplicates = find_duplicates(admissions, reentry)
    revocations = [
        RecordedRevocation(target=r[0], value=r[1], reason=r[2], at=r[3])
        for r in await conn.execute_fetchall(_REVOCATIONS, (event_id, attendee_id, _like_prefix(attendee_id)))
    ]
    return AttendeeRecord(
        attendee=attendee,
        checkins=checkins,
        prints=prints,
        corrections=corrections,
        duplicates=duplicates,
        revocations=revocations,
    )
