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
