"""``appliance kiosk``: pairing a touch kiosk with this appliance.

``pair-code`` writes a single-use code to the appliance's database, so it
works whether or not the appliance is serving; the kiosk page exchanges it
for its token (``POST /api/v1/kiosk/pair``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from appliance.cli.common import DATA_OPTION, provisioned


@click.group("kiosk")
def kiosk() -> None:
    """Pair touch kiosks with this appliance."""


@kiosk.command("pair-code")
@DATA_OPTION
@click.option(
    "--name", default="Kiosk", show_default=True, help="What staff call this kiosk (e.g. 'Entrance 1')."
)
def pair_code(data_dir: Path, name: str) -> None:
    """Print a 6-digit code to type on a new kiosk (single use, valid 10 minutes)."""
    from appliance.kiosk.pairing import create_code

    data, _ = provisioned(data_dir)
    if not name.strip() or len(name) > 64:
        raise click.BadParameter("give the kiosk a name of 1-64 characters", param_hint="--name")
    code, expires_at = create_code(data, name.strip())
    until = dt.datetime.fromtimestamp(expires_at / 1000).strftime("%H:%M")
    click.echo(code)
    click.echo(f"pairing code for kiosk '{name.strip()}', single use, valid until {until}", err=True)
