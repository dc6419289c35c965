"""``GET /api/v1/peers``: the appliances heard on the LAN, each with whether it proved to be genuine."""

from __future__ import annotations

import msgspec
from litestar import get
from litestar.di import NamedDependency

from appliance.box import Box
from appliance.staff.guard import ALL_ROLES, roles


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
    heard = [
        s
        for s in box.devices.discovered()
        if s.kind == "peer" and s.properties.get("event") in box.config.events
    ]
    urls = [f"http://{s.host}:{s.properties.get('api_port') or s.port}" for s in heard]
    verdicts = await box.peer_checks.check_all(
        [(url, s.properties["event"]) for url, s in zip(urls, heard, strict=True)]
    )
    return [
        Peer(
            device_id=s.properties.get("device", ""),
            event=s.properties["event"],
            url=url,
            trusted=v.trusted,
            detail=v.detail,
            last_seen=s.last_seen,
        )
        for s, url, v in zip(heard, urls, verdicts, strict=True)
    ]


ROUTES = [list_peers]
