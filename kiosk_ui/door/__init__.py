"""The door scanner page (``/door``): a phone or tablet at a gate, mounted by entry point.

Unlike the kiosk, the page is a static shell: it holds no attendee's data when served, so its
service worker may keep it and the door keeps working (queueing scans) while the appliance is
out of reach.  Everything the volunteer sees comes from the appliance's API, called by the
browser itself with the staff token it signed in for (``static/door/door.js``).
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from kiosk_ui.door.pages import ROUTES


def routes() -> list[HTTPRouteHandler]:
    """The door's route handlers: the page, its service worker and its static files."""
    return list(ROUTES)
