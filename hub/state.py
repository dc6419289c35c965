"""Everything a hub worker holds, built in the app's lifespan and handed to handlers by DI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection

from hub.catalog.keys import KeySealer
from hub.db.session import Database
from hub.devices.enrolment import DeviceAuth
from hub.settings import HubSecrets, HubSettings
from hub.tenants.accounts import LoginLimiter, Sessions
from sync.replica import Replica
from sync.service import SyncService


@dataclass
class HubState:
    settings: HubSettings
    secrets: HubSecrets
    db: Database
    sealer: KeySealer
    sessions: Sessions
    limiter: LoginLimiter
    devices: DeviceAuth
    pool: asyncpg.Pool | None = None
    replica: Replica | None = None
    sync: SyncService | None = None
    fanout: Any = None
    worker_id: str = ""

    @property
    def catalog_public_key(self) -> bytes:
        from konferenco.badges import raw_public_key

        return raw_public_key(self.secrets.catalog_key.public_key())


def state_of(connection: ASGIConnection[Any, Any, Any, Any]) -> HubState:
    """The worker's state, for a request or a websocket (the API and the console alike)."""
    state = connection.app.state["hub"]
    assert isinstance(state, HubState)
    return state
