"""What the screens may ask of the app that hosts them, as a protocol.

Screens are built by the app, so importing the app from a screen would make a
circle; they see it through this narrow interface instead, which also says in
one place what a section can rely on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from kiosk_ui.tui.client import ApplianceClient


class StaffHost(Protocol):
    """The staff app, as its screens and command palette use it."""

    client: ApplianceClient
    clock: Callable[[], float]
    timezone: dt.tzinfo
    event_id: str
    state_dir: Path  # what must outlive the app (the door's unconfirmed scans)

    def appliance_silent(self) -> None: ...

    def sign_in_again(self, reason: str, token: str | None) -> None: ...

    async def signed_in(self) -> None: ...

    def open_section(self, section_id: str) -> None: ...

    async def confirm(self, question: str, detail: str = "", *, confirm: str = "Confirm") -> bool: ...
