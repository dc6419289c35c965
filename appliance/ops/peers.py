"""``GET /api/v1/peers``: the appliances heard on the LAN, each with whether it proved to be genuine."""

from __future__ import annotations

import msgspec
from litestar import get
from litestar.di import NamedDependency

from appliance.box import Box
from appliance.staff.guard import ALL_ROLES, roles
from konferenco.peer_record import parse_peer


class Peer(msgspec.Struct, kw_only=True):
    device_id: str
    event: str
    url: str
    #: True: it proved to be a peer of the event; False: it could not (a rogue, or revoked); None: no answer.
    trusted: bool | None
    detail: str
    last_seen: int


@get(
    "/api/v1/peers",
    summary="Appliances heard on the LAN, each asked to prove it belongs to this event",
    tags=["sync"],
    opt=roles(*ALL_ROLES),
)
async def list_peers(box: NamedDependency[Box]) -> list[Peer]:
    heard = []
    for service in box.devices.discovered():
        info = parse_peer(service.properties) if service.kind == "peer" else None
        if info is not None and info.event in box.config.events:
            heard.append((f"http://{service.host}:{info.api_port}", info, service.last_seen))
    verdicts = await box.peer_checks.check_all([(url, info.event) for url, info, _ in heard])
    return [
        Peer(
            device_id=info.device_id,
            event=info.event,
            url=url,
            trusted=verdict.trusted,
            detail=verdict.detail,
            last_seen=last_seen,
        )
        for (url, info, last_seen), verdict in zip(heard, verdicts, strict=True)
    ]


ROUTES = [list_peers]
