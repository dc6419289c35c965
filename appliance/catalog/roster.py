"""Writing and reading the roster tables (one owner for ``attendee`` and its search index).

Every path that changes an attendee — a catalog bundle, a CSV import, a
walk-in or an on-site amendment projected from a document — goes through
:func:`upsert_attendees`, which keeps the full-text index in step in the
same transaction.  The index holds *folded* text (:func:`konferenco.text.fold`,
the hub's rule too), so "Lodz" finds "Łódź" and "ostergaard" finds
"Østergaard": FTS5's own diacritics removal does not cover letters such as
ł, ø, ß or đ.

Chinese, Japanese and Korean names have no spaces between their words, and
one or two characters are a real query ("田" for "田中 太郎"): for them the
index also holds, in ``name_cjk`` and ``company_cjk``, each CJK run one
character a token ("田中 太郎" → "田 中 太 郎"; runs apart, "x" between
them).  A query is the phrase of its characters, which only neighbours in
one run satisfy: a substring match, from the same FTS5 index (see
:func:`appliance.desk.match_expression`).  Single characters are shorter
than the prefix index's 2 and 3, so they add no prefix entries.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import msgspec

from konferenco.badges import KeyRing, TrustedKey, unb64
from konferenco.catalog.bundle import Attendee, Catalog
from konferenco.rules import CheckinList
from konferenco.text import cjk_runs, fold
from konferenco.types import now_ms


@dataclass(frozen=True, slots=True)
class ApplyResult:
    revision: int
    added: int
    updated: int
    removed: int


class CatalogConflict(ValueError):
    """A delta that does not apply to the revision this appliance holds."""


_COLUMNS = (
    "event_id, id, external_ref, name, company, email, order_ref, ticket_type_id, badge_code, "
    "nfc_uid, valid_from, valid_until, status, source, updated_at"
)


def _row(event_id: str, a: Attendee, source: str, at: int) -> tuple[object, ...]:
    return (
        event_id, a.id, a.external_ref or None, a.name, a.company, a.email, a.order_ref,
        a.ticket_type_id, a.badge_code or None, a.nfc_uid or None, a.valid_from, a.valid_until,
        a.status, source, at,
    )  # fmt: skip


def cjk_terms(folded: str) -> str:
    """The ``*_cjk`` column of a folded text: its CJK runs, a token a character, "x" between runs."""
    if folded.isascii():
        return ""
    return " x ".join(" ".join(run) for run in cjk_runs(folded))


def search_row(rowid: int, name: str, company: str, email: str, order_ref: str) -> tuple[object, ...]:
    """The ``attendee_fts`` row of an attendee (:data:`INSERT_SEARCH`)."""
    folded_name, folded_company = fold(name), fold(company)
    return (
        rowid, folded_name, folded_company, fold(email), fold(order_ref),
        cjk_terms(folded_name), cjk_terms(folded_company),
    )  # fmt: skip


INSERT_SEARCH = (
    "INSERT INTO attendee_fts (rowid, name, company, email, order_ref, name_cjk, company_cjk)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


#: Rows per executemany, and so per progress report, on a big import.
_CHUNK = 10_000
#: Above this many attendees, ids are looked up in one query and rows written with executemany.
_BULK = 500


def _rowids(conn: sqlite3.Connection, event_id: str, ids: list[str]) -> dict[str, int]:
    if len(ids) > _BULK:
        return dict(conn.execute("SELECT id, rowid FROM attendee WHERE event_id = ?", (event_id,)).fetchall())
    found = {}
    for attendee_id in ids:
        row = conn.execute(
            "SELECT rowid FROM attendee WHERE event_id = ? AND id = ?", (event_id, attendee_id)
        )
        hit = row.fetchone()
        if hit is not None:
            found[attendee_id] = hit[0]
    return found


def upsert_attendees(
    conn: sqlite3.Connection,
    event_id: str,
    attendees: Iterable[Attendee],
    source: str,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[int, int]:
    """Insert or replace attendees by id, with their search rows; return (added, updated).

    Set-at-a-time (one lookup, ``executemany``): a 180,000-attendee snapshot
    spends its time in SQLite, not in a Python loop of three statements a row.
    ``progress(done, total)`` hears about every chunk of rows and search rows
    written (it runs on the writer's thread).
    """
    at = now_ms()
    items = list(attendees)
    existing = _rowids(conn, event_id, [a.id for a in items])
    new = [a for a in items if a.id not in existing]
    changed = [a for a in items if a.id in existing]
    total, done = 2 * len(items), 0

    def chunked(sql: str, rows: list[tuple[object, ...]] | Iterator[tuple[object, ...]], count: int) -> None:
        nonlocal done
        iterator = iter(rows)
        for start in range(0, count, _CHUNK):
            conn.executemany(sql, itertools.islice(iterator, _CHUNK))
            done += min(_CHUNK, count - start)
            if progress is not None:
                progress(done, total)

    chunked(
        f"INSERT INTO attendee ({_COLUMNS}) VALUES ({', '.join('?' * 15)})",
        (_row(event_id, a, source, at) for a in new),
        len(new),
    )
    chunked(
        "UPDATE attendee SET external_ref=?, name=?, company=?, email=?, order_ref=?, "
        "ticket_type_id=?, badge_code=?, nfc_uid=?, valid_from=?, valid_until=?, status=?, "
        "source=?, updated_at=? WHERE rowid=?",
        ((*_row(event_id, a, source, at)[2:], existing[a.id]) for a in changed),
        len(changed),
    )
    conn.executemany("DELETE FROM attendee_fts WHERE rowid = ?", ((existing[a.id],) for a in changed))
    rowids = {**existing, **_rowids(conn, event_id, [a.id for a in new])} if new else existing
    chunked(
        INSERT_SEARCH,
        (search_row(rowids[a.id], a.name, a.company, a.email, a.order_ref) for a in items),
        len(items),
    )
    return len(new), len(changed)


def remove_attendees(conn: sqlite3.Connection, event_id: str, ids: Sequence[str]) -> int:
    removed = 0
    for attendee_id in ids:
        row = conn.execute(
            "SELECT rowid FROM attendee WHERE event_id = ? AND id = ?", (event_id, attendee_id)
        )
        found = row.fetchone()
        if found is not None:
            conn.execute("DELETE FROM attendee_fts WHERE rowid = ?", (found[0],))
            conn.execute("DELETE FROM attendee WHERE rowid = ?", (found[0],))
            removed += 1
    return removed


def on_roster(conn: sqlite3.Connection, event_id: str, attendee_id: str) -> bool:
    """Whether the attendee is on this event's roster here (catalog rows and projected walk-ins)."""
    found = conn.execute("SELECT 1 FROM attendee WHERE event_id = ? AND id = ?", (event_id, attendee_id))
    return found.fetchone() is not None


def current_revision(conn: sqlite3.Connection, event_id: str) -> int | None:
    row = conn.execute("SELECT revision FROM catalog_event WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else int(row[0])


def apply_catalog(
    conn: sqlite3.Connection,
    catalog: Catalog,
    digest: str,
    progress: Callable[[int, int], None] | None = None,
) -> ApplyResult:
    """Apply a verified, validated snapshot or delta inside the caller's transaction."""
    event = catalog.event
    held = current_revision(conn, event.id)
    if catalog.base_revision is not None and held != catalog.base_revision:
        raise CatalogConflict(
            f"this delta updates revision {catalog.base_revision} but the appliance holds "
            f"{'no catalog' if held is None else f'revision {held}'}: fetch a full snapshot"
        )
    if held is not None and catalog.revision < held:
        raise CatalogConflict(f"revision {catalog.revision} is older than the one held here ({held})")
    conn.execute(
        "INSERT OR REPLACE INTO catalog_event (id, name, timezone, starts_at, ends_at, revision, "
        "bundle_sha256, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            event.id,
            event.name,
            event.timezone,
            event.starts_at,
            event.ends_at,
            catalog.revision,
            digest,
            now_ms(),
        ),
    )
    snapshot = catalog.base_revision is None
    # Ticket types, lists, gates and keys are small: every bundle, delta or not, carries them all.
    for table in ("catalog_ticket_type", "catalog_list", "catalog_gate", "catalog_key"):
        conn.execute(f"DELETE FROM {table} WHERE event_id = ?", (event.id,))
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_ticket_type VALUES (?, ?, ?)",
        [(event.id, t.id, t.name) for t in catalog.ticket_types],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_list VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [_list_row(event.id, lst) for lst in catalog.lists],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_gate VALUES (?, ?, ?, ?)",
        [(event.id, g.id, g.name, g.default_list) for g in catalog.gates],
    )
    conn.executemany(
        "INSERT OR REPLACE INTO catalog_key VALUES (?, ?, ?, ?, ?)",
        [(event.id, k.kid, unb64(k.public_key), k.not_before, k.not_after) for k in catalog.keys],
    )
    removed = list(catalog.removed)
    if snapshot:
        keep = {a.id for a in catalog.attendees}
        removed += [
            r[0]
            for r in conn.execute(
                "SELECT id FROM attendee WHERE event_id = ? AND source = 'catalog'", (event.id,)
            )
            if r[0] not in keep
        ]
    gone = remove_attendees(conn, event.id, removed)
    added, updated = upsert_attendees(conn, event.id, catalog.attendees, "catalog", progress)
    reapply_amendments(conn, event.id)
    return ApplyResult(catalog.revision, added, updated, gone)


