"""Pages served by the appliance but built elsewhere (the touch kiosk), found through entry points.

The layer rules forbid ``appliance`` to import ``kiosk_ui`` (the kiosk reaches
the appliance only over HTTP), so the pages are found the way plugins are:
every entry point in the group ``konferenco.appliance_pages`` is a callable
taking no argument and returning a list of Litestar route handlers or
routers.  A broken one (an import error, a bad return value) is logged and
skipped: a page that cannot load must never keep the doors from opening.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from litestar import Controller, Router
from litestar.handlers import BaseRouteHandler

log = logging.getLogger(__name__)

GROUP = "konferenco.appliance_pages"


def load_pages(found: Iterable[EntryPoint] | None = None) -> list[Any]:
    """The route handlers of every page entry point that loads; the broken ones logged and left out."""
    handlers: list[Any] = []
    for entry in entry_points(group=GROUP) if found is None else found:
        try:
            make: Callable[[], Any] = entry.load()
            routes = list(make())
            bad = [r for r in routes if not _routable(r)]
            if bad:
                raise TypeError(f"not route handlers or routers: {bad!r}"[:300])
        except Exception:
            log.exception(
                "appliance pages %r (%s) could not be loaded; serving without them", entry.name, entry.value
            )
            continue
        log.info("appliance pages %r: %d route handler(s)", entry.name, len(routes))
        handlers += routes
    return handlers


def _routable(value: object) -> bool:
    if isinstance(value, type):
        return issubclass(value, Controller)
    return isinstance(value, BaseRouteHandler | Router)
