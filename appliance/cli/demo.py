"""``demo``: a demo appliance to try Konferenco without a hub, and what to open and type next.

``make run`` calls ``demo credentials`` for a demo box and for an enrolled
one alike; an enrolled box is a real one, so it gets no demo tokens or PINs,
only its addresses and the commands an operator runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from appliance.catalog.export import default_path
from appliance.cli.common import DATA_OPTION, program, provisioned, quoted
from appliance.config import ApplianceConfig, DataDir


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def demo() -> None:
    """Make demo data to try Konferenco without a hub."""


@demo.command("seed")
@DATA_OPTION
@click.option("--event", default="demo", show_default=True, help="Event id of the demo event.")
@click.option("--attendees", "count", default=500, show_default=True, type=click.IntRange(0, 500_000))
@click.option(
    "--seed", "rng_seed", default=1, show_default=True, type=int, help="Random seed (same seed, same people)."
)
@click.option("--if-missing", is_flag=True, help="Do nothing if DATA already holds an appliance.")
def demo_seed(data_dir: Path, event: str, count: int, rng_seed: int, if_missing: bool) -> None:
    """Create an appliance with a demo event: attendees with signed badges, lists, gates, staff, schedule."""
    data = DataDir(data_dir)
    if data.exists():
        if if_missing:
            return
        raise click.ClickException(f"{data_dir} already holds an appliance; use another --data")
    from appliance.demo import seed

    click.echo(f"signing {count} badges and importing the demo catalog ...", err=True)
    summary = asyncio.run(seed(data, event, count=count, rng_seed=rng_seed))
    click.echo(summary)


@demo.command("credentials")
@DATA_OPTION
@click.option("--port", default=8080, show_default=True, type=int)
def demo_credentials(data_dir: Path, port: int) -> None:
    """Print what to open and how to scan: on a demo box with its demo tokens and staff PINs.

    An enrolled box gets its addresses and the commands for a door token and
    a scan instead (to the terminal, never to a log).
    """
    from appliance.demo import demo_door_token, demo_peer_tokens, demo_staff

    data, config = provisioned(data_dir)
    base = f"http://127.0.0.1:{port}"
    event = config.events[0]
    urls = f"""
  health      {base}/healthz
  metrics     {base}/metrics
  API schema  {base}/schema/openapi.json"""
    if config.hub_url:
        click.echo(f"""
Konferenco appliance {config.device_id} (event '{event}'), enrolled with the hub at {config.hub_url};
data in {data_dir}
{urls}

Scans made here show on the hub's dashboard ({config.hub_url}/console), those made while the
hub was unreachable as soon as it is back. Staff accounts that sign in here:
  {program()} appliance staff add --data {quoted(data_dir)} --name NAME --role door
""")
        token = f"$({program()} appliance issue-token --data {quoted(data_dir)} --role door --name Door)"
        _scan_example(data, config, data_dir, base, token)
        return
    viewer, organizer = demo_peer_tokens(data, config.events)
    click.echo(f"""
Konferenco appliance {config.device_id} (event '{event}'), data in {data_dir}
{urls}
  sync        ws://127.0.0.1:{port}/sync/event/{event}/control   (any y-websocket client)

Demo credentials (valid 7 days; pass as 'Authorization: Bearer ...' or '?token=...'):
  viewer     (read only)          {viewer}
  organizer  (may edit control)   {organizer}

Try:  curl -H 'Authorization: Bearer <viewer token>' {base}/api/v1/sync/status
""")
    accounts = demo_staff(data)
    if accounts:
        click.echo('Demo staff (sign in with POST /api/v1/auth/login {"name": ..., "secret": PIN}):')
        for name, account in accounts.items():
            click.echo(f"  {name:<10} role {account['role']:<10} PIN {account['pin']}")
    _scan_example(data, config, data_dir, base, demo_door_token(data))
    _kiosk(data, data_dir, base)


def _kiosk(data: DataDir, data_dir: Path, base: str) -> None:
    """The touch kiosk: a printer with no hardware, and a fresh pairing code."""
    from appliance.demo import demo_printer
    from appliance.kiosk.pairing import create_code

    printed = demo_printer(data)
    code, _ = create_code(data, "Demo kiosk")
    where = f"\n  (badges print to {printed}: the demo's printer is a file)" if printed else ""
    click.echo(f"""
Touch kiosk: open {base}/kiosk
  and pair it with the code {code} (single use, 10 minutes; a new one:
  {program()} appliance kiosk pair-code --data {quoted(data_dir)}){where}
""")


def _scan_example(data: DataDir, config: ApplianceConfig, data_dir: Path, base: str, token: str) -> None:
    """The commands for a door token, the badge file and a scan of its first badge."""
    from appliance.demo import first_gate

    gate = first_gate(data, config.events[0])
    csv_file = quoted(default_path(data))
    click.echo(f"""
A door token for the next 12 hours, and a scan of the first exported badge:
  export TOKEN={token}
  {program()} appliance badges --data {quoted(data_dir)}
  CODE=$(sed -n 2p {csv_file} | cut -d, -f2)
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d "{{\\"code\\": \\"$CODE\\", \\"nonce\\": \\"$(date +%s%N)\\", \\"gate\\": \\"{gate}\\"}}" \\
       {base}/api/v1/scans
""")
