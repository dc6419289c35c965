"""``konferenco``: the one command line of the product (DESIGN.md §3).

The appliance is the embedded default, so the entry point lives here; the
other roles add their groups (``hub``, ``tui``, ``talos``).  Each command is
a thin skin over a library function, and exits non-zero with a one-line
reason when it cannot do its job.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import click

from appliance.config import ApplianceConfig, DataDir, NotProvisioned
from appliance.staff import StaffRole
from sync.permissions import Capability, PeerIdentity, Role

DATA_OPTION = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The appliance's data directory (database, keys, settings).",
)


def _provisioned(data_dir: Path) -> tuple[DataDir, ApplianceConfig]:
    """The appliance in DATA, or a one-line error telling how to create one."""
    data = DataDir(data_dir)
    try:
        return data, data.load()
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None


STAFF_ROLES = click.Choice([role.value for role in StaffRole])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def appliance() -> None:
    """Run and manage a venue appliance (check-in, printing, schedule, sync)."""


@appliance.command("init")
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
def appliance_init(
    data_dir: Path, events: tuple[str, ...], device_id: str | None, catalog_keys: tuple[str, ...]
) -> None:
    """Create an empty appliance data directory for EVENT."""
    from konferenco.badges import unb64

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
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="Log every HTTP request (scans are recorded in the database either way).",
)
def appliance_serve(
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
        log_config=None,  # uvicorn's loggers propagate to our root handler (format, redaction)
        access_log=access_log,
        # The box answers its LAN directly: no proxy headers to trust, and no server banner
        # to give away versions; both also save work on every scan.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()


@appliance.command("enroll")
@DATA_OPTION
@click.option("--hub", "hub_url", required=True, help="The hub's URL, e.g. https://hub.example.com.")
@click.option(
    "--token", required=True, envvar="KONFERENCO_ENROL_TOKEN", help="The one-time enrolment token (ke1_…)."
)
@click.option("--name", default="", help="A name for this box in the organizer's device list.")
def appliance_enroll(data_dir: Path, hub_url: str, token: str, name: str) -> None:
    """Enrol a new appliance with a hub and download its event's catalog.

    DATA must not hold an appliance yet. Afterwards 'appliance serve' syncs
    with the hub and keeps the catalog current on its own.
    """
    from appliance.hub_link import HubLinkError, enroll, fetch_catalog
    from konferenco.catalog.bundle import BundleError
    from sync.sqlite_store import SQLiteUpdateStore

    data = DataDir(data_dir)

    async def catalog(config: ApplianceConfig) -> tuple[int, int]:
        store = data.replica().store
        assert isinstance(store, SQLiteUpdateStore)
        await store.open()
        try:
            fetched = await fetch_catalog(data, store.writer, config.events[0])
        finally:
            await store.close()
        return fetched.revision, fetched.report.rows if fetched.report else 0

    try:
        config = asyncio.run(enroll(data, hub_url, token, name))
    except HubLinkError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        revision, rows = asyncio.run(catalog(config))
    except (HubLinkError, BundleError) as exc:
        raise click.ClickException(
            f"enrolled as {config.device_id}, but the catalog download failed: {exc}. "
            "'appliance serve' keeps trying on its own."
        ) from None
    click.echo(
        f"enrolled as {config.device_id} for event {config.events[0]} "
        f"({', '.join(config.capabilities)}); catalog revision {revision}, {rows} attendees"
    )


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
    data, config = _provisioned(data_dir)
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


@appliance.command("import")
@DATA_OPTION
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["bundle", "csv"]), help="Default: csv for *.csv, else bundle."
)
@click.option("--event", help="Event the file is for (default: the appliance's first event).")
@click.option(
    "--map", "mappings", multiple=True, metavar="FIELD=COLUMN", help="CSV: which column holds a field."
)
@click.option("--ticket-type", help="CSV: ticket type for rows without one (id or name).")
@click.option("--delimiter", help="CSV: field separator (default: detected).")
@click.option("--skip-invalid", is_flag=True, help="CSV: import the valid rows even if some are rejected.")
def appliance_import(
    data_dir: Path,
    file: Path,
    fmt: str | None,
    event: str | None,
    mappings: tuple[str, ...],
    ticket_type: str | None,
    delimiter: str | None,
    skip_invalid: bool,
) -> None:
    """Import a signed catalog bundle or an attendee CSV, all or nothing.

    Every rejected row is listed with its line and the reason. Exit code 0:
    imported; 1: rejected (nothing changed); 2: usage error.
    """
    from rich.progress import Progress

    from appliance.catalog.importer import ImportRejected, import_file
    from appliance.catalog.roster import CatalogConflict
    from konferenco.catalog.bundle import BundleError
    from konferenco.catalog.csv_reader import CsvOptions

    mapping = {}
    for item in mappings:
        field, sep, column = item.partition("=")
        if not sep or not field or not column:
            raise click.UsageError(f"--map needs FIELD=COLUMN, not {item!r}")
        mapping[field.strip()] = column.strip()
    options = CsvOptions(mapping=mapping, default_ticket_type=ticket_type, delimiter=delimiter)
    with Progress(transient=True) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{phase} {file.name}", completed=done, total=total)

        try:
            report = asyncio.run(
                import_file(
                    DataDir(data_dir),
                    file,
                    fmt=fmt,
                    event_id=event,
                    options=options,
                    skip_invalid=skip_invalid,
                    progress=progress,
                )
            )
        except ImportRejected as exc:
            bar.stop()
            for problem in exc.report.problems:
                click.echo(f"rejected: {problem}", err=True)
            raise click.ClickException(f"{file.name}: {exc}") from None
        except (BundleError, CatalogConflict, NotProvisioned) as exc:
            raise click.ClickException(str(exc)) from None
    for problem in report.problems:
        click.echo(f"skipped: {problem}", err=True)
    result = report.result
    assert result is not None
    click.echo(
        f"{file.name}: {report.rows} rows read; {result.added} added, {result.updated} updated, "
        f"{result.removed} removed, {len(report.rejected_lines)} skipped (catalog revision {result.revision})"
    )


@appliance.command("badges")
@DATA_OPTION
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="CSV file to write."
)
@click.option("--event", help="Event (default: the appliance's first event).")
def appliance_badges(data_dir: Path, out: Path, event: str | None) -> None:
    """Export every attendee's badge code (for a print shop) as CSV."""
    import csv

    data, config = _provisioned(data_dir)
    event_id = event or config.events[0]
    conn = data.reader()
    try:
        rows = conn.execute(
            "SELECT a.id, a.badge_code, a.name, a.company, coalesce(t.name, a.ticket_type_id), a.nfc_uid "
            "FROM attendee a LEFT JOIN catalog_ticket_type t "
            "ON t.event_id = a.event_id AND t.id = a.ticket_type_id "
            "WHERE a.event_id = ? ORDER BY a.name, a.id",
            (event_id,),
        ).fetchall()
    except Exception as exc:
        raise click.ClickException(f"no catalog here yet ({exc})") from None
    finally:
        conn.close()
    missing = sum(1 for r in rows if not r[1])
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["attendee_id", "badge_code", "name", "company", "ticket_type", "nfc_uid"])
        writer.writerows(rows)
    tmp.replace(out)
    click.echo(f"{len(rows)} badges written to {out}" + (f" ({missing} without a code)" if missing else ""))


