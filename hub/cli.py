"""``konferenco hub …``: serve, migrate, and bootstrap the first organizer.

Imports are inside the commands: ``konferenco appliance …`` on a venue box
must not pay for (or even have) the hub's dependencies loaded.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import click

DATABASE_OPTION = click.option(
    "--database-url",
    envvar="KONFERENCO_DATABASE_URL",
    default="postgresql://postgres@127.0.0.1:5432/konferenco",
    show_default=True,
    help="PostgreSQL URL (or KONFERENCO_DATABASE_URL). The database must exist.",
)
SECRETS_OPTION = click.option(
    "--secrets",
    "secrets_dir",
    envvar="KONFERENCO_HUB_SECRETS",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/hub/secrets"),
    show_default=True,
    help="Directory of the hub's keys (created on first use, mode 0700; share it between workers).",
)


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def hub() -> None:
    """Run the cloud hub: tenants, catalog, organizer console, enrolment, sync peer."""


@hub.command("migrate")
@DATABASE_OPTION
@click.option("--create-database", is_flag=True, help="Create the database first if it does not exist.")
def hub_migrate(database_url: str, create_database: bool) -> None:
    """Create or upgrade the hub's tables (idempotent)."""
    from hub.db import migrate
    from hub.db.urls import redacted

    try:
        if create_database and asyncio.run(migrate.create_database(database_url)):
            click.echo(f"created {redacted(database_url)}")
        migrate.upgrade(database_url)
    except Exception as exc:  # connection refused, missing database, permission denied…
        raise click.ClickException(f"migrating {redacted(database_url)} failed: {exc}") from None
    click.echo(f"{redacted(database_url)} is at the newest schema")


@hub.command("serve")
@DATABASE_OPTION
@SECRETS_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option(
    "--public-url",
    envvar="KONFERENCO_HUB_URL",
    help="URL devices and browsers reach this hub at (default: http://HOST:PORT).",
)
@click.option("--access-log/--no-access-log", default=False, show_default=True)
def hub_serve(
    database_url: str,
    secrets_dir: Path,
    host: str,
    port: int,
    workers: int,
    public_url: str | None,
    access_log: bool,
) -> None:
    """Serve the API, the console at /console and sync at /sync on HOST:PORT."""
    import uvicorn

    from hub.settings import HubSettings
    from sync.protocol import TRANSPORT_MAX_FRAME

    settings = HubSettings(
        database_url=database_url,
        secrets_dir=secrets_dir.resolve(),
        public_url=public_url or f"http://{host}:{port}",
    )
    os.environ.update(settings.to_env())  # each worker process builds its app from these
    uvicorn.run(
        "hub.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        ws_max_size=TRANSPORT_MAX_FRAME,  # over our cap, so our decoder refuses with 4413
        log_config=None,
        access_log=access_log,
        proxy_headers=True,
        server_header=False,
        timeout_graceful_shutdown=5,
    )


@hub.command("create-organization")
@DATABASE_OPTION
@click.option("--name", required=True, help="The organization's display name.")
@click.option("--slug", required=True, help="Short name used in URLs (a-z, 0-9, '-').")
@click.option(
    "--tier",
    type=click.Choice(["free", "professional", "enterprise", "conference"]),
    default="free",
    show_default=True,
)
@click.option("--owner-email", required=True)
@click.option("--owner-name", default="")
@click.password_option("--owner-password", envvar="KONFERENCO_OWNER_PASSWORD", help="At least 10 characters.")
def hub_create_organization(
    database_url: str, name: str, slug: str, tier: str, owner_email: str, owner_name: str, owner_password: str
) -> None:
    """Create an organization and its owner account (the first sign-in of a new hub)."""
    from hub.db.session import Database
    from hub.tenants.accounts import create_account, create_organization
    from konferenco.errors import KonferencoError

    async def run() -> None:
        db = Database(database_url, pool_size=1)
        try:
            async with db.system() as conn:  # system: creating a tenant precedes any tenant
                existing = (
                    await conn.exec_driver_sql(
                        "SELECT id FROM account WHERE lower(email) = lower($1)", (owner_email,)
                    )
                ).first()
                account = (
                    str(existing.id)
                    if existing
                    else await create_account(conn, owner_email, owner_password, owner_name)
                )
                await create_organization(conn, name, slug, account, tier)
        finally:
            await db.close()

    try:
        asyncio.run(run())
    except KonferencoError as exc:
        raise _fail(exc) from None
    click.echo(f"organization {slug} created; {owner_email} is its owner. Sign in at /console.")


