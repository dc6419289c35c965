"""The appliance's database, opened outside the server: by the CLI, the demo and tests.

One place says what "the appliance's store" is — the SQLite update log with
the check-in projection attached — so a command that imports a catalog or
reports status opens exactly what the server opens (``appliance/box.py``).
Writes from here take SQLite's write lock (``busy_timeout``), so they are
safe while the appliance is serving.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from appliance.catalog.importer import ImportReport, import_bundle, import_csv, read_path
from appliance.checkin.projection import ApplianceProjection, CapabilitiesOf
from appliance.config import DataDir
from appliance.grassroots.projection import GrassrootsProjection
from konferenco.catalog.csv_reader import CsvOptions, Progress
from sync.permissions import Capability
from sync.replica import Replica
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import Synchronous


def appliance_projection(capabilities_of: CapabilitiesOf | None = None) -> ApplianceProjection:
    """Every table the appliance projects from its documents: check-in, roster, keys, grassroots."""
    extra = (GrassrootsProjection(),)
    if capabilities_of is None:
        return ApplianceProjection(extra=extra)
    return ApplianceProjection(capabilities_of, extra=extra)


def open_replica(
    data: DataDir,
    synchronous: Synchronous = "FULL",
    *,
    capabilities: frozenset[Capability] | None = None,
    capabilities_of: CapabilitiesOf | None = None,
) -> Replica:
    """The replica on a data directory's database, projecting into the appliance's tables.

    ``capabilities``: what this box may write (its configuration); its own
    writes of other kinds are refused.  ``capabilities_of``: what other
    devices may write, from their certificates; their records of other kinds
    are quarantined.  Both default to no check (commands that only read).
    """
    store = SQLiteUpdateStore(
        data.database, projector=appliance_projection(capabilities_of), synchronous=synchronous
    )
    return Replica(store, capabilities=capabilities)


@asynccontextmanager
async def open_store(data: DataDir) -> AsyncIterator[SQLiteUpdateStore]:
    """The update store alone (schema migrated), for one-shot writes such as an import."""
    store = SQLiteUpdateStore(data.database, projector=appliance_projection())
    await store.open()
    try:
        yield store
    finally:
        await store.close()


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
    config = data.load()
    event = event_id or config.events[0]
    fmt = fmt or ("csv" if path.suffix.lower() in {".csv", ".tsv", ".txt"} else "bundle")
    async with open_store(data) as store:
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
