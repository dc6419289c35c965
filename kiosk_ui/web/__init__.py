"""The touch kiosk's pages, mounted by the appliance from the ``konferenco.appliance_pages`` entry point.

The appliance never imports this package, and this package never imports the appliance: the
pages reach it through its HTTP API (:mod:`kiosk_ui.web.api`).
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from kiosk_ui.web import i18n
from kiosk_ui.web.pages import ROUTES


def routes() -> list[HTTPRouteHandler]:
    """The kiosk's route handlers; the catalogs are compiled first, so a broken one fails the start."""
    i18n.load_all()
    return list(ROUTES)
