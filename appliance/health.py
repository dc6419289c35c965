"""The appliance's ``/healthz`` body: who it is, how long it has run, and how its background loops are doing.

``status`` is ``ok``, or ``degraded`` while a loop backs off after failures
(the hub unreachable, a sign update failing): the box still checks people
in, so the answer stays HTTP 200, and each task's ``last_error`` says what
went wrong.  Built from plain arguments, so it is tested without an app.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from konferenco.lifecycle import Supervised, tasks_report
from konferenco.types import now_ms


class HasTasks(Protocol):
    """Anything that runs supervised loops: the catalog puller, a sync client, a signage feed."""

    @property
    def tasks(self) -> Sequence[Supervised]: ...


def health_report(
    *,
    device_id: str,
    events: Sequence[str],
    documents: int,
    started_at: int,
    loops: Iterable[HasTasks | None] = (),
    now: int | None = None,
) -> dict[str, Any]:
    """The health of one box; ``loops`` may hold None for a part that is not running (not enrolled)."""
    report = tasks_report(task for owner in loops if owner is not None for task in owner.tasks)
    return {
        "status": report["status"],
        "device_id": device_id,
        "events": list(events),
        "documents": documents,
        "uptime_s": ((now_ms() if now is None else now) - started_at) // 1000,
        "tasks": report["tasks"],
    }
