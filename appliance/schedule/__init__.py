"""The event's schedule on the venue appliance: reading it, editing it, importing and exporting it.

* :mod:`appliance.schedule.service` — :class:`ScheduleService`: the event's frame, the schedule
  as the control document holds it (cached, with the hosts' edits laid over it), the rule index
  queried per request, and every edit (through :mod:`sync.schedule_edits`, so the hub and the
  appliance refuse the same change with the same sentence);
* :mod:`appliance.schedule.occupancy` — who is inside each room now, against the session on;
* :mod:`appliance.schedule.transfer` — schedule files in (pretalx/frab) and out (iCal, XML, JSON);
* :mod:`appliance.schedule.controller` and :mod:`appliance.schedule.files_controller` — the HTTP API;
* :mod:`appliance.schedule.standalone` — the command line's way in, with the box stopped or serving.
"""
