"""Catalog import: 180,000 attendees into a fresh appliance, wall time and peak RSS.

"Import of a 180,000-attendee catalog: wall time and peak RSS.  Target
≤ 10 s, ≤ 300 MB." (issue #3)

Preparation (not timed): one signed bundle of 180,000 demo attendees, each
with an Ed25519-signed badge code (``appliance.demo.catalog`` +
``sign_catalog``), the same people as a CSV file (no badge codes), and two
template data directories made by ``konferenco appliance init``: one empty
(for the bundle), one holding the same catalog without attendees (a CSV
import needs the ticket types; it has no event key, so no badge is signed).

Each repetition copies a template and runs the real command,
``konferenco appliance import --data DIR FILE``, in a fresh child process:
wall time from spawn to exit, peak RSS from ``wait4`` of that child alone.
The floor, in the same run: stdlib ``sqlite3`` (WAL, ``synchronous=FULL``)
inserting the same 180,000 rows with one ``executemany`` into a plain table
with the attendee columns, plus their (already folded) FTS5 rows, in one
transaction — no parsing, validation or signature check.

Also runnable alone, with cProfile in the import process:
``python -m bench.checkin_import --profile DIR`` (cProfile sees the main
thread only: the transaction, on the SQLite writer thread, shows as waiting;
the "where the time goes" table times the two halves apart).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance import demo
from appliance.catalog.schema import migrate
from bench.common import (
    EVENT,
    ROOT,
    BenchResult,
    Row,
    Series,
    Table,
    Verdict,
    konferenco,
    konferenco_command,
    progress,
)
from konferenco.badges import BadgeSigner, b64, raw_public_key
from konferenco.catalog.bundle import Catalog, sign_catalog
from konferenco.text import fold
from sync.sqlite_writer import connect

ATTENDEES = 180_000
SEED = 1
TARGET_S = 10.0
TARGET_MB = 300.0
TIMEOUT = 600.0

_COLUMNS = (
    "event_id",
    "id",
    "external_ref",
    "name",
    "company",
    "email",
    "order_ref",
    "ticket_type_id",
    "badge_code",
    "nfc_uid",
    "valid_from",
    "valid_until",
    "status",
    "source",
    "updated_at",
)
# The floor's tables: the attendee columns without any index, and the appliance's FTS5 definition.
_FLOOR_SCHEMA = f"""
CREATE TABLE attendee (rowid INTEGER PRIMARY KEY, {", ".join(_COLUMNS)});
CREATE VIRTUAL TABLE attendee_fts USING fts5(
    name, company, email, order_ref, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
)
"""
_INSERT_ATTENDEE = f"INSERT INTO attendee ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_INSERT_FTS = "INSERT INTO attendee_fts (rowid, name, company, email, order_ref) VALUES (?, ?, ?, ?, ?)"


# --- preparation -------------------------------------------------------------------------


@dataclass
class Prepared:
    bundle: Path
    csv: Path
    bundle_template: Path  # an init'ed data directory, nothing imported
    csv_template: Path  # an init'ed data directory holding the catalog without attendees
    bundle_bytes: int
    csv_bytes: int
    rows: list[tuple[Any, ...]] = field(repr=False)  # attendee rows, for the floor
    fts_rows: list[tuple[Any, ...]] = field(repr=False)


def _write_csv(path: Path, catalog: Catalog) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "company", "email", "order_ref", "ticket_type", "nfc_uid"])
        writer.writerows(
            (a.id, a.name, a.company, a.email, a.order_ref, a.ticket_type_id, a.nfc_uid)
            for a in catalog.attendees
        )


def prepare(root: Path) -> Prepared:
    """Sign the catalog once and make the template data directories."""
    event_key = Ed25519PrivateKey.generate()
    catalog_key = Ed25519PrivateKey.generate()
    trusted = b64(raw_public_key(catalog_key.public_key()))
    t = time.monotonic()
    catalog = demo.catalog(EVENT, ATTENDEES, SEED, BadgeSigner(event_key), dt.datetime.now(dt.UTC).date())
    bundle = root / "catalog-180k.json"
    bundle.write_bytes(sign_catalog(catalog, catalog_key))
    progress(f"signed {ATTENDEES:,} badges and the bundle in {time.monotonic() - t:.1f} s")
    people = root / "people-180k.csv"
    _write_csv(people, catalog)

    bundle_template = root / "template-bundle"
    csv_template = root / "template-csv"
    for template in (bundle_template, csv_template):
        konferenco("appliance", "init", "--data", str(template), "--event", EVENT, "--catalog-key", trusted)
    empty = root / "catalog-empty.json"
    empty.write_bytes(sign_catalog(msgspec.structs.replace(catalog, attendees=[]), catalog_key))
    konferenco("appliance", "import", "--data", str(csv_template), str(empty))

    at = int(time.time() * 1000)
    rows = [
        (
            EVENT,
            a.id,
            a.external_ref or None,
            a.name,
            a.company,
            a.email,
            a.order_ref,
            a.ticket_type_id,
            a.badge_code or None,
            a.nfc_uid or None,
            a.valid_from,
            a.valid_until,
            a.status,
            "catalog",
            at,
        )
        for a in catalog.attendees
    ]
    fts_rows = [
        (n, fold(a.name), fold(a.company), fold(a.email), fold(a.order_ref))
        for n, a in enumerate(catalog.attendees, start=1)
    ]
    return Prepared(
        bundle,
        people,
        bundle_template,
        csv_template,
        bundle.stat().st_size,
        people.stat().st_size,
        rows,
        fts_rows,
    )


# --- the floor ---------------------------------------------------------------------------


def floor(path: Path, rows: list[tuple[Any, ...]], fts_rows: list[tuple[Any, ...]], real: bool) -> float:
    """Seconds to insert the rows and their FTS5 rows in one transaction.

    ``real=False``: the floor (a plain table, no index).  ``real=True``: the
    appliance's own schema (``migrate``), i.e. with the attendee table's
    three indexes — to show what the indexes add.
    """
    conn = connect(path, synchronous="FULL")
    try:
        if real:
            migrate(conn)
        else:
            for statement in _FLOOR_SCHEMA.split(";"):
                conn.execute(statement)
        t0 = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(_INSERT_ATTENDEE, rows)
        conn.executemany(_INSERT_FTS, fts_rows)
        conn.execute("COMMIT")
        return time.perf_counter() - t0
    finally:
        conn.close()


# --- one import in a child process -------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    wall_s: float
    peak_mb: float
    cpu_s: float
    output: str


# Why a wrapper: subprocess spawns with vfork, and Linux records the spawning process's peak RSS in
# the child's ru_maxrss at exec; this benchmark holds the 180k rows (~300 MB), so a child spawned
# directly from it would report at least that.  This tiny interpreter (stdlib only, ~10 MB) spawns
# the command, reaps it with wait4 and writes its wall time, peak RSS and CPU to argv[1].
_WRAPPER = """
import json, os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t0
with open(sys.argv[1], "w") as f:
    json.dump({"wall": wall, "maxrss_kib": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime,
               "code": os.waitstatus_to_exitcode(status)}, f)
