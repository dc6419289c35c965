"""Each grassroots step done here, announced on the venue's signage notice topic (``notices/grassroots``).

Room signs learn of a newly scheduled session from their room's schedule
topic; this topic is for what else wants to hear of every step (an info
screen, a bot, the organizers' phones): proposed, approved, scheduled,
rejected, withdrawn, cancelled.  A sign that is offline misses nothing it
needs, so a notice is never retained, and a broker that is down never fails
the step: the step is recorded before it is announced, and a failed notice
is only logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from appliance.grassroots.structs import Step
from sync.records import Proposal

log = logging.getLogger(__name__)


class Notices:
    """Publishes a notice per step on every signage publisher the box runs (none: nothing to do)."""

    def __init__(self, publishers: Callable[[], list[Any]]) -> None:
        self.publishers = publishers

    async def publish(
        self,
        step: Step,
        proposal: Proposal,
        *,
        by: str | None,
        room: str | None = None,
        starts_at: int | None = None,
        ends_at: int | None = None,
        session_id: str | None = None,
    ) -> None:
        publishers = [p for p in self.publishers() if hasattr(p, "publish_grassroots_notice")]
        if not publishers:
            return
        from drivers.signage.payloads import GrassrootsNotice  # the MQTT stack only on boxes with signs

        for publisher in publishers:
            try:
                await publisher.publish_grassroots_notice(
                    GrassrootsNotice(
                        step=step,
                        proposal_id=proposal.proposal_id,
                        ref=proposal.ref,
                        title=proposal.title,
                        room=room,
                        starts_at=starts_at,
                        ends_at=ends_at,
                        by=by,
                        session_id=session_id,
                    )
                )
            except Exception:
                log.exception("grassroots notice %s of %s not published", step, proposal.ref)
