"""``konferenco talos``: the technician's commands (the tools arrive with their issue)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def talos() -> None:
    """Build, flash and provision Talos Linux images for appliances.

    Not built yet: it arrives with the technician's issue; see docs/ for the plan.
    """