@appliance.command("issue-token")
@DATA_OPTION
@click.option("--role", type=STAFF_ROLES, required=True)
@click.option("--name", default="automation", show_default=True, help="Who the token is for (shown in logs).")
@click.option("--ttl-minutes", default=12 * 60, show_default=True, type=click.IntRange(1, 7 * 24 * 60))
def appliance_issue_token(data_dir: Path, role: str, name: str, ttl_minutes: int) -> None:
    """Print a staff token for scripts and kiosks (no sign-in needed)."""
    data, _ = _provisioned(data_dir)
    staff_id = "token-" + (re.sub(r"[^A-Za-z0-9_.:-]+", "-", name).strip("-")[:50] or "automation")
    click.echo(data.staff_tokens().issue(staff_id, name, StaffRole(role), ttl_minutes * 60))


@appliance.group("devices", invoke_without_command=True)
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
def appliance_devices(ctx: click.Context, data_dir: Path | None, port: int) -> None:
    """List this appliance's devices and their state (scanners, readers, printers, signage).

    With the appliance serving on PORT, the state is live (connected, why not,
    scans seen); otherwise the configured devices are listed as not running.
    """
    if ctx.invoked_subcommand is not None:
        return
    if data_dir is None:
        raise click.UsageError("give --data DIR (or a subcommand: add, remove, auto-print)")
    import httpx

    data, config = _provisioned(data_dir)
    rows: list[dict[str, object]]
    found: list[dict[str, object]]
    try:
        token = data.staff_tokens().issue("cli", "Command line", StaffRole.ORGANIZER, 60)
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/devices", headers={"Authorization": f"Bearer {token}"}, timeout=3
        )
        response.raise_for_status()
        rows = [{**r, "state": r["state"]["state"], "detail": r["state"]["detail"]} for r in response.json()]
        found = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/devices/discovered",
            headers={"Authorization": f"Bearer {token}"},
            timeout=3,
        ).json()
    except httpx.HTTPError:
        found = []
        rows = [
            {
                "id": d.id,
                "domain": d.domain,
                "kind": d.kind,
                "gate": d.gate,
                "state": "not running",
                "detail": "",
            }
            for d in config.devices
        ]
    if not rows:
        click.echo("no devices configured; add one with 'konferenco appliance devices add'")
        return
    for row in rows:
        where = f" at gate {row['gate']}" if row.get("gate") else ""
        detail = f" ({row['detail']})" if row.get("detail") else ""
        click.echo(f"{row['id']:<16} {row['domain']}/{row['kind']}{where}: {row['state']}{detail}")
    for gate, printer in sorted(config.auto_print.items()):
        click.echo(f"gate {gate} prints badges on first admission on {printer}")
    for service in found:
        where = f"{service['host']}:{service['port']}" if service.get("host") else "(not resolved)"
        click.echo(f"discovered {service['kind']:<8} {service['name']} at {where}")


