"""The hub's Litestar application: API, console, sync peer, health and metrics.

One worker is one process holding a pool of PostgreSQL connections and an
in-memory replica of the event documents it serves.  Several workers share
nothing but PostgreSQL: it is the update log (every update is stored
before it is acknowledged) and, through LISTEN/NOTIFY, the fan-out that
lets a peer connected to one worker see what a peer of another worker sent
(``hub.peer.fanout``).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.static_files import create_static_files_router

from hub.api import audit, catalog, checkins, devices, proposals, schedule, tokens
from hub.api.errors import error_docs
from hub.catalog import import_pool
from hub.catalog.keys import KeySealer
from hub.console.routes import CONSOLE_ROUTES, STATIC_DIR, TEMPLATE_CONFIG
from hub.db.session import Database
from hub.devices.enrolment import DeviceAuth
from hub.metrics import render_metrics
from hub.peer.fanout import Fanout
from hub.peer.notices import CHANNEL, on_notice
from hub.peer.presence import Heartbeat
from hub.peer.projection import HubProjection
from hub.peer.store import PostgresUpdateStore
from hub.settings import HubSecrets, HubSettings
from hub.state import HubState
from hub.tenants.accounts import LoginLimiter, Sessions
from konferenco import logs
from konferenco.edge_input import edge_input
from konferenco.errors import Unauthorized
from konferenco.http_errors import EXCEPTION_HANDLERS, JSONRequest
from konferenco.lifecycle import tasks_report
from konferenco.openapi import docs_assets_router, openapi_config
from sync.litestar_route import sync_router
from sync.peer_proof import HubProver
from sync.permissions import PeerIdentity
from sync.replica import Replica
from sync.service import SyncService
from sync.tokens import InvalidToken

log = logging.getLogger(__name__)


def create_app(settings: HubSettings | None = None) -> Litestar:
    settings = settings or HubSettings.from_env()
    if not logging.getLogger().handlers:  # a worker process uvicorn spawned: it starts unconfigured
        logs.configure(logging.INFO, os.environ.get("KONFERENCO_LOG_FORMAT", "text"))
    hub_secrets = HubSecrets(settings.secrets_dir)
    db = Database(settings.database_url)
    state = HubState(
        settings=settings,
        secrets=hub_secrets,
        db=db,
        sealer=KeySealer(hub_secrets.derive("event-keys")),
        sessions=Sessions(hub_secrets.derive("console-sessions")),
        limiter=LoginLimiter(settings.login_attempts, settings.login_window_s),
        devices=DeviceAuth(db),
        worker_id=f"w{os.getpid()}-{secrets.token_hex(3)}",
    )
    known_events: set[str] = set()

    async def authenticate(token: str | None) -> PeerIdentity:
        try:
            identity, _org = await state.devices.device(token)
        except Unauthorized as exc:
            raise InvalidToken(exc.message) from None
        known_events.update(identity.events)
        return identity

    # The routes need the sync service when the app is assembled; its store gets its pool in
    # the lifespan, on the loop that serves (a pool belongs to the loop it was created on).
    store = PostgresUpdateStore(None, projector=HubProjection(), worker_id=state.worker_id)
    state.replica = Replica(store)
    state.sync = SyncService(state.replica, authenticate, events=lambda: known_events)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(settings.dsn, min_size=1, max_size=8)
        state.pool = store.pool = pool
        assert state.replica is not None and state.sync is not None
        await state.replica.start()
        known_events.update(await _event_ids(pool))
        state.fanout = Fanout(settings.dsn, state.replica, state.worker_id)  # its own LISTEN connection
        state.fanout.on_message(CHANNEL, lambda payload: on_notice(state, payload))
        await state.fanout.start()
        heartbeat = Heartbeat(pool, state.sync)
        heartbeat.start()
        app.state["loops"] = [state.fanout, heartbeat]  # whose tasks /healthz reports
        log.info("hub worker %s ready", state.worker_id)
        try:
            yield
        finally:
            await heartbeat.stop()
            await state.fanout.stop()
            await state.sync.shutdown()
            await state.replica.close()
            await pool.close()
            await db.close()

    return Litestar(
        route_handlers=[
            healthz,
            metrics,
            *tokens.ROUTES,
            *catalog.ROUTES,
            *devices.ROUTES,
            *audit.ROUTES,
            *checkins.ROUTES,
            *schedule.ROUTES,
            *proposals.ROUTES,
            sync_router(state.sync, prover=HubProver(state.secrets.catalog_key)),
            *CONSOLE_ROUTES,
            create_static_files_router(path="/static", directories=[STATIC_DIR], name="static"),
            docs_assets_router(),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # the JSON API; the console renders its own (hub/console)
        request_class=JSONRequest,
        middleware=[edge_input],  # NUL, lone surrogates, 64-bit overflow: 400 before any handler
        plugins=[error_docs()],
        template_config=TEMPLATE_CONFIG,
        state=State({"hub": state}),
        lifespan=[lifespan, import_pool.lifespan],  # stop the import processes with the worker
        openapi_config=openapi_config("Konferenco hub"),
        logging_config=None,  # the CLI owns logging (format, redaction): appliance/logs.py
    )


async def _event_ids(pool: asyncpg.Pool) -> set[str]:
    async with pool.acquire() as conn:
        return {r["id"] for r in await conn.fetch("SELECT id FROM event")}


@get("/healthz", include_in_schema=False)
async def healthz(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """200 while the database answers; ``degraded`` while a background loop backs off (``tasks`` say why)."""
    state: HubState = request.app.state["hub"]
    assert state.pool is not None
    async with state.pool.acquire() as conn:
        await conn.fetchval("SELECT 1")
    report = tasks_report(task for owner in request.app.state.get("loops", []) for task in owner.tasks)
    return {"status": report["status"], "worker": state.worker_id, "tasks": report["tasks"]}


@get("/metrics", media_type=MediaType.TEXT, include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(render_metrics(request.app.state["hub"]), media_type="text/plain; version=0.0.4")
