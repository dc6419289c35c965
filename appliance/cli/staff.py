"""Staff: the accounts that sign in on this appliance, and tokens for scripts and kiosks."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.cli.common import DATA_OPTION, STAFF_ROLES, provisioned
from appliance.staff.service import StaffRole


@click.group("staff")
def staff() -> None:
    """Manage the staff accounts that sign in on this appliance."""


@staff.command("add")
@DATA_OPTION
@click.option("--name", required=True)
@click.option("--role", type=STAFF_ROLES, required=True)
@click.option(
    "--pin", prompt=True, hide_input=True, confirmation_prompt=True, help="PIN or password (4+ characters)."
)
def staff_add(data_dir: Path, name: str, role: str, pin: str) -> None:
    """Create a staff account."""
    from appliance.accounts import add_account

    data, _ = provisioned(data_dir)
    try:
        staff_id = add_account(data, name, StaffRole(role), pin)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"staff account {name} ({role}) created: {staff_id}")


@click.command("issue-token")
@DATA_OPTION
@click.option("--role", type=STAFF_ROLES, required=True)
@click.option("--name", default="automation", show_default=True, help="Who the token is for (shown in logs).")
@click.option("--ttl-minutes", default=12 * 60, show_default=True, type=click.IntRange(1, 7 * 24 * 60))
def issue_token(data_dir: Path, role: str, name: str, ttl_minutes: int) -> None:
    """Print a staff token for scripts and kiosks (no sign-in needed)."""
    from appliance.accounts import script_token

    data, _ = provisioned(data_dir)
    click.echo(script_token(data, name, StaffRole(role), ttl_minutes * 60))
