"""``appliance enroll``: a new box from a hub's one-time enrolment token."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from appliance.cli.common import DATA_OPTION
from appliance.config import DataDir
from appliance.ports import PortTaken


@click.command("enroll")
@DATA_OPTION
@click.option("--hub", "hub_url", required=True, help="The hub's URL, e.g. https://hub.example.com.")
@click.option(
    "--token", required=True, envvar="KONFERENCO_ENROL_TOKEN", help="The one-time enrolment token (ke1_…)."
)
@click.option("--name", default="", help="A name for this box in the organizer's device list.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="The port 'appliance serve' will use: if it is taken, stop before spending the token.",
)
def enroll(data_dir: Path, hub_url: str, token: str, name: str, port: int | None) -> None:
    """Enrol a new appliance with a hub and download its event's catalog.

    DATA must not hold an appliance yet. Afterwards 'appliance serve' syncs
    with the hub and keeps the catalog current on its own.
    """
    from appliance.enrolment import CatalogDownloadFailed, enrol_box
    from appliance.hub_link import HubLinkError

    serve_at = ("127.0.0.1", port) if port is not None else None
    try:
        done = asyncio.run(enrol_box(DataDir(data_dir), hub_url, token, name, serve_at=serve_at))
    except (HubLinkError, PortTaken) as exc:
        raise click.ClickException(str(exc)) from None
    except CatalogDownloadFailed as exc:
        raise click.ClickException(
            f"enrolled as {exc.config.device_id}, but the catalog download failed: {exc}. "
            "'appliance serve' keeps trying on its own."
        ) from None
    config = done.config
    click.echo(
        f"enrolled as {config.device_id} for event {config.events[0]} "
        f"({', '.join(config.capabilities)}); catalog revision {done.revision}, {done.attendees} attendees"
    )
