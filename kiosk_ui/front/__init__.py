"""The appliance's front page (``/``), mounted from the ``konferenco.appliance_pages`` entry point.

Like the kiosk, it reaches the appliance only through its HTTP API (:mod:`kiosk_ui.web.api`).
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from kiosk_ui.front.pages import ROUTES


def routes() -> list[HTTPRouteHandler]:
    """The front page's route handlers: ``/``, its panel fragment, sign-in/out, pairing code, static."""
    return list(ROUTES)
