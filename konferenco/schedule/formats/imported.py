"""What a schedule file brought: rooms and sessions in our model, and what was left out and why."""

from __future__ import annotations

import msgspec

from konferenco.schedule.model import Room, Session

from .problems import Problem


class ImportedSchedule(msgspec.Struct, frozen=True, kw_only=True):
    """A schedule file read whole: nothing in it is half-read (a bad file raises instead).

    ``rooms`` and ``sessions`` are keyed by stable ids derived from the
    file's own ids (see :mod:`.assemble`), so reading the same file again
    gives the same ids and an import updates instead of duplicating.
    """

    #: ``pretalx-json``, ``frab-json``, ``frab-xml``, ``pretalx-xml`` or ``konferenco-json``/``-xml``.
    format: str
    title: str
    acronym: str = ""
    version: str = ""
    #: The file's IANA time zone (``time_zone_name``), None when it names none.
    timezone: str | None = None
    starts_on: str | None = None  # YYYY-MM-DD, in the file's time zone
    ends_on: str | None = None
    rooms: dict[str, Room] = {}
    sessions: dict[str, Session] = {}
    #: Sessions left out, each with where it is and why (the rest of the file is imported).
    skipped: list[Problem] = []
    #: Things read differently from how the file says them, or worth checking.
    warnings: list[Problem] = []
    #: Session id → where it is in the file (JSON path or ``line N``), to point a rule's refusal at it.
    places: dict[str, str] = {}
