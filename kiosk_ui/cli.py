"""``konferenco tui``: the staff terminal UI, on the box's console, over SSH or on a laptop on the LAN.

Without ``--appliance`` it tries the box it runs on (``http://127.0.0.1:8080``);
when nothing answers there, it browses the LAN for appliances and lets the person
choose.  Textual is imported only when the UI starts, so ``--help`` stays quick.
"""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import click
import httpx

LOCAL = "http://127.0.0.1:8080"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url.rstrip('/')}/healthz", timeout=1.5).status_code < 500
    except httpx.HTTPError:
        return False


def _keymap(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="--keymap") from exc
    keys = data.get("keys", data)
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise click.BadParameter(
            f'{path}: expected binding ids with keys as text, e.g. "section.desk" = "ctrl+d"',
            param_hint="--keymap",
        )
    return {str(k): v for k, v in keys.items()}


def _choose(seconds: float) -> str:
    from kiosk_ui.tui.discovery import browse

    click.echo(
        f"No appliance answers at {LOCAL}; looking for appliances on the LAN ({seconds:g} s) …", err=True
    )
    try:
        found = asyncio.run(browse(seconds))
    except OSError as exc:
        raise click.ClickException(
            f"cannot browse the LAN ({exc}); name the appliance with --appliance http://HOST:PORT"
        ) from exc
    if not found:
        raise click.ClickException(
            "no appliance found on the LAN (multicast may be blocked); "
            "name it with --appliance http://HOST:PORT"
        )
    if len(found) == 1:
        click.echo(f"Found {found[0].name} ({found[0].event}) at {found[0].url}", err=True)
        return found[0].url
    for number, appliance in enumerate(found, start=1):
        click.echo(f"  {number}. {appliance.name}  event {appliance.event}  {appliance.url}", err=True)
    choice = click.prompt("Which appliance", type=click.IntRange(1, len(found)), err=True)
    return found[choice - 1].url


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--appliance",
    metavar="URL",
    help=f"The appliance's address (default: {LOCAL}, else one found on the LAN).",
)
@click.option(
    "--keymap",
    type=click.Path(dir_okay=False, path_type=Path),
    help='A TOML file of binding ids and keys (e.g. "section.desk" = "ctrl+d") to rebind keys.',
)
@click.option("--browse-seconds", default=3.0, show_default=True, help="How long to listen for appliances.")
def tui(appliance: str | None, keymap: Path | None, browse_seconds: float) -> None:
    """The staff terminal UI: desk, door, print queue, devices, sync, stats and proposals.

    Sign in with your name and PIN; the sections offered follow your role.
    Ctrl+P lists every action; F2 to F8 open the sections.
    """
    keys = _keymap(keymap)
    if appliance is None:
        appliance = LOCAL if _answers(LOCAL) else _choose(browse_seconds)
    elif not appliance.startswith(("http://", "https://")):
        raise click.BadParameter(
            "give the URL with its scheme, e.g. http://10.0.0.5:8080", param_hint="--appliance"
        )
    from kiosk_ui.tui.app import StaffApp

    StaffApp(appliance, keymap=keys).run()
