"""The command palette (Ctrl+P): every section and every action the screen on show offers.

Built from the live bindings rather than a second list, so an action added to a
screen with a key is in the palette too, and an action ``check_action`` hides
(not allowed for this role, nothing selected) is not offered.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from kiosk_ui.tui.host import StaffHost
from kiosk_ui.tui.sections import sections_for


class StaffCommands(Provider):
    """Sections to open and the current screen's actions, each with its key."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        app = cast(StaffHost, self.app)
        out: list[tuple[str, str, Callable[[], object]]] = []
        staff = app.client.staff
        if staff is not None:
            for section in sections_for(staff.role):
                out.append(
                    (f"Open {section.title}", f"{section.key.upper()}", partial(app.open_section, section.id))
                )
        seen = {name for name, *_ in out}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not active.enabled or not binding.description or binding.action.startswith("open_section"):
                continue
            name = binding.description
            if name in seen:
                continue
            seen.add(name)
            action = partial(self.app.run_action, binding.action, active.node)
            out.append((name, self.app.get_key_display(binding) or key, action))
        return out

    async def discover(self) -> Hits:
        for name, key, callback in self._commands():
            yield DiscoveryHit(name, callback, help=f"key: {key}")

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, key, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=f"key: {key}")
