"""Importing attendees into an event: CSV or JSON, validated whole, upserted in one transaction.

The file is parsed and every row validated first (the CSV dialect, its
column synonyms and the per-row messages are the appliance importer's, so
an organizer sees the same wording in both places).  Any rejected row
rejects the import and the report lists each one with its line: a
malformed file never leaves a half-imported event.  A valid file is then
written in one transaction, chunk by chunk: COPY into a temporary table, one
``INSERT … ON CONFLICT DO UPDATE`` that touches only rows whose content
changed (so their ``revision`` moves and the next delta bundle carries
them, and nothing else).  Attendees are keyed by the external reference
(the ticket shop's id), so importing the same export twice changes nothing.

New attendees get a badge code signed by the event's current key; an
existing attendee keeps the code already printed on their badge.  Signing
and folding the search text are most of the work (~10 s of one core for
180,000 people), so a big file's chunks are prepared in worker processes
(:mod:`hub.catalog.import_pool`) while PostgreSQL writes the chunks before
them; :mod:`hub.catalog.prepare` says why a badge comes out the same there.
Signing stays eager, at import: every badge is needed before the event (the
catalog bundle carries them to the appliances, the export to the printer), so
signing on first use would only move the same seconds to the first
appliance's enrolment, and make that read path write.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.catalog.events import get_event, ticket_types, tier_of
from hub.catalog.import_pool import POOL, WARM_BYTES, ImportPool
from hub.catalog.keys import KeySealer, signer
from hub.catalog.prepare import Pending
from hub.db.session import raw
from hub.tenants import audit
from hub.tenants.accounts import OrgRole, Principal
from hub.tenants.tiers import check_attendees
from konferenco.catalog.bundle import Attendee
from konferenco.catalog.csv_reader import (
    CsvOptions,
    Problem,
    ProblemGroup,
    group_problems,
    read_csv,
)
from konferenco.errors import Invalid, NotFound

#: A value or a line holding U+0000 (`\u0000` in JSON): PostgreSQL cannot store it, so the import refuses it.
NUL_IN_TEXT = "contains a NUL character (U+0000), which no text here may hold"

#: progress(phase, done, total)
Progress = Callable[[str, int, int], None]

_COLUMNS = (
    "id",
    "external_ref",
    "name",
    "company",
    "email",
    "order_ref",
    "ticket_type_id",
    "nfc_uid",
    "badge_code",
    "search_text",
)


#: Only rows whose content changed are updated, so only they move to this import's revision.
_UPSERT = """
INSERT INTO attendee AS a (event_id, id, org_id, external_ref, name, company, email, order_ref,
                           ticket_type_id, nfc_uid, badge_code, search_text, revision)
SELECT $1, id, $2::uuid, external_ref, name, company, email, order_ref, ticket_type_id, nfc_uid,
       badge_code, search_text, $3
FROM incoming
ON CONFLICT (event_id, id) DO UPDATE SET
    name = excluded.name, company = excluded.company, email = excluded.email,
    search_text = excluded.search_text,
    order_ref = excluded.order_ref, ticket_type_id = excluded.ticket_type_id,
    nfc_uid = excluded.nfc_uid, external_ref = excluded.external_ref, status = 'valid',
    revision = excluded.revision, updated_at = now()
WHERE (a.name, a.company, a.email, a.order_ref, a.ticket_type_id, a.nfc_uid, a.status)
      IS DISTINCT FROM (excluded.name, excluded.company, excluded.email, excluded.order_ref,
                        excluded.ticket_type_id, excluded.nfc_uid, 'valid')
