"""The appliance's Litestar application.

Health, metrics, sync status and the sync endpoint, plus the check-in API
under ``/api/v1`` (every route there is guarded by a staff role).  Everything the app needs is
built in :func:`create_app` and handed to handlers through Litestar's
dependency injection and ``app.state`` — no module globals, so a test can
run two appliances in one process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, Response, get
from litestar.exceptions import NotAuthorizedException
from litestar.openapi import OpenAPIConfig

from appliance.api import attendees, auth, checkin, errors
from appliance.api import devices as device_api
from appliance.api.state import ApplianceState, appliance_state
from appliance.checkin.service import CheckinService
from appliance.config import DataDir
from appliance.desk import Desk
from appliance.devices import DeviceManager
from appliance.hub_link import CatalogPuller
from appliance.metrics import render_metrics
from appliance.printing.badges import BadgeRenderer
from appliance.printing.queue import PrintQueue
from appliance.read_pool import ReadPool
from appliance.staff import StaffDirectory
from konferenco.types import now_ms
from sync.client import SyncClient
from sync.names import DocName
from sync.permissions import Capability
from sync.server import SyncService, presented_token, sync_router
from sync.sqlite_store import SQLiteUpdateStore
from sync.sqlite_writer import Synchronous
from sync.tokens import InvalidToken

log = logging.getLogger(__name__)

#: Largest request body the API accepts: a scan is ~300 bytes; nothing legitimate is near this.
MAX_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Upstream:
    """A peer this appliance connects to: the hub or another appliance."""

    url: str
    token: str
    peer: str = "hub"


def create_app(
    data: DataDir,
    *,
    upstreams: list[Upstream] | None = None,
    synchronous: Synchronous = "FULL",
    max_body: int = MAX_BODY,
) -> Litestar:
    """The appliance app; everything is opened in its lifespan and closed after it."""
    config = data.load()
    signer = data.signer()
    replica = data.replica(synchronous)
    service = SyncService(replica, signer.verify, events=lambda: set(config.events))
    identity = data.identity(config)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await replica.start()
        for event in config.events:
            await replica.open(DocName.control(event))
            await replica.open(replica.device_log(event, config.device_id))
        conn = data.reader()
        readers = ReadPool(data.database)
        await readers.open()
        store = replica.store
        assert isinstance(store, SQLiteUpdateStore)
        checkin_service = CheckinService(replica, conn, config.events, config.device_id)
        state = ApplianceState(
            data=data,
            config=config,
            replica=replica,
            service=service,
            conn=conn,
            writer=store.writer,
            readers=readers,
            checkin=checkin_service,
            staff=StaffDirectory(conn, store.writer),
            tokens=data.staff_tokens(),
            desk=Desk(
                data,
                replica,
                config.device_id,
                organizer=Capability.ORGANIZER in config.capabilities,
                keys_changed=checkin_service.catalog_cache.invalidate,
            ),
        )
        app.state["appliance"] = state
        devices = state.devices = DeviceManager(config)
        await devices.start(state)
        prints = state.prints = PrintQueue(
            store.writer,
            conn,
            replica,
            config.device_id,
            printers=devices.printers(),
            render=BadgeRenderer(data, config).render,
        )
        await prints.start()
        links = list(upstreams or [])
        credential = data.hub_credential()
        puller: CatalogPuller | None = None
        if config.hub_url and credential:  # enrolled: the hub is an upstream, and the catalog's source
            links.append(Upstream(config.hub_url, credential, "hub"))
            puller = CatalogPuller(
                data, store.writer, config.events, on_change=checkin_service.catalog_cache.invalidate
            )
            puller.start()
        for upstream in links:
            client = SyncClient(replica, upstream.url, upstream.token, identity, remote_peer=upstream.peer)
            client.start()
            state.clients.append(client)
        log.info("appliance %s serving events %s", config.device_id, ", ".join(config.events))
        try:
            yield
        finally:
            if puller is not None:
                await puller.stop()
            await prints.stop()
            await devices.stop()
            for client in state.clients:
                await client.stop()
            await service.shutdown()
            await replica.close()
            await readers.close()
            conn.close()

    return Litestar(
        route_handlers=[
            healthz,
            metrics,
            sync_status,
            sync_router(service),
            auth.login,
            auth.me,
            checkin.post_scan,
            checkin.annul_scan,
            checkin.get_duplicates,
            checkin.get_stats,
            checkin.revoke,
            checkin.put_catalog,
            checkin.get_catalog,
            attendees.search_attendees,
            attendees.get_attendee,
            attendees.register_walk_in,
            attendees.amend_attendee,
            attendees.link_tag,
            *device_api.ROUTES,
        ],
        guards=[auth.staff_guard],
        exception_handlers=errors.HANDLERS,
        request_max_body_size=max_body,
        logging_config=None,  # the CLI owns logging (format, secret redaction): see appliance/logs.py
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(title="Konferenco appliance", version="1", path="/schema"),
    )


def _state(request: Request[Any, Any, Any]) -> ApplianceState:
    return appliance_state(request)


@get("/healthz", summary="Liveness and a one-line summary", tags=["ops"])
async def healthz(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = _state(request)
    return {
        "status": "ok",
        "device_id": state.config.device_id,
        "events": state.config.events,
        "documents": len(state.replica.loaded()),
        "uptime_s": (now_ms() - state.started_at) // 1000,
    }


@get("/metrics", summary="Prometheus metrics", tags=["ops"], media_type="text/plain; version=0.0.4")
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(render_metrics(_state(request)), media_type="text/plain; version=0.0.4")


@get("/api/v1/sync/status", summary="What each peer has not yet acknowledged", tags=["sync"])
async def sync_status(request: Request[Any, Any, Any]) -> dict[str, Any]:
    state = _state(request)
    try:
        state.service.authenticate(presented_token(request))
    except InvalidToken as exc:
        raise NotAuthorizedException(detail=str(exc)) from None
    now = now_ms()
    return {
        "device_id": state.config.device_id,
        "unacknowledged": {
            peer: {
                doc: {"count": p.count, "oldest_age_s": round(p.age_seconds(now), 1)}
                for doc, p in state.replica.acks.pending_all(peer).items()
            }
            for peer in sorted({*state.replica.acks.peers(), *(c.remote_peer for c in state.clients)})
        },
        "connected_peers": state.service.connected(),
        "upstreams": [
            {
                "url": c.url,
                "peer": c.remote_peer,
                "documents": {
                    name: {"state": s.state, "attempts": s.attempts, "last_error": s.last_error}
                    for name, s in c.status.items()
                },
            }
            for c in state.clients
        ],
    }
