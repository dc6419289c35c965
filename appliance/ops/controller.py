"""What operators and monitoring read: health, metrics, and what peers have not acknowledged."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.di import NamedDependency

from appliance.box import Box
from appliance.ops.metrics import render_metrics
from konferenco.errors import Unauthorized
from konferenco.types import now_ms
from sync.litestar_route import presented_token
from sync.tokens import InvalidToken


@get("/healthz", summary="Liveness and a one-line summary", tags=["ops"])
async def healthz(box: NamedDependency[Box]) -> dict[str, Any]:
    """``ok``, or ``degraded`` (still 200) while a background loop backs off; each loop's health."""
    return box.health()


@get("/metrics", summary="Prometheus metrics", tags=["ops"], media_type="text/plain; version=0.0.4")
async def metrics(box: NamedDependency[Box]) -> Response[bytes]:
    return Response(render_metrics(box), media_type="text/plain; version=0.0.4")


@get("/api/v1/sync/status", summary="What each peer has not yet acknowledged", tags=["sync"])
async def sync_status(request: Request[Any, Any, Any], box: NamedDependency[Box]) -> dict[str, Any]:
    try:
        box.sync.authenticate(presented_token(request))
    except InvalidToken as exc:
        raise Unauthorized(str(exc)) from None
    now = now_ms()
    clients = box.links.clients
    return {
        "device_id": box.config.device_id,
        "unacknowledged": {
            peer: {
                doc: {"count": p.count, "oldest_age_s": round(p.age_seconds(now), 1)}
                for doc, p in box.replica.acks.pending_all(peer).items()
            }
            for peer in sorted({*box.replica.acks.peers(), *(c.remote_peer for c in clients)})
        },
        "catch_up": {**box.catch_up(), "documents": box.replica.catch_up()},
        "connected_peers": box.sync.connected(),
        "upstreams": [
            {
                "url": c.url,
                "peer": c.remote_peer,
                "documents": {
                    name: {"state": s.state, "attempts": s.attempts, "last_error": s.last_error}
                    for name, s in c.status.items()
                },
            }
            for c in clients
        ],
    }


ROUTES = [healthz, metrics, sync_status]
