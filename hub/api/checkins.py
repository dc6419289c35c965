"""What the doors did: the live dashboard figures and the duplicates list."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.di import NamedDependency
from litestar.params import FromPath

from hub.api.deps import DEPS
from hub.catalog import events as event_service
from hub.checkins import dashboard
from hub.state import HubState
from hub.tenants.accounts import Principal


@get("/api/v1/events/{event_id:str}/dashboard", dependencies=DEPS)
async def get_dashboard(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> dict[str, Any]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        return await dashboard.stats(conn, event_id)


@get("/api/v1/events/{event_id:str}/duplicates", dependencies=DEPS)
async def get_duplicates(
    hub: NamedDependency[HubState], principal: NamedDependency[Principal], event_id: FromPath[str]
) -> list[dict[str, Any]]:
    async with hub.db.tenant(principal.org_id) as conn:
        await event_service.get_event(conn, event_id)
        return await dashboard.duplicates(conn, event_id)


ROUTES = [get_dashboard, get_duplicates]