"""


def measure_child(args: list[str], log: Path, env: dict[str, str] | None = None) -> Measured:
    """Run one command; its wall time, and its own peak RSS and CPU from ``wait4``."""
    report = log.with_suffix(".rusage.json")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _WRAPPER, str(report), *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        try:
            proc.wait(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()  # by PID: the wrapper this function started
                proc.wait()
    text = log.read_text(errors="replace")
    if proc.returncode != 0 or not report.exists():
        raise RuntimeError(f"the wrapper of {' '.join(args[-4:])} failed: {text[-2000:]}")
    usage = msgspec.json.decode(report.read_bytes())
    if usage["code"] != 0:
        raise RuntimeError(f"{' '.join(args[-4:])} exited with {usage['code']}: {text[-2000:]}")
    # ru_maxrss is in KiB on Linux.
    return Measured(usage["wall"], usage["maxrss_kib"] * 1024 / 1e6, usage["cpu"], text)


def _count_attendees(data: Path) -> int:
    with contextlib.closing(sqlite3.connect(data / "appliance.db")) as conn:
        return int(conn.execute("SELECT count(*) FROM attendee").fetchone()[0])


def import_once(template: Path, file: Path, workdir: Path, name: str) -> Measured:
    """Copy the template data directory and import FILE into it in a fresh process."""
    data = workdir / name
    shutil.copytree(template, data)
    try:
        measured = measure_child(
            [*konferenco_command(), "appliance", "import", "--data", str(data), str(file)],
            workdir / f"{name}.log",
        )
        held = _count_attendees(data)
        if held != ATTENDEES:
            raise RuntimeError(f"{name}: the appliance holds {held:,} attendees, expected {ATTENDEES:,}")
        return measured
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --- where the time goes (in this process) ------------------------------------------------


@dataclass(frozen=True)
class Split:
    read_check_s: float  # read the file, decode, re-encode + verify the signature, check references
    apply_s: float  # apply_catalog in one transaction on the writer thread (FULL)
    fold_s: float  # folding the search text of every attendee alone (part of apply)


async def _apply(database: Path, catalog: Catalog, digest: str) -> float:
    from appliance.catalog.roster import apply_catalog
    from appliance.checkin.projection import ApplianceProjection
    from sync.sqlite_store import SQLiteUpdateStore

    store = SQLiteUpdateStore(database, projector=ApplianceProjection())
    await store.open()
    try:
        t0 = time.perf_counter()
        await store.writer.run(lambda conn: apply_catalog(conn, catalog, digest))
        return time.perf_counter() - t0
    finally:
        await store.close()


def split(template: Path, bundle: Path, data: Path) -> Split:
    """The bundle import's two halves, timed apart through the importer's own functions."""
    import asyncio

    from appliance.catalog.importer import check_catalog
    from appliance.config import DataDir
    from konferenco.badges import unb64
    from konferenco.catalog.bundle import read_bundle

    shutil.copytree(template, data)
    try:
        appliance = DataDir(data)
        trusted = [unb64(k) for k in appliance.load().catalog_keys]
        t0 = time.perf_counter()
        catalog, digest = read_bundle(bundle.read_bytes(), trusted)
        problems = check_catalog(catalog)
        read_check = time.perf_counter() - t0
        if problems:
            raise RuntimeError(f"the bundle has problems: {problems[:3]}")
        t0 = time.perf_counter()
        for a in catalog.attendees:
            for text in (a.name, a.company, a.email, a.order_ref):
                fold(text)
        folding = time.perf_counter() - t0
        return Split(read_check, asyncio.run(_apply(appliance.database, catalog, digest)), folding)
    finally:
        shutil.rmtree(data, ignore_errors=True)


# --- the benchmark -----------------------------------------------------------------------


def run(repetitions: int = 3) -> BenchResult:
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-import-") as tmp:
        root = Path(tmp)
        progress(f"catalog import: preparing a signed bundle of {ATTENDEES:,} attendees (not timed)")
        prepared = prepare(root)
        floors: list[float] = []
        real_schema: list[float] = []
        bundles: list[Measured] = []
        csvs: list[Measured] = []
        startups: list[Measured] = []
        splits: list[Split] = []
        for rep in range(repetitions):
            progress(f"catalog import, repetition {rep + 1}/{repetitions}: floor")
            floors.append(floor(root / f"floor-{rep}.db", prepared.rows, prepared.fts_rows, real=False))
            real_schema.append(floor(root / f"real-{rep}.db", prepared.rows, prepared.fts_rows, real=True))
            for path in root.glob(f"*-{rep}.db*"):
                path.unlink()
            progress(f"catalog import, repetition {rep + 1}/{repetitions}: bundle")
            bundles.append(import_once(prepared.bundle_template, prepared.bundle, root, f"bundle-{rep}"))
            progress(
                f"bundle: {bundles[-1].wall_s:.2f} s, {bundles[-1].peak_mb:.0f} MB "
                f"(floor {floors[-1]:.2f} s); CSV"
            )
            csvs.append(import_once(prepared.csv_template, prepared.csv, root, f"csv-{rep}"))
            progress(f"CSV: {csvs[-1].wall_s:.2f} s, {csvs[-1].peak_mb:.0f} MB")
            startups.append(
                measure_child(
                    [*konferenco_command(), "appliance", "import", "--help"], root / f"help-{rep}.log"
                )
            )
            progress(f"catalog import, repetition {rep + 1}/{repetitions}: the bundle import's halves")
            splits.append(split(prepared.bundle_template, prepared.bundle, root / f"split-{rep}"))
    return _result(prepared, floors, real_schema, bundles, csvs, startups, splits)


def _result(
    prepared: Prepared,
    floors: list[float],
    real_schema: list[float],
    bundles: list[Measured],
    csvs: list[Measured],
    startups: list[Measured],
    splits: list[Split],
) -> BenchResult:
    floor_s = Series.of(floors, "s")
    label = f"floor: {ATTENDEES // 1000}k rows + FTS5, 1 txn"
    bundle_s = Series.of([m.wall_s for m in bundles], "s")
    bundle_mb = Series.of([m.peak_mb for m in bundles], "MB")
    csv_s = Series.of([m.wall_s for m in csvs], "s")
    csv_mb = Series.of([m.peak_mb for m in csvs], "MB")
    startup_s = Series.of([m.wall_s for m in startups], "s")
    startup_mb = Series.of([m.peak_mb for m in startups], "MB")
    rows = [
        Row(
            f"signed bundle import, {ATTENDEES:,} attendees: wall time",
            bundle_s,
            floor_s,
            label,
            f"≤ {TARGET_S:.0f} s",
        ),
        Row(
            "signed bundle import: peak RSS of the import process", bundle_mb, target=f"≤ {TARGET_MB:.0f} MB"
        ),
        Row(f"CSV import, same {ATTENDEES:,} people (no badge signing): wall time", csv_s, floor_s, label),
        Row("CSV import: peak RSS of the import process", csv_mb),
        Row(
            f"the floor's rows into the appliance's schema (with its 3 attendee indexes), {ATTENDEES:,} rows",
            Series.of(real_schema, "s"),
            floor_s,
            label,
        ),
        Row("`konferenco appliance import --help` (interpreter + CLI start): wall time", startup_s),
        Row("`konferenco appliance import --help`: peak RSS", startup_mb),
    ]
    ratio = bundle_s.median / floor_s.median
    verdicts = [
        Verdict(
            f"import of a {ATTENDEES:,}-attendee catalog ≤ {TARGET_S:.0f} s",
            f"{bundle_s.median:.2f} s ({ratio:.1f}x the floor of {floor_s.median:.2f} s)",
            bundle_s.median <= TARGET_S,
        ),
        Verdict(
            f"peak RSS of that import ≤ {TARGET_MB:.0f} MB",
            f"{bundle_mb.median:.0f} MB",
            bundle_mb.median <= TARGET_MB,
        ),
    ]

    def med(values: list[float]) -> str:
        return f"{Series.of(values, '').median:.2f}"

    cpu = Table(
        "CPU time of the import processes (user+sys, medians)",
        ("import", "wall (s)", "CPU (s)", "input file"),
        (
            ("signed bundle", med([m.wall_s for m in bundles]), med([m.cpu_s for m in bundles]),
             f"{prepared.bundle_bytes / 1e6:.1f} MB JSON"),
            ("CSV", med([m.wall_s for m in csvs]), med([m.cpu_s for m in csvs]),
             f"{prepared.csv_bytes / 1e6:.1f} MB CSV"),
        ),
    )  # fmt: skip
    where = Table(
        "Where the bundle import's time goes (medians; the halves are timed in the benchmark's own process "
        "through the importer's functions)",
        ("part", "seconds"),
        (
            ("interpreter + CLI start (`--help`)", med([m.wall_s for m in startups])),
            ("read, decode, re-encode + verify the signature, check references (`read_bundle`, "
             "`check_catalog`)", med([s.read_check_s for s in splits])),
            ("apply in one transaction (`apply_catalog` on the writer thread)",
             med([s.apply_s for s in splits])),
            (f"... of which: folding the search text (`fold` x 4 fields x {ATTENDEES:,}, timed alone)",
             med([s.fold_s for s in splits])),
            ("the floor (plain table + FTS5, pre-folded, one `executemany` each)", med(floors)),
            ("the whole import, as run by the CLI", med([m.wall_s for m in bundles])),
        ),
    )  # fmt: skip
    notes = [
        "Each import runs in a fresh process on a fresh copy of an `appliance init`ed data directory "
        "(the database and its schema are created by the import itself), so the times include the "
        "interpreter start and the CLI's imports (the `--help` row) and the peak RSS is that of the "
        "import alone.",
        "The bundle import reads the JSON, decodes and re-encodes the catalog to check its Ed25519 "
        "signature, checks references and uniqueness, then writes every attendee and its folded FTS5 row "
        "in one transaction. The CSV import parses and validates each row and writes the same tables; "
        "its data directory holds the event's catalog (without attendees) and no event key, so no badge "
        "is signed.",
        "The floor inserts pre-built tuples (search text already folded) into a table without indexes; "
        "the appliance's schema also keeps a unique (event_id, id) index and two lookup indexes, shown "
        "in its own row. The demo people are 30% with an NFC tag, names with diacritics.",
    ]
    return BenchResult(
        title=f"Catalog import: {ATTENDEES:,} attendees",
        method=(
            f"`konferenco appliance import --data DIR FILE` of a signed bundle of {ATTENDEES:,} demo "
            "attendees with Ed25519-signed badge codes (made once, not timed), in a fresh child process "
            "per repetition: wall time from spawn to exit, peak RSS from `wait4` of that child "
            f"(`ru_maxrss`). Second row: the same {ATTENDEES:,} people as CSV. Floor, measured in the "
            "same run before each import: stdlib `sqlite3`, WAL, `synchronous=FULL`, one transaction "
            "with one `executemany` of the same rows into a plain table with the attendee columns and "
            "one of their FTS5 rows (the appliance's FTS5 definition)."
        ),
        repetitions=len(bundles),
        rows=rows,
        verdicts=verdicts,
        details=[cpu, where],
        notes=notes,
    )


# --- profiling ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="Import the 180k bundle once under cProfile.")
    parser.add_argument("--profile", type=Path, required=True, help="Directory for import.prof.")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile.resolve() / "import.prof"
    with tempfile.TemporaryDirectory(prefix="konferenco-bench-import-") as tmp:
        prepared = prepare(Path(tmp))
        data = Path(tmp) / "profiled"
        shutil.copytree(prepared.bundle_template, data)
        measured = measure_child(
            [
                *(sys.executable, "-m", "cProfile", "-o", str(out), "-m", "konferenco.cli"),
                *("appliance", "import", "--data", str(data), str(prepared.bundle)),
            ],
            Path(tmp) / "profiled.log",
        )
    progress(f"{measured.wall_s:.2f} s, {measured.peak_mb:.0f} MB (cProfile slows everything down)")
    for order in ("tottime", "cumulative"):
        print(f"\n===== import: top {args.top} by {order} =====")
        pstats.Stats(str(out)).sort_stats(order).print_stats(args.top)


if __name__ == "__main__":
    main()
