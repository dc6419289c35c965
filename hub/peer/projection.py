"""Projections of the event documents into the hub's query tables (migration 0002).

One table per record kind; each row carries the event's ``org_id`` so the
console's queries are filtered by row-level security without a join.  A
device's first sync is one Step 2 holding its whole log — thousands of
scans in one call — so each table gets **one** statement per call: the
records are sent as one array per column and expanded with ``unnest``
(about as fast as ``COPY``, and it can say ``ON CONFLICT DO NOTHING``,
which makes projecting a record twice harmless).

Two records also fold into the catalog, in the same transaction:

* a walk-in adds an ``attendee`` row (``source = 'walk_in'``, ``revision`` =
  the event's current catalog revision) unless the id is taken;
* an amendment sets the attendee's field to the value of its latest
  amendment (by record time, then id), so every order of arrival — and a
  rebuild — ends with the same roster.

Both then refresh the attendees' folded ``search_text`` (the console's search).

A record whose writer device may not write its kind (``device.capabilities``,
:data:`sync.permissions.RECORD_KINDS`) is quarantined instead: a scanner's
walk-in never reaches the roster.  A device the hub never enrolled is
trusted to the peer that relayed its log (only the hub role may).

Records of an event the hub does not know are skipped with a warning: they
stay in the log, and :meth:`~sync.replica.Replica.rebuild_projections`
projects them once the event exists.  Device keys and tag links are not
projected here; refused peers go to ``peer_refusal`` (migration 0006), for
the console.  Proposals, host edits, decisions and the control document's
rooms and sessions go to the schedule's tables, and grassroots sessions
become child events (:mod:`hub.schedule.projection`, migration 0007).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from hub.catalog.search import refresh_search_text
from hub.peer.store import quarantine_changes
from hub.schedule.projection import ScheduleProjection
from sync.documents import Appended, Change, screen_changes
from sync.names import DocName
from sync.permissions import Capability
from sync.records import Amendment, Annulment, BadgePrint, PeerRefused, Revocation, Scan, WalkIn

log = logging.getLogger(__name__)

#: From this many records of one kind, try COPY first (a device's first Step 2: thousands of
#: scans).  It is ~40% cheaper for PostgreSQL than the unnest INSERT (ingest benchmark) but
#: cannot skip rows that exist already, so it runs in a savepoint and falls back on a conflict.
COPY_FROM = 500


@dataclass(frozen=True)
class Table:
    """A projection table fed by one record type: its columns after the common ones."""

    name: str
    record: type[Any]
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type), named as the record's fields
    with_doc: bool = False

    @property
    def insert(self) -> str:
        """``$1`` event, ``$2`` org, ``$3`` device, [``$4`` doc,] then one array per column."""
        head = ["event_id", "org_id", "device_id"] + (["doc"] if self.with_doc else [])
        params = ["$1::text", "$2::uuid", "$3::text"] + (["$4::text"] if self.with_doc else [])
        arrays = [f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, start=len(head) + 1)]
        columns = ", ".join(head + [f'"{c}"' for c, _ in self.columns])
        return (
            f"INSERT INTO {self.name} ({columns}) SELECT {', '.join(params)}, t.*"
            f" FROM unnest({', '.join(arrays)}) AS t ON CONFLICT DO NOTHING"
        )

    def rows(self, records: list[Any]) -> list[list[Any]]:
        """One list per column (what ``unnest`` takes)."""
        return [[getattr(r, c) for r in records] for c, _ in self.columns]

    @property
    def copy_columns(self) -> list[str]:
        return (
            ["event_id", "org_id", "device_id"]
            + (["doc"] if self.with_doc else [])
            + [c for c, _ in self.columns]
        )

    def records(self, common: list[Any], records: list[Any]) -> list[tuple[Any, ...]]:
        """One tuple per row (what ``COPY`` takes)."""
        names = [c for c, _ in self.columns]
        return [(*common, *(getattr(r, c) for c in names)) for r in records]


TABLES: tuple[Table, ...] = (
    Table(
        "checkin_scan",
        Scan,
        (
            ("id", "text"),
            ("nonce", "text"),
            ("gate", "text"),
            ("direction", "text"),
            ("result", "text"),
            ("reason", "text"),
            ("attendee_id", "text"),
            ("list_id", "text"),
            ("at", "bigint"),
            ("device_time", "bigint"),
            ("staff", "text"),
        ),
        with_doc=True,
    ),
    Table(
        "checkin_annulment",
        Annulment,
        (("id", "text"), ("scan_id", "text"), ("reason", "text"), ("staff", "text"), ("at", "bigint")),
    ),
    Table(
        "badge_print",
        BadgePrint,
        (
            ("id", "text"),
            ("job_id", "text"),
            ("attendee_id", "text"),
            ("printer", "text"),
            ("status", "text"),
            ("reason", "text"),
            ("at", "bigint"),
        ),
    ),
    Table(
        "walk_in",
        WalkIn,
        (
            ("id", "text"),
            ("attendee_id", "text"),
            ("name", "text"),
            ("company", "text"),
            ("email", "text"),
            ("ticket_type_id", "text"),
            ("badge_code", "text"),
            ("nfc_uid", "text"),
            ("at", "bigint"),
        ),
    ),
    Table(
        "control_revocation",
        Revocation,
        (
            ("id", "text"),
            ("target", "text"),
            ("value", "text"),
            ("reason", "text"),
            ("by", "text"),
            ("at", "bigint"),
        ),
    ),
    Table(
        "peer_refusal",
        PeerRefused,
        (("id", "text"), ("peer", "text"), ("direction", "text"), ("reason", "text"), ("at", "bigint")),
    ),
    Table(
        "control_amendment",
        Amendment,
        (
            ("id", "text"),
            ("attendee_id", "text"),
            ("field", "text"),
            ("value", "text"),
            ("by", "text"),
            ("at", "bigint"),
        ),
    ),
)
_BY_RECORD: dict[type[Any], Table] = {t.record: t for t in TABLES}

_WALK_IN_ATTENDEES = """
INSERT INTO attendee (event_id, id, org_id, name, company, email, ticket_type_id,
                      nfc_uid, badge_code, source, revision)
