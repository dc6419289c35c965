"""``appliance provision``: a venue box's start-up step, which makes its data directory ready once.

On a box run by Kubernetes (``images/k8s/appliance/appliance.yaml``) nobody is there to type
``appliance enroll``: this command runs before the appliance at every start, with what the
machine config gave the pod in its environment (``konferenco talos config``):

1. DATA holds an appliance already: nothing to do (every start after the first);
2. a backup replica is configured and holds a box: restore it (a replacement for a dead box:
   same identity, every backed-up scan; the rest comes back from the hub and peers);
3. else enrol with the hub with the one-time token.

A replica that cannot be read stops the start rather than enrol a new device beside a dead box's
backup; so does a box with neither a backup nor a token.  The kubelet retries, and the pod's
log says what is missing.  Then, for a box with the ``signage`` role, the room signs' broker
configuration is written once (``appliance signage broker-config``).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import click

from appliance.cli.backup import CREDENTIALS_OPTION, URL_ENV, backup_of, restored_lines
from appliance.cli.common import DATA_OPTION
from appliance.cli.enrol import enroll
from appliance.config import DataDir

#: Where a box's Mosquitto reads its configuration (images/k8s/appliance/mosquitto.yaml).
BROKER_DIR = "mosquitto"


@click.command("provision")
@DATA_OPTION
@click.option("--hub", "hub_url", envvar="KONFERENCO_HUB_URL", help="The hub's URL (or KONFERENCO_HUB_URL).")
@click.option(
    "--token", envvar="KONFERENCO_ENROL_TOKEN", help="One-time enrolment token (or KONFERENCO_ENROL_TOKEN)."
)
@click.option("--backup", "backup_url", envvar=URL_ENV, help=f"The box's backup replica URL (or {URL_ENV}).")
@CREDENTIALS_OPTION
@click.option(
    "--roles",
    envvar="KONFERENCO_ROLES",
    default="",
    help="The box's roles, comma-separated (or KONFERENCO_ROLES); 'signage' writes the broker config.",
)
@click.option(
    "--name", envvar="KONFERENCO_VENUE", default="", help="A name for the box in the hub's device list."
)
@click.pass_context
def provision(
    ctx: click.Context,
    data_dir: Path,
    hub_url: str | None,
    token: str | None,
    backup_url: str | None,
    credentials: Path | None,
    roles: str,
    name: str,
) -> None:
    """Make DATA a working appliance, once: restore it from its backup, else enrol it with the hub.

    A venue box's start-up step (it runs before 'appliance serve' at every start); on a box
    that is ready it does nothing.
    """
    from appliance.backup.restore import NoBackup, restore
    from appliance.backup.target import BackupError

    data = DataDir(data_dir)
    if data.exists():
        click.echo(f"{data_dir} holds appliance {data.load().device_id}: ready")
    else:
        restored = False
        if backup_url:
            backup = backup_of(data_dir, backup_url, credentials, "--backup")
            try:
                for line in restored_lines(restore(backup)):
                    click.echo(line)
                click.echo("a replacement box: it catches up from the hub and LAN peers when it serves")
                restored = True
            except NoBackup:
                click.echo(f"no backup at {backup.target.url} yet: a new box, enrolling")
            except BackupError as exc:
                raise click.ClickException(
                    f"{exc}. Not enrolling while the backup cannot be read: this may be a replacement box"
                ) from None
        if not restored:
            if not hub_url or not token:
                raise click.ClickException(
                    "this box holds no appliance, has no backup to restore and no enrolment token: "
                    "HQ gives the token with 'konferenco talos config --enrolment-token-file' "
                    "(docs/venue-day-one.md)"
                )
            ctx.invoke(
                enroll, data_dir=data_dir, hub_url=hub_url, token=token, name=name, port=None, if_missing=True
            )
    if "signage" in {r.strip() for r in roles.split(",")}:
        _broker_config(data)


def _broker_config(data: DataDir) -> None:
    """The room signs' Mosquitto configuration in DATA/mosquitto, written once, kept after."""
    from appliance.cli.signage import write_broker_config
    from appliance.devices.admin import DeviceError

    out = data.path / BROKER_DIR
    if (out / "mosquitto.conf").exists():
        return
    try:
        # the pod's own user (uid 10001) runs the broker beside it (images/k8s/appliance/mosquitto.yaml)
        user = pwd.getpwuid(os.getuid()).pw_name
        written = write_broker_config(data, data.load(), out, user=user)
    except (DeviceError, ValueError) as exc:
        raise click.ClickException(f"cannot write the signs' broker configuration: {exc}") from None
    click.echo(f"wrote the room signs' broker configuration into {out} ({len(written.files)} files)")
