"""The appliance's Litestar application: HTTP over an assembled :class:`~appliance.box.Box`.

The box is built and started in the app's lifespan and stopped after it;
handlers receive the parts they use through Litestar's dependency injection
(``checkin``, ``door``, ``desk``, ``prints``, …; see :func:`_dependencies`),
never by reaching into shared state.  No module globals: a test can run two
appliances in one process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide

from appliance import errors
from appliance.box import Box, Upstream
from appliance.catalog import controller as catalog
from appliance.checkin import controller as checkin
from appliance.checkin import gates as door_gates
from appliance.config import DataDir
from appliance.desk import controller as desk
from appliance.devices import controller as devices
from appliance.grassroots import controller as grassroots
from appliance.kiosk import controller as kiosk
from appliance.live import ROUTES as LIVE_ROUTES
from appliance.ops import controller as ops
from appliance.ops import overview, peers
from appliance.pages import load_pages
from appliance.printing import controller as printing
from appliance.schedule import controller as schedule
from appliance.schedule import files_controller as schedule_files
from appliance.signage_access import ROUTES as SIGNAGE_ACCESS_ROUTES
from appliance.staff import controller as staff
from appliance.staff.guard import staff_guard
from konferenco.edge_input import edge_input
from konferenco.http_errors import JSONRequest
from konferenco.openapi import ErrorResponses, docs_assets_router, openapi_config
from sync.litestar_route import sync_router
from sync.sqlite_writer import Synchronous

log = logging.getLogger(__name__)

#: Largest request body the API accepts: a scan is ~300 bytes; nothing legitimate is near this.
MAX_BODY = 64 * 1024

__all__ = ["MAX_BODY", "Upstream", "create_app"]


def _dependencies(box: Box) -> dict[str, Provide]:
    """Each part by name, read when a request needs it (the box's parts exist once it started)."""

    def part(get: Callable[[], Any]) -> Provide:
        # Cached after the first request: the parts exist from start-up to shutdown, and a scan
        # should not pay for looking them up again.
        return Provide(get, sync_to_thread=False, use_cache=True)

    return {
        "box": part(lambda: box),
        "config": part(lambda: box.config),
        "datadir": part(lambda: box.data),
        "writer": part(lambda: box.writer),
        "events": part(lambda: box.events),
        "checkin": part(lambda: box.checkin),
        "schedule": part(lambda: box.schedule),
        "proposals": part(lambda: box.grassroots),
        "catalog_changed": part(lambda: box.checkin.catalog_cache.invalidate),
        "door": part(lambda: box.door),
        "desk": part(lambda: box.desk),
        "staff": part(lambda: box.staff),
        "tokens": part(lambda: box.tokens),
        "reads": part(lambda: box.reads),
        "conn": part(lambda: box.conn),
        "prints": part(lambda: box.prints),
        "devices": part(lambda: box.devices),
        "kiosk": part(lambda: box.kiosk),
        "live_feed": part(lambda: box.live),
    }


def create_app(
    data: DataDir,
    *,
    upstreams: list[Upstream] | None = None,
    synchronous: Synchronous = "FULL",
    max_body: int = MAX_BODY,
) -> Litestar:
    """The appliance app; its box is started in the lifespan and stopped after it."""
    box = Box(data, upstreams=upstreams, synchronous=synchronous)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await box.start()
        try:
            yield
        finally:
            await box.stop()

    return Litestar(
        route_handlers=[
            *ops.ROUTES,
            *overview.ROUTES,
            *peers.ROUTES,
            sync_router(box.sync, prover=box.prover, challenges=box.peer_auth.challenges),
            *staff.ROUTES,
            *checkin.ROUTES,
            *door_gates.ROUTES,
            *catalog.ROUTES,
            *desk.ROUTES,
            *devices.ROUTES,
            *printing.ROUTES,
            *schedule.ROUTES,
            *schedule_files.ROUTES,
            *grassroots.ROUTES,
            *kiosk.ROUTES,
            *LIVE_ROUTES,
            *SIGNAGE_ACCESS_ROUTES,
            docs_assets_router(),
            *load_pages(),  # the kiosk's pages (kiosk_ui), found by entry point: appliance/pages.py
        ],
        dependencies=_dependencies(box),
        before_request=staff_guard(lambda: box.tokens),
        exception_handlers=errors.HANDLERS,
        request_class=JSONRequest,
        middleware=[edge_input],  # NUL, lone surrogates, 64-bit overflow: 400 before any handler
        plugins=[
            # Each part's routes name their specific error codes for the OpenAPI document.
            ErrorResponses(
                signed_in=errors.signed_in,
                routes={
                    **errors.ROUTE_ERRORS,
                    **schedule.ROUTE_ERRORS,
                    **schedule_files.ROUTE_ERRORS,
                    **grassroots.ROUTE_ERRORS,
                },
            )
        ],
        request_max_body_size=max_body,
        logging_config=None,  # the CLI owns logging (format, secret redaction): see konferenco/logs.py
        lifespan=[lifespan],
        state=State({"box": box}),  # for operators' tools and tests; handlers get parts injected
        openapi_config=openapi_config("Konferenco appliance"),
    )
