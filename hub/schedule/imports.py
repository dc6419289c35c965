"""Reading a schedule file and checking what importing it would do, before anything is written.

The reading is :mod:`konferenco.schedule.formats` (pure, shared with the
appliance); the plan says which rooms and sessions change; the rule engine
then checks the schedule as it would be (what is there plus what comes),
so a dry run refuses exactly what the real import would refuse.
"""

from __future__ import annotations

from konferenco.schedule.formats import ImportPlan, plan_import, read_schedule
from konferenco.schedule.model import EventFrame
from konferenco.schedule.rules import Finding
from sync.schedule_edits import ScheduleState, check_import


def plan_and_check(
    state: ScheduleState,
    frame: EventFrame,
    data: bytes,
    filename: str,
    *,
    by: str = "import",
    overlap_reason: str | None = None,
) -> tuple[ImportPlan, str, list[Finding]]:
    """(the formats' import plan, the file's format, the warnings); raises the refusals.

    ``ScheduleFileError`` (422 ``schedule_rejected``) for a file that cannot
    be read, ``schedule_conflict`` (409) when a blocking rule refuses the
    result, with the same findings :func:`sync.schedule_edits.apply_import`
    would give.
    """
    imported = read_schedule(data, filename)
    plan = plan_import(state.rooms, state.sessions, imported)
    _, warnings = check_import(state, plan.rooms, plan.sessions, frame, by=by, overlap_reason=overlap_reason)
    return plan, imported.format, warnings
