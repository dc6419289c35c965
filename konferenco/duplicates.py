"""The duplicate rule: which admissions the merged device logs show were not allowed.

Pure, so the appliance (over SQLite) and the hub (over PostgreSQL) apply
the very same rule and show organizers the same list (DESIGN.md §2).
"""

from __future__ import annotations

from typing import Any


def find_duplicates(rows: list[Any], reentry: dict[str, str]) -> list[dict[str, Any]]:
    """The rule, shared by the appliance and the hub (DESIGN.md §2).

    ``rows`` are admitted scans ``(attendee, list, doc, scan id, at, gate,
    device, direction)`` ordered by attendee, list, time, document and id.
    Per attendee and list, scans are replayed in time order (ties broken by
    document and record id, as every replica does): the earliest admission
    wins; an entry admitted by *another* device while the attendee was
    already inside (or, on a once-only list, had already entered) is a
    duplicate.  Nothing is dropped: both scans stay, the later is flagged.
    """
    out: list[dict[str, Any]] = []
    current: tuple[str, str] | None = None
    first: Any = None
    inside_by: Any = None
    for attendee, list_id, doc, scan_id, at, gate, device, direction in rows:
        if (attendee, list_id) != current:
            current, first, inside_by = (attendee, list_id), None, None
        if direction == "exit":
            inside_by = None
            continue
        policy = reentry.get(list_id, "after_exit")
        duplicate = first is not None and (
            (policy == "once") or (policy == "after_exit" and inside_by is not None)
        )
        if duplicate and device != (inside_by or first)[2]:
            winner = inside_by or first
            out.append(
                {
                    "attendee_id": attendee,
                    "name": "",
                    "list": list_id,
                    "first": {
                        "scan_id": winner[0],
                        "at": winner[1],
                        "gate": winner[3],
                        "device_id": winner[2],
                    },
                    "duplicate": {
                        "scan_id": scan_id,
                        "at": at,
                        "gate": gate,
                        "device_id": device,
                        "doc": doc,
                    },
                }
            )
        else:
            if first is None:
                first = (scan_id, at, device, gate)
            inside_by = (scan_id, at, device, gate)
    return out
