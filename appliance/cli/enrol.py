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
@click.option(
    "--hub",
    "hub_url",
    required=True,
    envvar="KONFERENCO_HUB_URL",
    help="The hub's URL, e.g. https://hub.example.com (or KONFERENCO_HUB_URL).",
)
@click.option(
    "--token",
    envvar="KONFERENCO_ENROL_TOKEN",
    help="The one-time enrolment token (ke1_…, or KONFERENCO_ENROL_TOKEN).",
)
@click.option("--name", default="", help="A name for this box in the organizer's device list.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="The port 'appliance serve' will use: if it is taken, stop before spending the token.",
)
@click.option(
    "--if-missing",
    is_flag=True,
    help="Do nothing if DATA already holds an appliance (a box's start-up step: enrol once, then serve).",
)
def enroll(
    data_dir: Path, hub_url: str, token: str | None, name: str, port: int | None, if_missing: bool
) -> None:
    """Enrol a new appliance with a hub and download its event's catalog.

    DATA must not hold an appliance yet. Afterwards 'appliance serve' syncs
    with the hub and keeps the catalog current on its own.
    """
    from appliance.enrolment import CatalogDownloadFailed, enrol_box
    from appliance.hub_link import HubLinkError

    data = DataDir(data_dir)
    if data.exists():
        # A box's start-up step runs at every start (Kubernetes init container); once
        # enrolled, the token it was given is spent and must not be asked for again.
        if if_missing:
            click.echo(f"{data_dir} holds appliance {data.load().device_id} already: nothing to enrol")
            return
        raise click.ClickException(
            f"{data_dir} holds an appliance already; enrol a new box into an empty DIR"
        )
    if not token:
        raise click.ClickException(
            "no enrolment token: give --token ke1_… or set KONFERENCO_ENROL_TOKEN "
            "(the organizer creates one per box in the hub console, under Devices)"
        )

    serve_at = ("127.0.0.1", port) if port is not None else None
    try:
        done = asyncio.run(enrol_box(data, hub_url, token, name, serve_at=serve_at))
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