@appliance_devices.command("add")
@DATA_OPTION
@click.option("--id", "device_id", required=True, help="A short name for the device (a-z, 0-9, '-', '.').")
@click.option(
    "--domain", required=True, type=click.Choice(["printer", "scanner", "rfid", "signage", "discovery"])
)
@click.option(
    "--kind", default="", help="The variant: printer network|usb|serial|file, scanner hid|serial|lines."
)
@click.option("--name", default="", help="What staff see in the device list.")
@click.option("--gate", help="Scanners and readers: the gate their scans count at.")
@click.option("--set", "values", multiple=True, metavar="KEY=VALUE", help="A driver setting (repeatable).")
def appliance_devices_add(
    data_dir: Path,
    device_id: str,
    domain: str,
    kind: str,
    name: str,
    gate: str | None,
    values: tuple[str, ...],
) -> None:
    """Add (or replace) a device; the appliance uses it from its next start."""
    import msgspec

    from appliance.config import DeviceConfig

    data, config = _provisioned(data_dir)
    settings: dict[str, object] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"--set needs KEY=VALUE, not {item!r}")
        settings[key.strip()] = _setting_value(value.strip())
    try:
        device = msgspec.convert(
            {
                "id": device_id,
                "domain": domain,
                "kind": kind,
                "name": name,
                "gate": gate,
                "settings": settings,
            },
            DeviceConfig,
        )
    except msgspec.ValidationError as exc:
        raise click.UsageError(str(exc)) from None
    config.devices = [d for d in config.devices if d.id != device_id] + [device]
    data.save(config)
    click.echo(f"device {device_id} saved ({domain}/{kind}); restart 'appliance serve' to use it")


def _setting_value(text: str) -> object:
    """``9100`` is a number, ``true`` a flag, anything else the text itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


@appliance_devices.command("remove")
@DATA_OPTION
@click.option("--id", "device_id", required=True)
def appliance_devices_remove(data_dir: Path, device_id: str) -> None:
    """Remove a device from this appliance's configuration."""
    data, config = _provisioned(data_dir)
    if not any(d.id == device_id for d in config.devices):
        raise click.ClickException(f"no device '{device_id}' on this appliance")
    config.devices = [d for d in config.devices if d.id != device_id]
    config.auto_print = {g: p for g, p in config.auto_print.items() if p != device_id}
    data.save(config)
    click.echo(f"device {device_id} removed")


