"""``appliance devices``: the scanners, readers, printers and signs attached to this appliance."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import DATA_OPTION, provisioned
from appliance.devices.admin import (
    DOMAINS,
    DeviceError,
    add_device,
    device_states,
    parse_settings,
    remove_device,
    set_auto_print,
)


@click.group("devices", invoke_without_command=True)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The appliance's data directory (lists its devices when no subcommand is given).",
)
@click.option(
    "--port", default=8080, show_default=True, type=int, help="Where the appliance serves, for live state."
)
@click.pass_context
def devices(ctx: click.Context, data_dir: Path | None, port: int) -> None:
    """List this appliance's devices and their state (scanners, readers, printers, signage).

    With the appliance serving on PORT, the state is live (connected, why not,
    scans seen); otherwise the configured devices are listed as not running.
    """
    if ctx.invoked_subcommand is not None:
        return
    if data_dir is None:
        raise click.UsageError("give --data DIR (or a subcommand: add, remove, auto-print)")
    data, config = provisioned(data_dir)
    rows, found = device_states(data, config, port)
    if not rows:
        click.echo("no devices configured; add one with 'konferenco appliance devices add'")
        return
    for row in rows:
        where = f" at gate {row.gate}" if row.gate else ""
        detail = f" ({row.detail})" if row.detail else ""
        click.echo(f"{row.id:<16} {row.domain}/{row.kind}{where}: {row.state}{detail}")
    for gate, printer in sorted(config.auto_print.items()):
        click.echo(f"gate {gate} prints badges on first admission on {printer}")
    for service in found:
        where = f"{service.host}:{service.port}" if service.host else "(not resolved)"
        click.echo(f"discovered {service.kind:<8} {service.name} at {where}")


@devices.command("add")
@DATA_OPTION
@click.option("--id", "device_id", required=True, help="A short name for the device (a-z, 0-9, '-', '.').")
@click.option("--domain", required=True, type=click.Choice(DOMAINS))
@click.option(
    "--kind", default="", help="The variant: printer network|usb|serial|file, scanner hid|serial|lines."
)
@click.option("--name", default="", help="What staff see in the device list.")
@click.option("--gate", help="Scanners and readers: the gate their scans count at.")
@click.option(
    "--desk",
    is_flag=True,
    help="Scanners and readers at the help desk: they admit no one; staff link or look up what they read.",
)
@click.option("--set", "values", multiple=True, metavar="KEY=VALUE", help="A driver setting (repeatable).")
def devices_add(
    data_dir: Path,
    device_id: str,
    domain: str,
    kind: str,
    name: str,
    gate: str | None,
    desk: bool,
    values: tuple[str, ...],
) -> None:
    """Add (or replace) a device; the appliance uses it from its next start."""
    data, config = provisioned(data_dir)
    try:
        add_device(
            data,
            config,
            device_id=device_id,
            domain=domain,
            kind=kind,
            name=name,
            gate=gate,
            settings=parse_settings(values),
            desk=desk,
        )
    except DeviceError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"device {device_id} saved ({domain}/{kind}); restart 'appliance serve' to use it")


@devices.command("remove")
@DATA_OPTION
@click.option("--id", "device_id", required=True)
def devices_remove(data_dir: Path, device_id: str) -> None:
    """Remove a device from this appliance's configuration."""
    data, config = provisioned(data_dir)
    try:
        remove_device(data, config, device_id)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"device {device_id} removed")


@devices.command("auto-print")
@DATA_OPTION
@click.option("--gate", required=True, help="The gate whose first admissions print a badge.")
@click.option("--printer", help="The printer's device id; omit to stop printing at this gate.")
def devices_auto_print(data_dir: Path, gate: str, printer: str | None) -> None:
    """Print each attendee's badge on their first admission at GATE (once per attendee, ever)."""
    data, config = provisioned(data_dir)
    try:
        set_auto_print(data, config, gate, printer)
    except DeviceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"gate {gate} prints badges on {printer}" if printer else f"gate {gate} no longer prints badges"
    )
