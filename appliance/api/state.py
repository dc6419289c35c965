"""The appliance's per-app state, reached from any handler (no module globals)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from litestar.connection import ASGIConnection

from konferenco.types import now_ms

if TYPE_CHECKING:
    from appliance.checkin.service import CheckinService
    from appliance.config import ApplianceConfig, DataDir
    from appliance.desk import Desk
    from appliance.devices import DeviceManager
    from appliance.printing.queue import PrintQueue
    from appliance.read_pool import ReadPool
    from appliance.staff import StaffDirectory, StaffTokens
    from sync.client import SyncClient
    from sync.replica import Replica
    from sync.server import SyncService
    from sync.sqlite_writer import SQLiteWriter


@dataclass
class ApplianceState:
    data: DataDir
    config: ApplianceConfig
    replica: Replica
    service: SyncService
    conn: sqlite3.Connection  # the event loop's read connection (point lookups)
    writer: SQLiteWriter  # the database's single writer (plain-table writes: catalog, staff)
    readers: ReadPool
    checkin: CheckinService
    staff: StaffDirectory
    tokens: StaffTokens
    desk: Desk
    clients: list[SyncClient] = field(default_factory=list)
    prints: PrintQueue | None = None
    devices: DeviceManager | None = None
    started_at: int = field(default_factory=now_ms)

    def event(self, requested: str | None) -> str:
        from appliance.checkin.service import resolve_event

        return resolve_event(self.config.events, requested)


def appliance_state(connection: ASGIConnection[Any, Any, Any, Any]) -> ApplianceState:
    state: ApplianceState = connection.app.state["appliance"]
    return state