@hub.group("schedule")
def hub_schedule() -> None:
    """An event's schedule on the hub: import pretalx/frab files."""


@hub_schedule.command("import")
@DATABASE_OPTION
@click.option("--event", "event_id", required=True, help="The event's id (as in the console's URL).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option(
    "--approve-overlaps",
    "overlaps",
    metavar="REASON",
    help="Approve the file's own room overlaps (two of its sessions in one room at once) with this "
    "reason, recorded on each; without it such a file is refused.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def hub_schedule_import(
    database_url: str, event_id: str, dry_run: bool, overlaps: str | None, file: Path
) -> None:
    """Import FILE (pretalx/frab schedule JSON or frab schedule.xml) into EVENT's schedule.

    Rooms and sessions are created or updated by their stable ids; nothing is
    deleted.  Safe while the hub serves: the change goes into the event's
    control document like an organizer's edit, and every worker and
    appliance receives it by sync.  Exits 1 with every problem listed when
    the file or the result is refused; nothing is written then.
    """
    from konferenco.errors import KonferencoError

    data = file.read_bytes()
    try:
        lines = asyncio.run(
            _import_schedule(database_url, event_id, file.name, data, dry_run=dry_run, overlaps=overlaps)
        )
    except KonferencoError as exc:
        click.echo(f"refused: {exc.message}", err=True)
        for problem in exc.details.get("problems", []):
            where = problem.get("where", "")
            source = f" [{problem['source_id']}]" if problem.get("source_id") else ""
            click.echo(f"  {where}{source}: {problem.get('reason', '')}", err=True)
        for finding in exc.details.get("findings", []):
            click.echo(f"  {finding.get('rule', '')}: {finding.get('message', '')}", err=True)
        raise SystemExit(1) from None
    for line in lines:
        click.echo(line)


#: The account id the import is recorded with: the command has no account, it is the operator.
OPERATOR = "00000000-0000-0000-0000-000000000000"


async def _import_schedule(
    database_url: str,
    event_id: str,
    filename: str,
    data: bytes,
    *,
    dry_run: bool,
    overlaps: str | None = None,
) -> list[str]:
    """Import into the event as its organization's owner; the report's lines (or the refusal raised).

    Reaches PostgreSQL like ``create-organization`` (a :class:`Database`), and
    writes the control document through a replica of its own over the update
    log the workers share: the append notifies them (``hub.peer.fanout``), so a
    serving hub applies the import at once and relays it to the appliances.
    """
    from dataclasses import dataclass

    from hub.db.session import Database
    from hub.db.urls import plain_url
    from hub.peer.projection import HubProjection
    from hub.peer.store import PostgresUpdateStore
    from hub.schedule import queries, service
    from hub.tenants.accounts import OrgRole, Principal
    from konferenco.errors import NotFound
    from sync.replica import Replica

    @dataclass
    class Host:
        db: Database
        replica: Replica | None

    db = Database(database_url, pool_size=1)
    store = await PostgresUpdateStore.connect(
        plain_url(database_url), min_size=1, max_size=2, projector=HubProjection()
    )
    replica = Replica(store, idle_after=None)
    try:
        await store.open()
        async with db.system() as conn:  # system: the operator names the event, not a tenant
            row = await queries.event_row(conn, event_id)
        if row is None:
            raise NotFound(f"no event {event_id!r} on this hub")
        operator = Principal(OPERATOR, row.org_id, "", OrgRole.OWNER, "konferenco hub schedule import")
        outcome = await service.import_schedule(
            Host(db, replica), operator, event_id, filename, data, dry_run=dry_run, overlap_reason=overlaps
        )
    finally:
        await replica.close()
        await db.close()
    report = outcome.report
    head = "dry run, nothing written. " if outcome.dry_run else ""
    lines = [f"{head}{report.title or 'schedule'} ({outcome.format})", *report.sentences]
    return lines + [f"warning: {f.message}" for f in outcome.warnings]
