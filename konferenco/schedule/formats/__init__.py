"""Schedule files in and out: pretalx/frab schedule JSON, frab ``schedule.xml`` and iCalendar.

Pure functions, bytes in and bytes out, used by the appliance and the hub
alike (their HTTP routes and CLIs do the I/O)::

    imported = read_schedule(data, filename)          # or ScheduleFileError (422 schedule_rejected)
    plan = plan_import(state.rooms, state.sessions, imported)
    print("\\n".join(plan.report.sentences))
    await apply_import(replica, event_id, plan.rooms, plan.sessions, frame)

    write_frab_xml(rooms, sessions, frame)             # schedule.xml, XSD-valid, CONSUMERS.md-proof
    write_schedule_json(rooms, sessions, frame)        # schedule.json, schema-valid
    write_ical(rooms, sessions, frame, room=None, speaker=None)

Every writer includes every scheduled session, grassroots ones too, and
gives the same bytes for the same schedule (an ETag can be a hash of them).
"""

from __future__ import annotations

from .frab_xml import write_frab_xml
from .ical import write_ical
from .identity import session_guid
from .imported import ImportedSchedule
from .layout import DAY_CHANGE, content_version
from .plan import Changes, ImportPlan, ImportReport, plan_import
from .problems import Problem, ScheduleFileError
from .reader import read_schedule
from .schedule_json import write_schedule_json

__all__ = [
    "DAY_CHANGE",
    "Changes",
    "ImportPlan",
    "ImportReport",
    "ImportedSchedule",
    "Problem",
    "ScheduleFileError",
    "content_version",
    "plan_import",
    "read_schedule",
    "session_guid",
    "write_frab_xml",
    "write_ical",
    "write_schedule_json",
]