RETURNING (xmax = 0) AS inserted
"""
#: The upsert's counts, not its rows: one row back per chunk instead of one per attendee.
_UPSERT_COUNTS = f"""
WITH changed AS ({_UPSERT})
SELECT count(*) FILTER (WHERE inserted) AS added, count(*) FILTER (WHERE NOT inserted) AS updated
FROM changed
"""


@dataclass
class ImportResult:
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    revision: int = 0
    problems: list[Problem] = field(default_factory=list)


#: What to do about a rejected row on the hub, where there is no ``--map`` flag (see ``group_problems``).
HUB_HINTS = {
    "ticket_type": "create it under Ticket types first, or rename the column if the wrong one was read",
    "name": "every row needs a name; fill it in, or rename the column to Name",
}
#: Line numbers sent per group: the count says how many there are in all.
GROUP_LINES = 1000


class ImportRefused(Invalid):
    """The file was refused: ``details`` has each problem (``problems``) and each kind of problem once
    (``groups``: field, message, hint, count and the first lines); :attr:`groups` keeps them whole."""

    code = "import_rejected"

    def __init__(self, message: str, *, groups: Sequence[ProblemGroup] = (), **details: Any) -> None:
        super().__init__(message, groups=[_group_body(g) for g in groups], **details)
        self.groups = list(groups)


def _group_body(group: ProblemGroup) -> dict[str, Any]:
    return {
        "field": group.field,
        "message": group.message,
        "hint": group.hint,
        "count": group.count,
        "lines": list(group.lines[:GROUP_LINES]),
    }


def _refusal(problems: list[Problem]) -> str:
    lines = {p.line for p in problems if p.line}
    if not lines:
        return f"the file was rejected ({problems[0].message}); nothing was imported"
    rows = "1 row" if len(lines) == 1 else f"{len(lines):,} rows"
    return f"{rows} rejected; nothing was imported"


def _problems_body(problems: list[Problem]) -> list[dict[str, Any]]:
    return [{"line": p.line, "field": p.field, "message": p.message} for p in problems[:1000]]


def parse_json(
    data: bytes, event_id: str, types: dict[str, str]
) -> tuple[list[Attendee], list[Problem], int]:
    """A JSON array of attendee objects (or ``{"attendees": [...]}``), the CSV's field names."""
    try:
        doc = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        return [], [Problem(0, "file", f"not JSON: {exc}")], 0
    items = doc.get("attendees") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        return [], [Problem(0, "file", "expected a list of attendees")], 0
    # One code path for validation: turn the objects into CSV text the shared reader checks.
    out = io.StringIO()
    fields = ["id", "external_ref", "name", "company", "email", "order_ref", "ticket_type", "nfc_uid"]
    writer = csv.writer(out)
    writer.writerow(fields)
    problems: list[Problem] = []
    for i, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(Problem(i, "row", "not an object"))
            continue
        ticket = item.get("ticket_type", item.get("ticket_type_id", ""))
        values = [str(item.get(f, "") if f != "ticket_type" else ticket) for f in fields]
        problems += [Problem(i, f, NUL_IN_TEXT) for f, v in zip(fields, values, strict=True) if "\x00" in v]
        writer.writerow(values)
    if problems:
        return [], problems, len(items)
    rows, problems, count = read_csv(out.getvalue(), event_id, types, CsvOptions(delimiter=","))
    # CSV line n is JSON item n - 1 (line 1 is the header we wrote).
    problems = [Problem(max(p.line - 1, 0), p.field, p.message) for p in problems]
    return [a for _, a in rows], problems, count


def parse(
    data: bytes, fmt: str, event_id: str, types: dict[str, str], default_ticket_type: str | None
) -> tuple[list[Attendee], list[Problem], int]:
    if fmt == "json":
        return parse_json(data, event_id, types)
    if fmt != "csv":
        raise Invalid(f"unknown format {fmt!r}; use csv or json")
    try:
        textual = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [Problem(0, "file", f"not UTF-8 text (byte {exc.start}); export the file as UTF-8")], 0
    nul = textual.find("\x00")  # valid UTF-8, but never text: PostgreSQL refuses it
    if nul >= 0:
        line = textual.count("\n", 0, nul) + 1
        return [], [Problem(line, "file", f"{NUL_IN_TEXT}; export the file as UTF-8 text")], 0
    rows, problems, count = read_csv(
        textual, event_id, types, CsvOptions(default_ticket_type=default_ticket_type)
    )
    return [a for _, a in rows], problems, count


