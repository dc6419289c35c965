"""``konferenco``: the one command line of the product (DESIGN.md §3).

The appliance is the embedded default, so the entry point lives here; the
other roles add their groups (``hub``, ``tui``, ``talos``).  Each command is
a thin skin over a library function, and exits non-zero with a one-line
reason when it cannot do its job.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click

from appliance import logs
from appliance.config import DataDir, NotProvisioned
from sync.permissions import Capability, PeerIdentity, Role

DATA_OPTION = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The appliance's data directory (database, keys, settings).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def main(verbose: bool) -> None:
    """Konferenco: offline-first venue appliance and cloud hub for event check-in."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@main.group()
def appliance() -> None:
    """Run and manage a venue appliance (check-in, printing, schedule, sync)."""


@appliance.command("init")
@DATA_OPTION
@click.option("--event", "events", multiple=True, required=True, help="Event id this appliance serves.")
@click.option("--device-id", help="This appliance's device id (default: generated).")
def appliance_init(data_dir: Path, events: tuple[str, ...], device_id: str | None) -> None:
    """Create an empty appliance data directory for EVENT."""
    try:
        config = DataDir(data_dir).init(list(events), device_id)
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"appliance {config.device_id} created in {data_dir} for {', '.join(config.events)}")


@appliance.command("serve")
@DATA_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--upstream",
    "upstreams",
    multiple=True,
    metavar="URL",
    help="A hub or peer appliance to sync with (repeatable), e.g. http://hub:8000.",
)
@click.option(
    "--upstream-token",
    "upstream_tokens",
    multiple=True,
    metavar="TOKEN",
    envvar="KONFERENCO_UPSTREAM_TOKEN",
    help="Token for each --upstream, in order (or KONFERENCO_UPSTREAM_TOKEN).",
)
@click.option(
    "--upstream-peer",
    "upstream_peers",
    multiple=True,
    metavar="NAME",
    help="Name of each upstream in acknowledgement reports (default: hub).",
)
@click.option(
    "--synchronous",
    type=click.Choice(["FULL", "NORMAL"]),
    default="FULL",
    show_default=True,
    help="SQLite durability: FULL survives power loss, NORMAL only a crash.",
)
def appliance_serve(
    data_dir: Path,
    host: str,
    port: int,
    upstreams: tuple[str, ...],
    upstream_tokens: tuple[str, ...],
    upstream_peers: tuple[str, ...],
    synchronous: str,
) -> None:
    """Serve the appliance API and sync on HOST:PORT."""
    import uvicorn

    from appliance.app import Upstream, create_app
    from sync.protocol import DEFAULT_MAX_MESSAGE

    if len(upstream_tokens) != len(upstreams):
        raise click.UsageError("give one --upstream-token for each --upstream")
    peers = list(upstream_peers) + ["hub"] * (len(upstreams) - len(upstream_peers))
    try:
        app = create_app(
            DataDir(data_dir),
            upstreams=[Upstream(u, t, p) for u, t, p in zip(upstreams, upstream_tokens, peers, strict=False)],
            synchronous="FULL" if synchronous == "FULL" else "NORMAL",
        )
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_max_size=DEFAULT_MAX_MESSAGE + 1024,
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    logs.install("uvicorn", "uvicorn.access", "uvicorn.error")  # after uvicorn set up its handlers
    server.run()


@appliance.command("peer-token")
@DATA_OPTION
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.VIEWER.value, show_default=True
)
@click.option("--peer-id", required=True, help="Who the token is for (shown in acknowledgement reports).")
@click.option("--device-id", help="For --role device: the device whose log the peer may write.")
@click.option("--capability", "capabilities", multiple=True, type=click.Choice([c.value for c in Capability]))
@click.option("--ttl-days", default=30, show_default=True, type=int)
def appliance_peer_token(
    data_dir: Path,
    role: str,
    peer_id: str,
    device_id: str | None,
    capabilities: tuple[str, ...],
    ttl_days: int,
) -> None:
    """Print a token another peer uses to sync with this appliance."""
    data = DataDir(data_dir)
    try:
        config = data.load()
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None
    if role == Role.DEVICE and not device_id:
        raise click.UsageError("--role device needs --device-id")
    identity = PeerIdentity(
        peer_id=peer_id,
        role=Role(role),
        events=tuple(config.events),
        device_id=device_id,
        capabilities=tuple(Capability(c) for c in capabilities),
    )
    click.echo(data.signer().issue(identity, ttl_days * 24 * 3600))


@appliance.command("status")
@DATA_OPTION
def appliance_status(data_dir: Path) -> None:
    """Show the documents stored here and what each peer has not acknowledged."""
    from appliance.status import print_status

    try:
        asyncio.run(print_status(DataDir(data_dir)))
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def demo() -> None:
    """Make demo data to try Konferenco without a hub."""


@demo.command("seed")
@DATA_OPTION
@click.option("--event", default="demo", show_default=True, help="Event id of the demo event.")
@click.option("--if-missing", is_flag=True, help="Do nothing if DATA already holds an appliance.")
def demo_seed(data_dir: Path, event: str, if_missing: bool) -> None:
    """Create an appliance with a demo event: rooms and a two-day schedule."""
    from appliance.demo import seed

    data = DataDir(data_dir)
    if data.exists():
        if if_missing:
            return
        raise click.ClickException(f"{data_dir} already holds an appliance; use another --data")
    summary = asyncio.run(seed(data, event))
    click.echo(summary)


@demo.command("credentials")
@DATA_OPTION
@click.option("--port", default=8080, show_default=True, type=int)
def demo_credentials(data_dir: Path, port: int) -> None:
    """Print what to open and the demo tokens (to the terminal, never to a log)."""
    data = DataDir(data_dir)
    try:
        config = data.load()
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None
    signer = data.signer()
    events = tuple(config.events)
    viewer = signer.issue(PeerIdentity(peer_id="demo-viewer", role=Role.VIEWER, events=events), 7 * 24 * 3600)
    organizer = signer.issue(
        PeerIdentity(
            peer_id="demo-organizer",
            role=Role.DEVICE,
            events=events,
            device_id="demo-organizer",
            capabilities=(Capability.ORGANIZER,),
        ),
        7 * 24 * 3600,
    )
    base = f"http://127.0.0.1:{port}"
    event = config.events[0]
    click.echo(f"""
Konferenco appliance {config.device_id} (event '{event}'), data in {data_dir}

  health      {base}/healthz
  metrics     {base}/metrics
  API schema  {base}/schema/openapi.json
  sync        ws://127.0.0.1:{port}/sync/event/{event}/control   (any y-websocket client)

Demo credentials (valid 7 days; pass as 'Authorization: Bearer ...' or '?token=...'):
  viewer     (read only)          {viewer}
  organizer  (may edit control)   {organizer}

Try:  curl -H 'Authorization: Bearer <viewer token>' {base}/api/v1/sync/status
""")


@main.group()
def hub() -> None:
    """Run the cloud hub (tenants, catalog, organizer console, sync peer).

    The hub arrives with its own issue; its commands will be 'serve' and 'migrate'.
    """


@main.group()
def tui() -> None:
    """The staff terminal UI (Textual) for desks without a touch screen.

    Arrives with the kiosk issue.
    """


@main.group()
def talos() -> None:
    """Build, flash and provision Talos Linux images for appliances.

    Arrives with the Talos issue; see docs/ for the plan.
    """


if __name__ == "__main__":
    sys.exit(main())