def _list_row(event_id: str, lst: CheckinList) -> tuple[object, ...]:
    return (
        event_id, lst.id, lst.name,
        None if lst.ticket_types is None else json.dumps(lst.ticket_types),
        lst.day, lst.opens_at, lst.closes_at, lst.room_id, lst.capacity, lst.reentry,
        msgspec.json.encode(lst.rules).decode(),
    )  # fmt: skip


def amend(conn: sqlite3.Connection, event_id: str, attendee_id: str, field: str, value: str) -> bool:
    """Apply one on-site correction (from the control document); False if the attendee is unknown."""
    if field not in {"name", "company", "email", "ticket_type_id"}:
        return False
    row = conn.execute(
        "SELECT rowid, name, company, email, order_ref FROM attendee WHERE event_id = ? AND id = ?",
        (event_id, attendee_id),
    ).fetchone()
    if row is None:
        return False
    conn.execute(
        f"UPDATE attendee SET {field} = ?, updated_at = ? WHERE rowid = ?", (value, now_ms(), row[0])
    )
    if field in {"name", "company", "email"}:
        values = dict(zip(("name", "company", "email", "order_ref"), row[1:], strict=True))
        values[field] = value
        conn.execute("DELETE FROM attendee_fts WHERE rowid = ?", (row[0],))
        conn.execute(
            INSERT_SEARCH,
            search_row(row[0], *(values[k] for k in ("name", "company", "email", "order_ref"))),
        )
    return True


