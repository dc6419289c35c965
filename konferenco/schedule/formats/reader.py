"""Read a schedule file whatever its format: pretalx or frab schedule JSON, or frab ``schedule.xml``.

The format is told by the content, not the name (an upload's name is often
``download`` or ``schedule``): JSON starts with ``{``, XML with ``<``.  The
file name only makes the refusal of an unknown kind clearer.
"""

from __future__ import annotations

from .assemble import assemble
from .imported import ImportedSchedule
from .limits import MAX_BYTES
from .problems import Problems, ScheduleFileError
from .raw import RawSchedule
from .read_json import read_json
from .read_xml import read_xml


def read_schedule(data: bytes, filename: str | None = None) -> ImportedSchedule:
    """Every room and session of a schedule file, or :class:`ScheduleFileError` with every problem.

    Pure: bytes in, values out.  Nothing half-read is ever returned: when one
    problem makes the file untrustworthy, the error lists all of them (each
    with its JSON path or XML line and the session's source id) and nothing
    is imported.  Sessions that merely cannot be placed (no title, no start,
    no length) are left out and listed in ``skipped``.
    """
    problems = Problems()
    if len(data) > MAX_BYTES:
        problems.refuse("file", f"the file has {len(data):,} bytes; a schedule is far smaller")
        problems.raise_if_fatal()
    raw = _take_apart(data, filename, problems)
    problems.raise_if_fatal()
    assert raw is not None
    imported = assemble(raw, problems)
    problems.raise_if_fatal()
    assert imported is not None
    return imported


def _take_apart(data: bytes, filename: str | None, problems: Problems) -> RawSchedule | None:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{") or head.startswith(b"["):
        return read_json(data, problems)
    if head.startswith(b"<"):
        return read_xml(data, problems)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a byte order mark
        return (
            read_json(data, problems)
            if b"{\x00" in head[:8] or b"\x00{" in head[:8]
            else read_xml(data, problems)
        )
    named = f" “{filename}”" if filename else ""
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        reason = (
            f"the file{named} is an iCalendar file; it has no rooms or ids to import. "
            "Export schedule.json or schedule.xml from pretalx or frab instead"
        )
    elif not head:
        reason = f"the file{named} is empty"
    else:
        reason = (
            f"the file{named} is neither a schedule JSON nor a frab schedule.xml; "
            "pretalx and frab export both (Schedule → Export)"
        )
    problems.refuse("file", reason)
    return None


__all__ = ["ScheduleFileError", "read_schedule"]
