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
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from appliance.catalog.roster import ApplyResult, apply_catalog, upsert_attendees
from appliance.config import DataDir
from konferenco.badges import BadgeSigner, unb64
from konferenco.catalog.bundle import Attendee, BundleError, Catalog, decode_bundle, verify_bundle
from konferenco.catalog.csv_reader import CsvOptions, Problem, Progress, read_csv, sign_missing_badges
from sync.sqlite_writer import SQLiteWriter


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
