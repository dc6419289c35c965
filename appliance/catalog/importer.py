"""Importing a catalog: a signed bundle from the hub, or a CSV export from anywhere.

Both paths validate everything first and then apply in *one* transaction:
an import either lands whole or not at all, never half.  Every rejected row
is reported with its line (CSV) or position (bundle) and the reason, so an
organizer can fix the file instead of guessing.  By default any rejected
row rejects the import; ``skip_invalid`` imports the valid rows and still
reports the others.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from appliance.badges import BadgePayload, BadgeSigner, unb64
from appliance.catalog.bundle import Attendee, BundleError, Catalog, decode_bundle, verify_bundle
from appliance.catalog.roster import ApplyResult, apply_catalog, upsert_attendees
from appliance.config import DataDir
from sync.sqlite_writer import SQLiteWriter

#: progress(phase, done, total): "checking" rows, then "writing" rows and search rows;
#: called every few thousand rows (from the writer's thread while writing).
Progress = Callable[[str, int, int], None]

#: CSV header names recognised without a ``--map`` (compared case-insensitively).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "attendee_id", "attendee id"),
    "external_ref": ("external_ref", "external ref", "reference", "ticket id", "ticket_id", "position id"),
    "name": ("name", "full name", "full_name", "attendee name", "attendee_name"),
    "first_name": ("first_name", "first name", "given name", "firstname"),
    "last_name": ("last_name", "last name", "family name", "surname", "lastname"),
    "company": ("company", "organisation", "organization", "employer"),
    "email": ("email", "e-mail", "email address", "mail"),
    "order_ref": ("order_ref", "order", "order code", "order_code", "order reference", "order number"),
    "ticket_type": ("ticket_type", "ticket type", "ticket", "product", "category"),
    "nfc_uid": ("nfc_uid", "nfc", "nfc uid", "rfid", "card uid"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # CSV line (1 = header) or attendee position in a bundle (1-based); 0 = whole file
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    result: ApplyResult | None = None

    @property
    def rejected_lines(self) -> set[int]:
        return {p.line for p in self.problems if p.line}


class ImportRejected(Exception):
    def __init__(self, report: ImportReport) -> None:
        super().__init__(f"{len(report.rejected_lines) or 'the'} rows rejected; nothing was imported")
        self.report = report


# --- bundles ---------------------------------------------------------------------------


def check_catalog(catalog: Catalog) -> list[Problem]:
    """Cross-field checks a schema cannot express (references and uniqueness)."""
    problems: list[Problem] = []
    try:  # times in reasons and day lists are read in the event's zone: an unknown one is an error
        ZoneInfo(catalog.event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(0, "event.timezone", f"unknown time zone '{catalog.event.timezone}'"))
    types = {t.id for t in catalog.ticket_types}  # every bundle, delta or not, carries them all
    lists = {lst.id for lst in catalog.lists}
    for lst in catalog.lists:
        for t in lst.ticket_types or []:
            if t not in types:
                problems.append(Problem(0, f"lists.{lst.id}", f"unknown ticket type '{t}'"))
    for gate in catalog.gates:
        if gate.default_list not in lists:
            problems.append(Problem(0, f"gates.{gate.id}", f"unknown default list '{gate.default_list}'"))
    seen: dict[str, int] = {}
    tags: dict[str, int] = {}
    for n, a in enumerate(catalog.attendees, start=1):
        if a.ticket_type_id not in types:
            problems.append(Problem(n, "ticket_type_id", f"unknown ticket type '{a.ticket_type_id}'"))
        if a.id in seen:
            problems.append(Problem(n, "id", f"duplicate of attendee {seen[a.id]} ('{a.id}')"))
        seen.setdefault(a.id, n)
        if a.nfc_uid:
            if a.nfc_uid in tags:
                problems.append(
                    Problem(n, "nfc_uid", f"tag {a.nfc_uid} is also attendee {tags[a.nfc_uid]}'s")
                )
            tags.setdefault(a.nfc_uid, n)
    return problems


def _writing(progress: Progress | None) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress("writing", done, total)


def apply_bundle_job(
    catalog: Catalog, digest: str, progress: Progress | None = None
) -> Callable[[sqlite3.Connection], ApplyResult]:
    return lambda conn: apply_catalog(conn, catalog, digest, _writing(progress))


# --- CSV -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CsvOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # our field -> CSV column
    default_ticket_type: str | None = None
    delimiter: str | None = None  # None: sniffed (comma, semicolon or tab)


def _columns(header: list[str], options: CsvOptions) -> tuple[dict[str, int], list[Problem]]:
    lowered = {h.strip().lower(): i for i, h in enumerate(header)}
    columns: dict[str, int] = {}
    problems = []
    for ours, theirs in options.mapping.items():
        if ours not in SYNONYMS:
            problems.append(Problem(1, ours, f"unknown field; mappable fields: {', '.join(SYNONYMS)}"))
        elif theirs.strip().lower() not in lowered:
            problems.append(Problem(1, ours, f"column '{theirs}' is not in the header"))
        else:
            columns[ours] = lowered[theirs.strip().lower()]
    for ours, names in SYNONYMS.items():
        if ours not in columns:
            found = next((lowered[n] for n in names if n in lowered), None)
            if found is not None:
                columns[ours] = found
    if "name" not in columns and not {"first_name", "last_name"} & columns.keys():
        problems.append(Problem(1, "name", "no name column (map one with --map name=COLUMN)"))
    if "ticket_type" not in columns and options.default_ticket_type is None:
        problems.append(Problem(1, "ticket_type", "no ticket type column; map one or pass --ticket-type"))
    return columns, problems


def _derived_id(event_id: str, ref: str, email: str, name: str) -> str:
    basis = ref or f"{email.lower()}|{name}"
    return "c" + hashlib.sha256(f"{event_id}|{basis}".encode()).hexdigest()[:20]


def read_csv(
    text: str,
    event_id: str,
    ticket_types: dict[str, str],
    options: CsvOptions,
    *,
    progress: Progress | None = None,
) -> tuple[list[tuple[int, Attendee]], list[Problem], int]:
    """Parse and validate every row; return (valid rows with their line, problems, row count).

    A file the csv module cannot parse at all (a cell over its size limit, a NUL byte)
    is one problem for the whole file, never an exception: the caller reports it like any other.
    """
    try:
        return _read_csv(text, event_id, ticket_types, options, progress)
    except csv.Error as exc:
        return [], [Problem(0, "file", f"the file is not readable as CSV ({exc})")], 0


def _read_csv(
    text: str,
    event_id: str,
    ticket_types: dict[str, str],
    options: CsvOptions,
    progress: Progress | None,
) -> tuple[list[tuple[int, Attendee]], list[Problem], int]:
    sample = text[:8192]
    delimiter = options.delimiter
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return [], [Problem(0, "file", "the file is empty")], 0
    columns, problems = _columns(header, options)
    if problems:
        return [], problems, 0
    by_name = {name.strip().lower(): tid for tid, name in ticket_types.items()}
    total = max(text.count("\n"), 1)
    rows: list[tuple[int, Attendee]] = []
    seen: dict[str, int] = {}
    tags: dict[str, int] = {}  # a tag opens the door for one person only
    count = 0
    for cells, line in _numbered(reader):
        count += 1
        if progress is not None and count % 5000 == 0:
            progress("checking", count, total)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(line, "row", f"{len(cells)} cells, the header has {len(header)}"))
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = columns.get(name)
            return cells[i].strip() if i is not None else ""

        name = cell("name") or " ".join(p for p in (cell("first_name"), cell("last_name")) if p)
        ticket = cell("ticket_type") or options.default_ticket_type or ""
        ticket_id = ticket if ticket in ticket_types else by_name.get(ticket.lower())
        if ticket_id is None:
            known = ", ".join(f"{tid} ({n})" for tid, n in sorted(ticket_types.items())) or "none"
            problems.append(Problem(line, "ticket_type", f"unknown ticket type '{ticket}'; known: {known}"))
            continue
        nfc = cell("nfc_uid").replace(":", "").replace(" ", "").upper()
        raw = {
            "id": cell("id") or _derived_id(event_id, cell("external_ref"), cell("email"), name),
            "name": name,
            "ticket_type_id": ticket_id,
            "company": cell("company"),
            "email": cell("email"),
            "order_ref": cell("order_ref"),
            "external_ref": cell("external_ref"),
            "nfc_uid": nfc,
        }
        try:
            attendee = msgspec.convert(raw, Attendee)
        except msgspec.ValidationError as exc:
            problems.append(Problem(line, _field_of(exc), _plain(exc)))
            continue
        if attendee.id in seen:
            problems.append(Problem(line, "id", f"same attendee as line {seen[attendee.id]}"))
            continue
        if attendee.nfc_uid:
            if attendee.nfc_uid in tags:
                problems.append(
                    Problem(
                        line, "nfc_uid", f"tag {attendee.nfc_uid} is also on line {tags[attendee.nfc_uid]}"
                    )
                )
                continue
            tags[attendee.nfc_uid] = line
        seen[attendee.id] = line
        rows.append((line, attendee))
    return rows, problems, count


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[list[str], int]]:
    for cells in reader:
        yield cells, reader.line_num  # type: ignore[attr-defined]


def _field_of(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    return text.rsplit("$.", 1)[-1].rstrip("`") if "$." in text else "row"


def _plain(exc: msgspec.ValidationError) -> str:
    text = str(exc).split(" - at ")[0]
    replacements = {
        "Expected `str` of length >= 1": "must not be empty",
        "Expected `str` of length <= 200": "is longer than 200 characters",
        "Expected `str` matching regex": "has an invalid format",
    }
    for prefix, plain in replacements.items():
        if text.startswith(prefix):
            return plain
    return text


def sign_missing_badges(event_id: str, attendees: list[Attendee], signer: BadgeSigner) -> list[Attendee]:
    """Give every row without a badge code one signed by the event key held here.

    Done before the write (in a worker thread), never inside it: signing
    180,000 badges takes seconds, and the single writer must not wait on it.
    """
    return [
        a
        if a.badge_code
        else msgspec.structs.replace(
            a, badge_code=signer.sign(BadgePayload(event_id, a.id, a.ticket_type_id))
        )
        for a in attendees
    ]


def csv_job(
    event_id: str, attendees: list[Attendee], progress: Progress | None = None
) -> Callable[[sqlite3.Connection], ApplyResult]:
    """Upsert CSV rows as one transaction."""

    def job(conn: sqlite3.Connection) -> ApplyResult:
        added, updated = upsert_attendees(conn, event_id, attendees, "import", _writing(progress))
        revision = conn.execute("SELECT revision FROM catalog_event WHERE id = ?", (event_id,)).fetchone()
        return ApplyResult(int(revision[0]) if revision else 0, added, updated, 0)

    return job


def read_path(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror}") from None


async def import_bundle(
    data: DataDir, writer: SQLiteWriter, raw: bytes, event: str, progress: Progress | None = None
) -> ImportReport:
    """Verify and apply a signed bundle (all or nothing), then keep it for relaying to peers."""
    config = data.load()
    if event not in config.events:
        raise BundleError(f"this appliance does not serve event '{event}'")
    bundle = decode_bundle(raw)
    snapshot = bundle.catalog.base_revision is None
    relay = data.relay_bundle(event)
    pending = relay.with_suffix(".pending")
    if snapshot:
        # Kept byte for byte, so a peer appliance that joins while the internet is down can
        # fetch it from us and verify the hub's signature itself.  Written now, so the
        # caller's copy of the bytes (~75 MB at 180k attendees) is not held during the apply.
        pending.write_bytes(raw)
    del raw  # the caller passes the bytes without keeping them (see import_file)
    try:
        digest = verify_bundle(bundle, [unb64(k) for k in config.catalog_keys])
        catalog = bundle.catalog
        del bundle
        if catalog.event.id != event:
            raise BundleError(f"the bundle is for event '{catalog.event.id}', not '{event}'")
        report = ImportReport(rows=len(catalog.attendees), problems=check_catalog(catalog))
        if report.problems:  # a signed bundle is all or nothing: the hub must fix its data
            raise ImportRejected(report)
        report.result = await writer.run(apply_bundle_job(catalog, digest, progress))
        if snapshot:
            os.replace(pending, relay)
        return report
    finally:
        pending.unlink(missing_ok=True)


async def import_csv(
    data: DataDir,
    writer: SQLiteWriter,
    raw: bytes,
    event: str,
    options: CsvOptions,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row, then upsert them in one transaction (or raise :class:`ImportRejected`)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"the CSV is not UTF-8 (byte {exc.start}); export it as UTF-8") from None
    conn = data.reader()
    try:
        types = dict(conn.execute("SELECT id, name FROM catalog_ticket_type WHERE event_id = ?", (event,)))
    finally:
        conn.close()
    if not types:
        raise BundleError(f"event '{event}' has no ticket types here yet: import its catalog bundle first")
    rows, problems, count = read_csv(text, event, types, options, progress=progress)
    report = ImportReport(rows=count, problems=problems)
    if problems and (not skip_invalid or not rows):
        raise ImportRejected(report)
    attendees = [a for _, a in rows]
    key = data.event_key(event)
    if key is not None:
        attendees = await asyncio.to_thread(sign_missing_badges, event, attendees, BadgeSigner(key))
    report.result = await writer.run(csv_job(event, attendees, progress))
    return report


async def import_file(
    data: DataDir,
    path: Path,
    *,
    fmt: str | None = None,
    event_id: str | None = None,
    options: CsvOptions | None = None,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Import FILE (``fmt`` ``bundle`` or ``csv``, default from the name) from the command line.

    The write takes SQLite's write lock (``busy_timeout``), so it is safe
    while the appliance is serving; ``PUT /api/v1/catalog`` does the same
    through the server's own writer.
    """
    from appliance.checkin.projection import ApplianceProjection
    from sync.sqlite_store import SQLiteUpdateStore

    config = data.load()
    event = event_id or config.events[0]
    fmt = fmt or ("csv" if path.suffix.lower() in {".csv", ".tsv", ".txt"} else "bundle")
    store = SQLiteUpdateStore(data.database, projector=ApplianceProjection())
    await store.open()
    try:
        if fmt == "bundle":
            # The bytes go straight into the call: it frees them before the big apply.
            report = await import_bundle(data, store.writer, read_path(path), event, progress)
        else:
            report = await import_csv(
                data,
                store.writer,
                read_path(path),
                event,
                options or CsvOptions(),
                skip_invalid=skip_invalid,
                progress=progress,
            )
        return report
    finally:
        await store.close()
