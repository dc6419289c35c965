"""The small values of schedule files: durations, dates with offsets, ids, slugs, clipped texts.

One place for the spellings the formats allow, both ways: what the readers
accept (leniently: ``00:45``, ``0:45``, ``00:45:00``, ``1:02:00:00`` for a
day and two hours) and what the writers produce (strictly: ``HH:MM``, the
only spelling every importer takes; see ``CONSUMERS.md`` in the shared
schedule-formats folder).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from konferenco.text import fold

MINUTE_MS = 60_000
#: Longer than this is not a session but a typo (``9999:00``): the duration is refused as unreadable.
MAX_DURATION_MS = 31 * 24 * 60 * MINUTE_MS

#: The namespace of the UUIDs we make for our own rooms, sessions and people (uuid5).
KONFERENCO_NS = uuid.UUID("6f1c2c4e-4a3b-5d0e-9a7c-6b6f6e666572")

_ID_OK = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
_ID_BAD = re.compile(r"[^A-Za-z0-9_.:-]+")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_UUID = re.compile(r"^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\Z")
# XML 1.0 forbids these characters even escaped; a title pasted from a PDF may carry one.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def parse_duration(value: object) -> int | None:
    """Milliseconds of a duration as schedule files write it; None when it is not one.

    ``H:MM`` (the norm), ``H:MM:SS`` (allowed by the XSD) and ``D:HH:MM:SS``
    (the CCC hub); a bare number is minutes.  Negative, malformed or
    over a month (:data:`MAX_DURATION_MS`): None, and the caller says where.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value * MINUTE_MS) if 0 <= value <= MAX_DURATION_MS // MINUTE_MS else None
    if not isinstance(value, str):
        return None
    parts = value.strip().split(":")
    if not 2 <= len(parts) <= 4 or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    numbers = [int(p) for p in parts]
    if len(numbers) == 2:
        numbers = [0, numbers[0], numbers[1], 0]
    elif len(numbers) == 3:
        numbers = [0, *numbers]
    days, hours, minutes, seconds = numbers
    if minutes > 59 or seconds > 59 or (len(parts) == 4 and hours > 23):
        return None
    ms = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1000
    return ms if ms <= MAX_DURATION_MS else None


def format_duration(ms: int) -> str:
    """``HH:MM``, the one spelling every consumer reads (at most ``99:59``: the XSD's two digits)."""
    minutes = min(max(0, round(ms / MINUTE_MS)), 99 * 60 + 59)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone of that name, or None when there is no such zone (or the name is not one)."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_datetime(text: str, zone: ZoneInfo | None) -> datetime | None:
    """A date-time as the formats write it (``2019-08-22T12:00:00+02:00``); None when unreadable.

    A time without an offset is read in ``zone`` (the file's time zone);
    without a zone it cannot be placed and is None too.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        if zone is None:
            return None
        moment = moment.replace(tzinfo=zone)
    return moment


def parse_day(text: str) -> date | None:
    """A ``YYYY-MM-DD`` day, or the day of a date-time (as written, in its own offset)."""
    text = text.strip()
    try:
        return date.fromisoformat(text[:10]) if len(text) >= 10 else None
    except ValueError:
        return None


def parse_clock(text: str) -> timedelta | None:
    """``HH:MM`` or ``HH:MM:SS`` as a time of day; None when it is not one."""
    parts = text.strip().split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() and p.isascii() for p in parts):
        return None
    hours, minutes, seconds = (int(p) for p in [*parts, "0"][:3])
    if hours > 23 or minutes > 59 or seconds > 59:
        return None
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def canonical_uuid(text: str) -> str | None:
    """The lower-case canonical spelling of a UUID, or None when ``text`` is not one."""
    text = text.strip()
    if not _UUID.match(text):
        return None
    return str(uuid.UUID(text))


def as_id(raw: str) -> str:
    """``raw`` in our id alphabet (``[A-Za-z0-9_.:-]{1,64}``), the same for the same ``raw``.

    A valid id stays as it is; anything else keeps its readable part and
    gains a hash of the whole, so two raw ids that clean up alike stay apart.
    """
    if _ID_OK.match(raw):
        return raw
    cleaned = _ID_BAD.sub("_", raw).strip("_")[:47]
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{cleaned}.{digest}" if cleaned else f"x.{digest}"


def slugify(text: str, limit: int = 48) -> str:
    """Lower-case ASCII words joined by ``-`` (accents removed); empty for a title in another script."""
    return _NOT_SLUG.sub("-", fold(text).lower()).strip("-")[:limit].strip("-")


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:length]


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` cut to ``limit`` characters (ending in an ellipsis) and whether it was cut."""
    if len(text) <= limit:
        return text, False
    return text[: limit - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}", True


#: What no stored text may hold (``konferenco.edge_input``): NUL and lone surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> str:
    """What in ``text`` no document or database may hold, in words; empty when it is fine."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return ""
    if found.group() == "\x00":
        return "a NUL character (U+0000)"
    return f"a lone surrogate (U+{ord(found.group()):04X})"


def xml_text(text: str) -> str:
    """``text`` without what XML 1.0 and UTF-8 cannot carry, line ends as a parser will read them.

    Control characters and lone surrogates are dropped: they are garbage in
    any format, and one bad title must not break an export for everyone.
    """
    if "\r" in text:
        text = normal_lines(text)
    return _XML_ILLEGAL.sub("", text) if _XML_ILLEGAL.search(text) else text


def normal_lines(text: str) -> str:
    """``\\r\\n`` and ``\\r`` as ``\\n``: what XML parsers do anyway, so a round trip keeps the text."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
