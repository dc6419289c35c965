"""What is wrong with a schedule file, said so an organizer can fix it in one go.

A reader never stops at the first problem: it walks the whole file, collects
every problem with where it is (a JSON path such as
``schedule.conference.days[2].rooms["Hall A"][4]`` or an XML line number)
and the session's id in the source system, and only then refuses the file
with all of them.  Fixing a 300-session export one error per upload would
take an afternoon; fixing it from one list takes minutes.

The list is bounded (:data:`MAX_LISTED`): a file with 50,000 broken rows
still gets an answer of a few hundred kilobytes, with the count of the
rest.
"""

from __future__ import annotations

from typing import Any

import msgspec

from konferenco.errors import KonferencoError

#: Problems listed in one refusal; the rest are counted (``ScheduleFileError.more``).
MAX_LISTED = 1000


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One thing in a file that was refused, skipped or is worth a warning."""

    #: Where to look: a JSON path, ``line 12`` in an XML file, or ``file`` for the whole file.
    where: str
    #: What is wrong, in words an organizer understands.
    reason: str
    #: The session's or room's id in the source system (guid, id, name), when known.
    source_id: str = ""
    #: The XML line (1-based), or the JSON line when the file is not valid JSON.
    line: int | None = None

    def __str__(self) -> str:
        who = f" [{self.source_id}]" if self.source_id else ""
        return f"{self.where}{who}: {self.reason}"


class ScheduleFileError(KonferencoError):
    """The file was refused whole: nothing in it was imported (``schedule_rejected``, HTTP 422).

    ``details.problems`` carries every problem (up to :data:`MAX_LISTED`),
    each with where it is and the source id, and ``details.more`` the count
    of those not listed.
    """

    code = "schedule_rejected"

    def __init__(self, problems: list[Problem], *, more: int = 0) -> None:
        if not problems:
            raise ValueError("a refused schedule file has at least one problem")
        self.problems = problems[:MAX_LISTED]
        self.more = more + max(0, len(problems) - MAX_LISTED)
        total = len(self.problems) + self.more
        first = str(self.problems[0])
        message = (
            f"The schedule file was refused, nothing was imported: {first}"
            if total == 1
            else f"The schedule file was refused, nothing was imported: {total} problems, the first: {first}"
        )
        super().__init__(
            message,
            problems=[msgspec.to_builtins(p) for p in self.problems],
            more=self.more,
        )


class Problems:
    """A collector: fatal problems (the file is refused), skipped sessions and warnings."""

    def __init__(self) -> None:
        self.fatal: list[Problem] = []
        self.fatal_more = 0
        self.skipped: list[Problem] = []
        self.warnings: list[Problem] = []

    def refuse(self, where: str, reason: str, source_id: str = "", line: int | None = None) -> None:
        if len(self.fatal) >= MAX_LISTED:
            self.fatal_more += 1
            return
        self.fatal.append(Problem(where=where, reason=reason, source_id=source_id, line=line))

    def skip(self, where: str, reason: str, source_id: str = "", line: int | None = None) -> None:
        self.skipped.append(Problem(where=where, reason=reason, source_id=source_id, line=line))

    def warn(self, where: str, reason: str, source_id: str = "", line: int | None = None) -> None:
        self.warnings.append(Problem(where=where, reason=reason, source_id=source_id, line=line))

    def raise_if_fatal(self) -> None:
        if self.fatal:
            raise ScheduleFileError(self.fatal, more=self.fatal_more)


def problem_dicts(problems: list[Problem]) -> list[dict[str, Any]]:
    """Problems as plain JSON values (for an HTTP answer or a CLI ``--json``)."""
    return [msgspec.to_builtins(p) for p in problems]