@appliance_devices.command("auto-print")
@DATA_OPTION
@click.option("--gate", required=True, help="The gate whose first admissions print a badge.")
@click.option("--printer", help="The printer's device id; omit to stop printing at this gate.")
def appliance_devices_auto_print(data_dir: Path, gate: str, printer: str | None) -> None:
    """Print each attendee's badge on their first admission at GATE (once per attendee, ever)."""
    data, config = _provisioned(data_dir)
    if printer is None:
        config.auto_print.pop(gate, None)
        click.echo(f"gate {gate} no longer prints badges")
    else:
        if not any(d.id == printer and d.domain == "printer" for d in config.devices):
            raise click.ClickException(f"no printer '{printer}' on this appliance; add it first")
        config.auto_print[gate] = printer
        click.echo(f"gate {gate} prints badges on {printer}")
    data.save(config)


@appliance.group("staff")
def appliance_staff() -> None:
    """Manage the staff accounts that sign in on this appliance."""


@appliance_staff.command("add")
@DATA_OPTION
@click.option("--name", required=True)
@click.option("--role", type=STAFF_ROLES, required=True)
@click.option(
    "--pin", prompt=True, hide_input=True, confirmation_prompt=True, help="PIN or password (4+ characters)."
)
def appliance_staff_add(data_dir: Path, name: str, role: str, pin: str) -> None:
    """Create a staff account."""
    from appliance.catalog.schema import migrate
    from appliance.staff import add_staff
    from sync.sqlite_writer import connect

    data, _ = _provisioned(data_dir)
    conn = connect(data.database)
    try:
        migrate(conn)
        staff_id = add_staff(conn, name, StaffRole(role), pin)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        conn.close()
    click.echo(f"staff account {name} ({role}) created: {staff_id}")


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
    from appliance.demo import seed

    data = DataDir(data_dir)
    if data.exists():
        if if_missing:
            return
        raise click.ClickException(f"{data_dir} already holds an appliance; use another --data")
    click.echo(f"signing {count} badges and importing the demo catalog ...", err=True)
    summary = asyncio.run(seed(data, event, count=count, rng_seed=rng_seed))
    click.echo(summary)


@demo.command("credentials")
@DATA_OPTION
@click.option("--port", default=8080, show_default=True, type=int)
def demo_credentials(data_dir: Path, port: int) -> None:
    """Print what to open and the demo tokens (to the terminal, never to a log)."""
    data, config = _provisioned(data_dir)
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
    staff_path = data.secrets / "demo-staff.json"
    tokens = data.staff_tokens()
    if staff_path.exists():
        import json

        accounts = json.loads(staff_path.read_text())
        click.echo('Demo staff (sign in with POST /api/v1/auth/login {"name": ..., "secret": PIN}):')
        for name, account in accounts.items():
            click.echo(f"  {name:<10} role {account['role']:<10} PIN {account['pin']}")
    if config.hub_url:
        click.echo(f"Enrolled with the hub at {config.hub_url}: scans appear on its dashboard.")
    door = tokens.issue("demo-door", "Door", StaffRole.DOOR, 12 * 3600)
    conn = data.reader()
    try:
        row = conn.execute("SELECT id FROM catalog_gate WHERE event_id = ? ORDER BY id", (event,)).fetchone()
    finally:
        conn.close()
    gate = row[0] if row else "main"
    click.echo(f"""
A door token for the next 12 hours, and a scan of the first exported badge:
  export TOKEN={door}
  {_command()} appliance badges --data {data_dir} --out badges.csv
  CODE=$(sed -n 2p badges.csv | cut -d, -f2)
  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       -d "{{\\"code\\": \\"$CODE\\", \\"nonce\\": \\"$(date +%s%N)\\", \\"gate\\": \\"{gate}\\"}}" \\
       {base}/api/v1/scans
""")


def _command() -> str:
    """How the user ran us (``.venv/bin/konferenco`` from ``make run``), to print commands that work."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "konferenco":
        return "konferenco"
    try:
        return str(argv0.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(argv0) if argv0.is_absolute() else "konferenco"
