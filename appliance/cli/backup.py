"""``appliance backup run|status`` and ``appliance restore``: Litestream backup and a new box from it.

Thin skins over :mod:`appliance.backup`.  The replica URL comes from ``--to``
/ ``--from`` or ``KONFERENCO_BACKUP_URL`` (what the Kubernetes sidecar sets);
credentials from ``--credentials FILE`` or the environment, never from the
command line (it shows in ``ps`` and shell history).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from appliance.cli.common import DATA_OPTION, program, quoted

if TYPE_CHECKING:
    from appliance.backup.litestream import Backup
    from appliance.backup.restore import Restored

URL_ENV = "KONFERENCO_BACKUP_URL"

CREDENTIALS_OPTION = click.option(
    "--credentials",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File (mode 0600) with 'access_key_id = …' and 'secret_access_key = …' for an S3 replica;"
    " else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the environment.",
)


def backup_of(data_dir: Path, url: str | None, credentials: Path | None, option: str) -> Backup:
    """The data directory, parsed replica URL and credentials, or a one-line error."""
    from appliance.backup.litestream import Backup
    from appliance.backup.target import BackupError, credentials_from, parse_url, require_credentials

    if not url:
        raise click.UsageError(f"no replica: give {option} URL or set {URL_ENV}")
    try:
        target = parse_url(url)
        found = credentials_from(os.environ, credentials)
        require_credentials(target, found)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    return Backup(data_dir, target, found)


@click.group("backup")
def backup() -> None:
    """Back the appliance up continuously with Litestream, and check how far behind the backup is."""


@backup.command("run")
@DATA_OPTION
@click.option(
    "--to",
    "url",
    envvar=URL_ENV,
    help=f"Replica URL: file:///PATH or s3://BUCKET/PREFIX[?endpoint=…] (default: ${URL_ENV}).",
)
@CREDENTIALS_OPTION
@click.option(
    "--sync-interval",
    default="1s",
    show_default=True,
    help="How often new writes are shipped (Litestream duration; larger saves S3 requests).",
)
def run_command(data_dir: Path, url: str | None, credentials: Path | None, sync_interval: str) -> None:
    """Replicate the appliance (database and identity) in the foreground until SIGTERM or Ctrl-C."""
    from appliance.backup.runner import Runner, install_signals
    from appliance.backup.target import BackupError

    if not re.match(r"^\d+(ms|s|m)\Z", sync_interval):
        raise click.BadParameter("a duration such as 500ms, 1s, 10s or 1m", param_hint="--sync-interval")
    runner = Runner(backup_of(data_dir, url, credentials, "--to"), sync_interval=sync_interval)
    install_signals(runner)
    try:
        code = runner.run()
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    raise SystemExit(code)


@backup.command("status")
@DATA_OPTION
@click.option("--to", "url", envvar=URL_ENV, help=f"Replica URL (default: ${URL_ENV}).")
@CREDENTIALS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def status_command(data_dir: Path, url: str | None, credentials: Path | None, as_json: bool) -> None:
    """Local and replica positions, lag and a verdict (OK, BEHIND, NO BACKUP, UNREACHABLE) per database.

    Exits 0 for OK, 1 otherwise, so a monitor can run it.
    """
    from appliance.backup.status import backup_status, render
    from appliance.backup.target import BackupError

    try:
        result = backup_status(backup_of(data_dir, url, credentials, "--to"))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
    else:
        for line in render(result):
            click.echo(line)
    if result.verdict != "OK":
        raise SystemExit(1)


@click.command("restore")
@click.option(
    "--from", "url", envvar=URL_ENV, help=f"Replica URL the dead box backed up to (default: ${URL_ENV})."
)
@DATA_OPTION
@CREDENTIALS_OPTION
def restore_command(url: str | None, data_dir: Path, credentials: Path | None) -> None:
    """Build a new box's data directory from a dead box's backup: same identity, every backed-up scan."""
    from appliance.backup.restore import restore
    from appliance.backup.target import BackupError

    try:
        done = restore(backup_of(data_dir, url, credentials, "--from"))
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    for line in restored_lines(done):
        click.echo(line)
    prog, data = program(), quoted(Path(done.data))
    click.echo("next:")
    click.echo(f"  {prog} appliance serve --data {data}")
    click.echo(
        "    (a fresh Yjs client id; it catches up from the hub and LAN peers:"
        " what the backup missed comes back)"
    )
    click.echo(f"  {prog} appliance backup run --data {data} --to NEW_URL")
    click.echo("    (back the new box up to a new replica location)")


def restored_lines(done: Restored) -> list[str]:
    """What a restore brought back, for the technician to compare with the dead box."""
    lines = [
        f"restored appliance {done.device_id} ('{done.name}') into {done.data}",
        f"  from:       {done.replica}",
    ]
    for name, position in done.positions.items():
        lines.append(f"  {name + '.db:':<11} txid {position['txid']}, replicated at {position['time']}")
    lines += [
        f"  events:     {', '.join(done.events)}",
        f"  attendees:  {done.attendees}",
        f"  staff:      {done.staff}",
        f"  scans:      {done.scans}",
        f"  identity:   {len(done.identity_files)} files (appliance.json, secrets/ 0600)",
        f"  hub:        {done.hub_url or 'none (standalone box)'}",
    ]
    return lines
