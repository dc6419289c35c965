"""``konferenco tui``: the staff terminal UI's command (the UI itself arrives with its issue)."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def tui() -> None:
    """The staff terminal UI (Textual) for desks without a touch screen.

    Not built yet: it arrives with the staff TUI issue.
    """
