"""The room signs (issue 14): ``/signage``, ``/signage/{room}`` and ``/signage/wall``.

Mounted by the appliance from the ``konferenco.appliance_pages`` entry point; like the
kiosk, this package never imports the appliance (it reaches it over HTTP and MQTT).
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from kiosk_ui.signage.pages import ROUTES


def routes() -> list[HTTPRouteHandler]:
    """The signs' route handlers."""
    return list(ROUTES)