SELECT e.id, t.attendee_id, e.org_id, t.name, t.company, t.email, t.ticket_type_id,
       coalesce(t.nfc_uid, ''), coalesce(t.badge_code, ''), 'walk_in', e.catalog_revision
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
     AS t(attendee_id, name, company, email, ticket_type_id, nfc_uid, badge_code)
JOIN event e ON e.id = $1
ON CONFLICT DO NOTHING
"""

_WALK_IN_FIELDS = ("attendee_id", "name", "company", "email", "ticket_type_id", "nfc_uid", "badge_code")

#: The columns an amendment may set (``Amendment.field``), spelled out: they go into SQL text.
AMENDABLE = ("name", "company", "email", "ticket_type_id")


def _apply_amendments(field: str) -> str:
    assert field in AMENDABLE
    return f"""
UPDATE attendee a SET {field} = m.value, updated_at = now()
FROM (
    SELECT DISTINCT ON (attendee_id) attendee_id, value FROM control_amendment
    WHERE event_id = $1 AND field = '{field}' AND attendee_id = ANY($2::text[])
    ORDER BY attendee_id, at DESC, id DESC
) m
WHERE a.event_id = $1 AND a.id = m.attendee_id AND a.{field} IS DISTINCT FROM m.value
"""


_AMENDMENTS = {field: _apply_amendments(field) for field in AMENDABLE}


class HubProjection:
    """:class:`hub.peer.store.Projection` for the hub's tables; stateless, safe to share."""

    tables = TABLES
    schedule = ScheduleProjection()

    async def project(self, conn: Any, changes: Sequence[Change]) -> None:
        writers = {c.doc.device_id for c in changes if isinstance(c, Appended) and c.doc.device_id}
        if writers:
            certified = await device_capabilities(conn, sorted(str(w) for w in writers))
            changes, refused = screen_changes(changes, certified.get)
            if refused:
                log.warning("%d records quarantined: their devices may not write them", len(refused))
                await quarantine_changes(conn, refused)
        by_doc: dict[DocName, list[Any]] = {}
        for change in changes:
            if isinstance(change, Appended):
                by_doc.setdefault(change.doc, []).append(change.record)
        for name, records in by_doc.items():
            await self._project_doc(conn, name, records)
        await self.schedule.project(conn, changes)

    async def _project_doc(self, conn: Any, name: DocName, records: list[Any]) -> None:
        grouped: dict[type[Any], list[Any]] = {}
        for record in records:
            if type(record) in _BY_RECORD:
                grouped.setdefault(type(record), []).append(record)
        if not grouped:
            return
        org_id = await conn.fetchval("SELECT org_id FROM event WHERE id = $1", name.event_id)
        if org_id is None:
            log.warning(
                "%s: event %r is not in the catalog; its records are not projected", name, name.event_id
            )
            return
        for record_type, rows in grouped.items():
            table = _BY_RECORD[record_type]
            common = [name.event_id, org_id, name.device_id] + ([str(name)] if table.with_doc else [])
            if len(rows) >= COPY_FROM and await _copied(conn, table, common, rows):
                continue
            await conn.execute(table.insert, *common, *table.rows(rows))
        walk_ins: list[WalkIn] = grouped.get(WalkIn, [])
        if walk_ins:
            columns = [[getattr(w, f) for w in walk_ins] for f in _WALK_IN_FIELDS]
            await conn.execute(_WALK_IN_ATTENDEES, name.event_id, *columns)
        amendments: list[Amendment] = grouped.get(Amendment, [])
        touched = {a.attendee_id for a in amendments} | {w.attendee_id for w in walk_ins}
        fields = {a.field for a in amendments} if not walk_ins else set(AMENDABLE)
        for field in AMENDABLE:
            if touched and field in fields:
                await conn.execute(_AMENDMENTS[field], name.event_id, sorted(touched))
        if touched:  # the folded search column follows the names just written (hub.catalog.search)
            await refresh_search_text(conn, name.event_id, touched)

    async def reset(self, conn: Any) -> None:
        """Empty the projection tables (DELETE, not TRUNCATE: readers keep the old rows until commit).

        The walk-in attendees stay: ``attendee`` is the catalog, not a
        projection, and re-projecting finds them there.
        """
        for table in TABLES:
            await conn.execute(f"DELETE FROM {table.name}")
        await self.schedule.reset(conn)


_CAPABILITIES = frozenset(c.value for c in Capability)


async def device_capabilities(conn: Any, device_ids: list[str]) -> dict[str, frozenset[Capability]]:
    """The capabilities the hub granted each of these devices at enrolment (those it knows)."""
    rows = await conn.fetch("SELECT id, capabilities FROM device WHERE id = ANY($1::text[])", device_ids)
    return {row[0]: frozenset(Capability(c) for c in row[1] if c in _CAPABILITIES) for row in rows}


async def _copied(conn: Any, table: Table, common: list[Any], rows: list[Any]) -> bool:
    """COPY the rows in a savepoint; False (nothing written) if any of them is there already.

    That happens when two workers project the same update, or on a rebuild: the caller then
    takes the INSERT … ON CONFLICT DO NOTHING path, which skips exactly the rows that exist.
    """
    try:
        async with conn.transaction():  # a savepoint inside the store's transaction
            await conn.copy_records_to_table(
                table.name, columns=table.copy_columns, records=table.records(common, rows)
            )
    except asyncpg.UniqueViolationError:
        return False
    return True
