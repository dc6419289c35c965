"""The attendee CSV dialect: what a column may be called, and what is wrong with a row.

Shared by the appliance (``konferenco appliance import``) and the hub (the
console's attendee import), so an organizer gets the same column synonyms
and the same wording for a bad row wherever the file goes in.  Parsing is
pure: no database, no I/O; the caller decides what to do with the rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import msgspec

from konferenco.badges import BadgePayload, BadgeSigner
from konferenco.catalog.bundle import Attendee
from konferenco.types import nfc_uid

#: progress(phase, done, total): "checking" rows, then "writing" rows and search rows;
#: called every few thousand rows (from the writer's thread while writing).
Progress = Callable[[str, int, int], None]

#: CSV header names recognised without a ``--map`` (compared case-insensitively).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "attendee_id", "attendee id"),
    "external_ref": ("external_ref", "external ref", "reference", "ticket id", "ticket_id", "position id"),
    "name": ("name", "full name", "full_name", "attendee name", "attendee_name"),
    "first_name": ("first_name", "first name", "given name", "firstname"),
    "last_name": ("last_name", "last name", "family name", "surname", "lastname"),
    "company": ("company", "organisation", "organization", "employer"),
    "email": ("email", "e-mail", "email address", "mail"),
    "order_ref": ("order_ref", "order", "order code", "order_code", "order reference", "order number"),
    "ticket_type": ("ticket_type", "ticket type", "ticket", "product", "category"),
    "nfc_uid": ("nfc_uid", "nfc", "nfc uid", "rfid", "card uid"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    line: int  # CSV line (1 = header) or attendee position in a bundle (1-based); 0 = whole file
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.field}: {self.message}"


@dataclass(frozen=True, slots=True)
class CsvOptions:
    mapping: dict[str, str] = field(default_factory=dict)  # our field -> CSV column
    default_ticket_type: str | None = None
    delimiter: str | None = None  # None: sniffed (comma, semicolon or tab)


def _columns(header: list[str], options: CsvOptions) -> tuple[dict[str, int], list[Problem]]:
    lowered = {h.strip().lower(): i for i, h in enumerate(header)}
    columns: dict[str, int] = {}
    problems = []
    for ours, theirs in options.mapping.items():
        if ours not in SYNONYMS:
            problems.append(Problem(1, ours, f"unknown field; mappable fields: {', '.join(SYNONYMS)}"))
        elif theirs.strip().lower() not in lowered:
            problems.append(Problem(1, ours, f"column '{theirs}' is not in the header"))
        else:
            columns[ours] = lowered[theirs.strip().lower()]
    for ours, names in SYNONYMS.items():
        if ours not in columns:
            found = next((lowered[n] for n in names if n in lowered), None)
            if found is not None:
                columns[ours] = found
    if "name" not in columns and not {"first_name", "last_name"} & columns.keys():
        problems.append(Problem(1, "name", "no name column (map one with --map name=COLUMN)"))
    if "ticket_type" not in columns and options.default_ticket_type is None:
        problems.append(Problem(1, "ticket_type", "no ticket type column; map one or pass --ticket-type"))
    return columns, problems


def _derived_id(event_id: str, ref: str, email: str, name: str) -> str:
    basis = ref or f"{email.lower()}|{name}"
    return "c" + hashlib.sha256(f"{event_id}|{basis}".encode()).hexdigest()[:20]


def read_csv(
    text: str,
    event_id: str,
    ticket_types: dict[str, str],
    options: CsvOptions,
    *,
    progress: Progress | None = None,
) -> tuple[list[tuple[int, Attendee]], list[Problem], int]:
    """Parse and validate every row; return (valid rows with their line, problems, row count).

    A file the csv module cannot parse at all (a cell over its size limit, a NUL byte)
    is one problem for the whole file, never an exception: the caller reports it like any other.
    """
    try:
        return _read_csv(text, event_id, ticket_types, options, progress)
    except csv.Error as exc:
        return [], [Problem(0, "file", f"the file is not readable as CSV ({exc})")], 0


def _read_csv(
    text: str,
    event_id: str,
    ticket_types: dict[str, str],
    options: CsvOptions,
    progress: Progress | None,
) -> tuple[list[tuple[int, Attendee]], list[Problem], int]:
    sample = text[:8192]
    delimiter = options.delimiter
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return [], [Problem(0, "file", "the file is empty")], 0
    columns, problems = _columns(header, options)
    if problems:
        return [], problems, 0
    by_name = {name.strip().lower(): tid for tid, name in ticket_types.items()}
    total = max(text.count("\n"), 1)
    rows: list[tuple[int, Attendee]] = []
    seen: dict[str, int] = {}
    tags: dict[str, int] = {}  # a tag opens the door for one person only
    count = 0
    for cells, line in _numbered(reader):
        count += 1
        if progress is not None and count % 5000 == 0:
            progress("checking", count, total)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(Problem(line, "row", f"{len(cells)} cells, the header has {len(header)}"))
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = columns.get(name)
            return cells[i].strip() if i is not None else ""

        name = cell("name") or " ".join(p for p in (cell("first_name"), cell("last_name")) if p)
        ticket = cell("ticket_type") or options.default_ticket_type or ""
        ticket_id = ticket if ticket in ticket_types else by_name.get(ticket.lower())
        if ticket_id is None:
            known = ", ".join(f"{tid} ({n})" for tid, n in sorted(ticket_types.items())) or "none"
            problems.append(Problem(line, "ticket_type", f"unknown ticket type '{ticket}'; known: {known}"))
            continue
        nfc = nfc_uid(cell("nfc_uid"))
        raw = {
            "id": cell("id") or _derived_id(event_id, cell("external_ref"), cell("email"), name),
            "name": name,
            "ticket_type_id": ticket_id,
            "company": cell("company"),
            "email": cell("email"),
            "order_ref": cell("order_ref"),
            "external_ref": cell("external_ref"),
            "nfc_uid": nfc,
        }
        try:
            attendee = msgspec.convert(raw, Attendee)
        except msgspec.ValidationError as exc:
            problems.append(Problem(line, _field_of(exc), _plain(exc)))
            continue
        if attendee.id in seen:
            problems.append(Problem(line, "id", f"same attendee as line {seen[attendee.id]}"))
            continue
        if attendee.nfc_uid:
            if attendee.nfc_uid in tags:
                problems.append(
                    Problem(
                        line, "nfc_uid", f"tag {attendee.nfc_uid} is also on line {tags[attendee.nfc_uid]}"
                    )
                )
                continue
            tags[attendee.nfc_uid] = line
        seen[attendee.id] = line
        rows.append((line, attendee))
    return rows, problems, count


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[list[str], int]]:
    for cells in reader:
        yield cells, reader.line_num  # type: ignore[attr-defined]


def _field_of(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    return text.rsplit("$.", 1)[-1].rstrip("`") if "$." in text else "row"


def _plain(exc: msgspec.ValidationError) -> str:
    text = str(exc).split(" - at ")[0]
    replacements = {
        "Expected `str` of length >= 1": "must not be empty",
        "Expected `str` of length <= 200": "is longer than 200 characters",
        "Expected `str` matching regex": "has an invalid format",
    }
    for prefix, plain in replacements.items():
        if text.startswith(prefix):
            return plain
    return text


def sign_missing_badges(event_id: str, attendees: list[Attendee], signer: BadgeSigner) -> list[Attendee]:
    """Give every row without a badge code one signed by the event key held here.

    Done before the write (in a worker thread), never inside it: signing
    180,000 badges takes seconds, and the single writer must not wait on it.
    """
    return [
        a
        if a.badge_code
        else msgspec.structs.replace(
            a, badge_code=signer.sign(BadgePayload(event_id, a.id, a.ticket_type_id))
        )
        for a in attendees
    ]


@dataclass(frozen=True, slots=True)
class ProblemGroup:
    """Identical problems on many rows, said once: a 1,200-row file with one wrong column is one mistake."""

    field: str
    message: str
    hint: str
    lines: tuple[int, ...]  # 0 = the whole file

    @property
    def count(self) -> int:
        return len(self.lines)

    def where(self, shown: int = 5) -> str:
        """The lines, the first few of them: every one stays available in ``lines``."""
        numbered = [n for n in self.lines if n]
        if not numbered:
            return "the file"
        head = ", ".join(f"{n:,}" for n in numbered[:shown])
        more = len(numbered) - shown
        return (
            ("line " if len(numbered) == 1 else "lines ") + head + (f" and {more:,} more" if more > 0 else "")
        )

    def __str__(self) -> str:
        rows = f"{self.count:,} rows" if self.count > 1 else "1 row"
        if self.lines == (0,):
            rows = "the file"
        text = f"{rows}: {self.field}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return f"{text} [{self.where()}]" if self.lines != (0,) else text


#: What to do about a problem, by field: said once per group, not on every row.
_HINTS = {
    "ticket_type": "create the ticket type first, or map the column with --map ticket_type=COLUMN",
    "name": "every row needs a name; map the column with --map name=COLUMN",
    "email": "fix the address or leave the cell empty",
    "row": "a cell with a comma or a line break must be in double quotes",
}


def group_problems(problems: list[Problem], hints: Mapping[str, str] | None = None) -> list[ProblemGroup]:
    """Group problems with the same field and message, in the order each first appears.

    ``hints`` replaces the advice for the fields it names (``""``: none), for a caller whose
    users have no ``--map`` flag to reach for (the hub's console); other fields keep theirs.
    """
    advice = {**_HINTS, **hints} if hints else _HINTS
    groups: dict[tuple[str, str], list[int]] = {}
    for problem in problems:
        groups.setdefault((problem.field, problem.message), []).append(problem.line)
    return [
        ProblemGroup(field, message, advice.get(field, ""), tuple(lines))
        for (field, message), lines in groups.items()
    ]