async def import_attendees(
    conn: AsyncConnection,
    sealer: KeySealer,
    principal: Principal,
    event_id: str,
    data: bytes,
    fmt: str = "csv",
    *,
    default_ticket_type: str | None = None,
    progress: Progress | None = None,
    pool: ImportPool = POOL,
) -> ImportResult:
    """Validate and upsert; raises :class:`ImportRefused` (with the per-row report) and writes nothing.

    A big file is signed and folded by ``pool``'s processes (:mod:`hub.catalog.import_pool`).
    """
    principal.require(OrgRole.ORGANIZER)
    await get_event(conn, event_id)
    types = await ticket_types(conn, event_id)
    if len(data) >= WARM_BYTES:
        pool.warm()  # the processes start while the file is parsed
    attendees, problems, count = await asyncio.to_thread(
        parse, data, fmt, event_id, types, default_ticket_type
    )
    if problems:
        raise ImportRefused(
            _refusal(problems),
            rows=count,
            problems=_problems_body(problems),
            groups=group_problems(problems, HUB_HINTS),
        )
    if progress:
        progress("checked", len(attendees), len(attendees))
    ids = [a.id for a in attendees]
    driver = await raw(conn)
    existing = {
        r["id"]
        for r in await driver.fetch(
            "SELECT id FROM attendee WHERE event_id = $1 AND id = ANY($2::text[])", event_id, ids
        )
    }
    total = int(
        (
            await conn.execute(text("SELECT count(*) FROM attendee WHERE event_id = :e"), {"e": event_id})
        ).scalar_one()
    )
    check_attendees(await tier_of(conn, principal.org_id), total + len(set(ids) - existing))
    badge_signer = await signer(conn, sealer, event_id)
    # New attendees get a code (unless the file brought one); existing ones keep theirs: the
    # upsert below never changes badge_code, so what is printed stays valid.
    pending = [
        Pending(
            a.id,
            a.ticket_type_id,
            not a.badge_code and a.id not in existing,
            a.name,
            a.company,
            a.email,
            a.order_ref,
            a.external_ref or "",
        )
        for a in attendees
    ]
    to_sign = sum(1 for p in pending if p.needs_code)
    revision = 0
    added = updated = signed = written = 0
    # Chunks are written as they come back from the workers, while the next ones are signed: the
    # database's share overlaps the signing instead of following it.
    async with aclosing(pool.prepared(badge_signer, event_id, pending)) as chunks:
        async for start, prepared in chunks:
            if not revision:
                revision = await _lock_event(driver, event_id)
            batch = attendees[start : start + len(prepared.codes)]
            await driver.copy_records_to_table(
                "incoming",
                records=[
                    (
                        a.id,
                        a.external_ref or None,
                        a.name,
                        a.company,
                        a.email,
                        a.order_ref,
                        a.ticket_type_id,
                        a.nfc_uid,
                        code or (a.badge_code if a.id not in existing else ""),
                        folded,
                    )
                    for a, code, folded in zip(batch, prepared.codes, prepared.search_texts, strict=True)
                ],
                columns=list(_COLUMNS),
            )
            counts = await driver.fetchrow(_UPSERT_COUNTS, event_id, principal.org_id, revision)
            await driver.execute("TRUNCATE incoming")
            added += counts["added"]
            updated += counts["updated"]
            signed += sum(1 for code in prepared.codes if code)
            written += len(batch)
            if progress:
                progress("signed", signed, to_sign)
                progress("writing", written, len(attendees))
    if added or updated:
        await driver.execute("UPDATE event SET catalog_revision = $2 WHERE id = $1", event_id, revision)
    else:
        revision -= 1
    return ImportResult(
        rows=count,
        added=added,
        updated=updated,
        unchanged=len(attendees) - added - updated,
        revision=revision,
    )


async def _lock_event(driver: Any, event_id: str) -> int:
    """Lock the event row and make the temporary table; the revision this import writes.

    The event row stays locked for the rest of the transaction: two imports into one event take
    turns, and the revision moves only if a row actually changed (an unchanged re-import must
    leave appliances nothing to download).
    """
    current = await driver.fetchval("SELECT catalog_revision FROM event WHERE id = $1 FOR UPDATE", event_id)
    await driver.execute(
        "CREATE TEMP TABLE incoming (id text, external_ref text, name text, company text, email text,"
        " order_ref text, ticket_type_id text, nfc_uid text, badge_code text, search_text text)"
        " ON COMMIT DROP"
    )
    return 1 + int(current)


async def cancel_attendee(
    conn: AsyncConnection, principal: Principal, event_id: str, attendee_id: str
) -> bool:
    """Cancel a ticket; True if it was valid until now.

    The next bundle carries the cancellation; the caller also revokes the
    attendee in the control document, which reaches synced boxes sooner.
    """
    principal.require(OrgRole.ORGANIZER)
    exists = (
        await conn.execute(
            text("SELECT 1 FROM attendee WHERE event_id = :e AND id = :a"), {"e": event_id, "a": attendee_id}
        )
    ).first()
    if exists is None:
        raise NotFound(f"no attendee {attendee_id!r} in event {event_id!r}")
    result = await conn.execute(
        text(
            "UPDATE attendee SET status = 'cancelled', updated_at = now(),"
            " revision = (SELECT catalog_revision + 1 FROM event WHERE id = :e)"
            " WHERE event_id = :e AND id = :a AND status <> 'cancelled'"
        ),
        {"e": event_id, "a": attendee_id},
    )
    if not result.rowcount:
        return False
    await conn.execute(
        text("UPDATE event SET catalog_revision = catalog_revision + 1 WHERE id = :e"), {"e": event_id}
    )
    await audit.record(conn, principal, "attendee.revoke", attendee_id, event_id=event_id)
    return True
