"""The grassroots part, built for a box: the service, the host-edit overlay on the schedule, the watch."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

from appliance.checkin.service import CheckinService
from appliance.config import ApplianceConfig
from appliance.grassroots.notices import Notices
from appliance.grassroots.overlay import HostEditWatch, HostOverlay
from appliance.grassroots.schedule import Schedule
from appliance.grassroots.service import Grassroots
from sync.replica import Replica


def grassroots_part(
    stack: AsyncExitStack,
    replica: Replica,
    conn: sqlite3.Connection,
    checkin: CheckinService,
    schedule: Schedule,
    config: ApplianceConfig,
    signs: Callable[[], list[Any]],
) -> Grassroots:
    """Build the part and hook it in: every schedule read shows the hosts' edits from now on.

    ``signs`` is asked at each step (the signage publishers start after this
    part is built); ``stack`` undoes the hooks when the box stops.
    """
    overlay = HostOverlay(conn)
    schedule.session_overlay = overlay
    watch = HostEditWatch(overlay, schedule.notify)
    stack.callback(replica.subscribe(watch.stored))
    stack.push_async_callback(watch.stop)
    return Grassroots(
        replica,
        conn,
        checkin,
        schedule,
        device_id=config.device_id,
        capabilities=config.capabilities,
        notices=Notices(signs),
        watch=watch,
    )
