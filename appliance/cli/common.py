"""What the appliance's commands share: the ``--data`` option and its loading, staff roles."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from appliance.config import ApplianceConfig, DataDir, NotProvisioned
from appliance.staff.service import StaffRole

DATA_OPTION = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The appliance's data directory (database, keys, settings).",
)

STAFF_ROLES = click.Choice([role.value for role in StaffRole])


def provisioned(data_dir: Path) -> tuple[DataDir, ApplianceConfig]:
    """The appliance in DATA, or a one-line error telling how to create one."""
    data = DataDir(data_dir)
    try:
        return data, data.load()
    except NotProvisioned as exc:
        raise click.ClickException(str(exc)) from None


def program() -> str:
    """How the user ran us (``.venv/bin/konferenco`` from ``make run``), to print commands that work."""
    argv0 = Path(sys.argv[0])
    if argv0.name != "konferenco":
        return "konferenco"
    try:
        return str(argv0.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(argv0) if argv0.is_absolute() else "konferenco"


def quoted(path: Path) -> str:
    """PATH as a shell word, for commands printed to be pasted."""
    return shlex.quote(str(path))