def reapply_amendments(conn: sqlite3.Connection, event_id: str) -> None:
    """On-site corrections outlive a catalog refresh until the hub folds them in."""
    rows = conn.execute(
        "SELECT body FROM sync_record WHERE kind = 'amendment' AND doc = ? ORDER BY at, id",
        (f"event/{event_id}/control",),
    ).fetchall()
    for (body,) in rows:
        value = json.loads(body)
        amend(conn, event_id, value["attendee_id"], value["field"], value["value"])


def event_keys(conn: sqlite3.Connection, event_id: str) -> KeyRing:
    """The event's own signing keys, as the last signed catalog listed them (``catalog_key``).

    The check-in cache adds the device keys they certified; peer trust checks
    sync peers' certificates against them.  An empty ring on a box that never
    imported a catalog (no table yet).
    """
    ring = KeyRing()
    try:
        rows = conn.execute(
            "SELECT kid, public_key, not_before, not_after FROM catalog_key WHERE event_id = ?", (event_id,)
        ).fetchall()
    except sqlite3.OperationalError:
        rows = []
    for kid, public, not_before, not_after in rows:
        ring.add(TrustedKey(kid, bytes(public), event_id, not_before or 0, not_after or 0))
    return ring


def capability_names(column: str | None) -> list[str]:
    """``device_key.capabilities`` (comma-separated, as the certificate lists them) as a list."""
    return [c for c in (column or "").split(",") if c]


def load_lists(conn: sqlite3.Connection, event_id: str) -> dict[str, CheckinList]:
    out = {}
    cols = "id, name, ticket_types, day, opens_at, closes_at, room_id, capacity, reentry, rules"
    for row in conn.execute(f"SELECT {cols} FROM catalog_list WHERE event_id = ?", (event_id,)):
        raw = dict(zip(cols.split(", "), row, strict=True))
        raw["ticket_types"] = None if raw["ticket_types"] is None else json.loads(raw["ticket_types"])
        raw["rules"] = json.loads(raw["rules"] or "[]")
        out[raw["id"]] = msgspec.convert({k: v for k, v in raw.items() if v is not None}, CheckinList)
    return out
