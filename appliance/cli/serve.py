"""Making an appliance, running it, and letting other peers sync with it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import click

from appliance.cli.common import DATA_OPTION, provisioned
from appliance.config import DataDir, InsecureDataDir, NotProvisioned
from appliance.ports import PortTaken, ensure_port_free
from konferenco.badges import unb64
from sync.permissions import Capability, Role

log = logging.getLogger(__name__)


@click.command("init")
@DATA_OPTION
@click.option("--event", "events", multiple=True, required=True, help="Event id this appliance serves.")
@click.option("--device-id", help="This appliance's device id (default: generated).")
@click.option(
    "--catalog-key",
    "catalog_keys",
    multiple=True,
    metavar="BASE64",
    help="Public key whose signed catalog bundles this appliance accepts (repeatable).",
)
def init(
    data_dir: Path, events: tuple[str, ...], device_id: str | None, catalog_keys: tuple[str, ...]
) -> None:
    """Create an empty appliance data directory for EVENT."""
    for key in catalog_keys:
        try:
            if len(unb64(key)) != 32:
                raise ValueError
        except ValueError:
            raise click.BadParameter(
                f"{key!r} is not a base64 Ed25519 public key", param_hint="--catalog-key"
            ) from None
    try:
        config = DataDir(data_dir).init(list(events), device_id, list(catalog_keys))
    except (FileExistsError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"appliance {config.device_id} created in {data_dir} for {', '.join(config.events)}")


def secure_data_dir(data: DataDir) -> None:
    """Check the data directory's modes before serving: repair and warn, or refuse to start.

    Repair rather than refuse: a restore under a loose umask must not keep the doors shut,
    and tightening a mode cannot break anything.  The warning names every repaired path, so
    the operator knows which secrets others could have read (and should be rotated).
    """
    if not data.exists():
        return  # create_app says what to do with a folder that holds no appliance
    try:
        repaired = data.secure()
    except InsecureDataDir as exc:
        raise click.ClickException(str(exc)) from None
    for line in repaired:
        log.warning("was readable by other accounts, repaired (rotate its secrets if shared): %s", line)


@click.command("serve")
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
    help=(
        "Token for each --upstream, in order (or KONFERENCO_UPSTREAM_TOKEN). Without any, the box"
        " authenticates to its upstreams with its device certificate (peers of the same event); an empty"
        " token does the same for one upstream."
    ),
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
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every HTTP request (scans are recorded in the database either way).",
)
def serve(
    data_dir: Path,
    host: str,
    port: int,
    upstreams: tuple[str, ...],
    upstream_tokens: tuple[str, ...],
    upstream_peers: tuple[str, ...],
    synchronous: str,
    access_log: bool,
) -> None:
    """Serve the appliance API and sync on HOST:PORT."""
    import uvicorn

    from appliance.app import Upstream, create_app
    from sync.protocol import TRANSPORT_MAX_FRAME

    if upstream_tokens and len(upstream_tokens) != len(upstreams):
        raise click.UsageError(
            "give one --upstream-token for each --upstream, or none to use the device certificate"
        )
    tokens = list(upstream_tokens) or [""] * len(upstreams)
    try:
        ensure_port_free(host, port)
    except PortTaken as exc:
        raise click.ClickException(str(exc)) from None
    peers = list(upstream_peers) + ["hub"] * (len(upstreams) - len(upstream_peers))
    secure_data_dir(DataDir(data_dir))
    try:
        app = create_app(
            DataDir(data_dir),
            upstreams=[Upstream(u, t, p) for u, t, p in zip(upstreams, tokens, peers, strict=False)],
            synchronous="FULL" if synchronous == "FULL" else "NORMAL",
        )
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_max_size=TRANSPORT_MAX_FRAME,  # over our cap, so our decoder refuses with 4413
        log_level="info",
        log_config=None,  # uvicorn's loggers propagate to our root handler (format, redaction)
        access_log=access_log,
        # The box answers its LAN directly: no proxy headers to trust, and no server banner
        # to give away versions; both also save work on every scan.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()


@click.command("status")
@DATA_OPTION
def status(data_dir: Path) -> None:
    """Show the documents stored here and what each peer has not acknowledged."""
    from appliance.ops.status import print_status

    try:
        asyncio.run(print_status(DataDir(data_dir)))
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None


@click.command("peer-token")
@DATA_OPTION
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), default=Role.VIEWER.value, show_default=True
)
@click.option("--peer-id", required=True, help="Who the token is for (shown in acknowledgement reports).")
@click.option("--device-id", help="For --role device: the device whose log the peer may write.")
@click.option("--capability", "capabilities", multiple=True, type=click.Choice([c.value for c in Capability]))
@click.option("--ttl-days", default=30, show_default=True, type=int)
def peer_token_command(
    data_dir: Path,
    role: str,
    peer_id: str,
    device_id: str | None,
    capabilities: tuple[str, ...],
    ttl_days: int,
) -> None:
    """Print a token another peer uses to sync with this appliance."""
    from appliance.accounts import peer_token

    data, config = provisioned(data_dir)
    if role == Role.DEVICE and not device_id:
        raise click.UsageError("--role device needs --device-id")
    click.echo(
        peer_token(
            data,
            config,
            peer_id,
            Role(role),
            device_id=device_id,
            capabilities=tuple(Capability(c) for c in capabilities),
            ttl_seconds=ttl_days * 24 * 3600,
        )
    )
