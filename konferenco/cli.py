"""``konferenco``: the one command line of the product (DESIGN.md §3).

The root knows no role: each part registers its group under the
``konferenco.commands`` entry point (``appliance``, ``demo``, ``hub``,
``tui``, ``talos``; see ``pyproject.toml``), loaded only when named.  So
``konferenco appliance serve`` never imports the hub, this package stays at
the bottom of the import graph, and a box built without the hub's
dependencies still has a working command line.
"""

from __future__ import annotations

import logging
import sys
from importlib.metadata import EntryPoint, entry_points

import click

from konferenco import logs

GROUP = "konferenco.commands"


def _registered() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


class RoleGroups(click.Group):
    """A group whose subcommands are the parts' own groups, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_registered()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        entry = _registered().get(cmd_name)
        if entry is None:
            return None
        command = entry.load()
        if not isinstance(command, click.Command):
            raise click.ClickException(f"entry point '{cmd_name}' ({entry.value}) is not a click command")
        return command


@click.group(cls=RoleGroups, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="KONFERENCO_LOG_FORMAT",
    help="Log lines for people (text) or for a log shipper (JSON lines).",
)
def main(verbose: bool, log_format: str) -> None:
    """Konferenco: offline-first venue appliance and cloud hub for event check-in."""
    logs.configure(logging.DEBUG if verbose else logging.INFO, log_format)


if __name__ == "__main__":
    sys.exit(main())
