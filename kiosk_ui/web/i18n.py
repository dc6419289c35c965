"""The kiosk's five languages: gettext catalogs read from the .po files and compiled in memory.

No build step: a translator edits ``kiosk_ui/locale/<lang>/LC_MESSAGES/kiosk.po`` and the next
start of the appliance shows it.  English is the source language (msgids are the English text),
so ``en`` needs no catalog.  Dates go through Babel for the language ("Samstag, 14. März").
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "kiosk"
#: Each language in its own name, the way the welcome screen offers it.
LANGUAGES: dict[str, str] = {
    "en": "English",
    "de": "Deutsch",
    "fr": "Français",
    "es": "Español",
    "ja": "日本語",
}
DEFAULT = "en"


def language(value: str | None) -> str:
    """A language the kiosk speaks: the asked one, or English for anything else (never an error)."""
    return value if value in LANGUAGES else DEFAULT


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of ``lang`` (English: the msgids themselves)."""
    if lang == DEFAULT:
        return NullTranslations()
    with po_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def load_all() -> None:
    """Compile every catalog now, so a broken .po stops the start-up rather than an attendee's screen."""
    for lang in LANGUAGES:
        translations(lang)


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def local_moment(ms: int, tz: str) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).astimezone(_zone(tz))


#: Dates and times in English the international way: day before month, a 24-hour clock.
_FORMAT_LOCALE = {"en": "en_GB"}


def day(ms: int, tz: str, lang: str) -> str:
    """The day of ``ms`` in the event's zone, as the language writes it in full ("Samstag, 14. März 2026")."""
    return format_date(local_moment(ms, tz).date(), "full", locale=_FORMAT_LOCALE.get(lang, lang))


def clock(ms: int, tz: str, lang: str) -> str:
    """The time of day of ``ms`` in the event's zone, as the language writes it."""
    return format_time(local_moment(ms, tz).time(), "short", locale=_FORMAT_LOCALE.get(lang, lang))


def organizer_text(text: str | dict[str, str] | None, lang: str) -> str:
    """An organizer's sentence in ``lang``: theirs for that language, else their English, else any.

    Organizers write a text once or once per language; a text written once is shown as written in
    every language (better their words than none).
    """
    if not text:
        return ""
    if isinstance(text, str):
        return text
    return text.get(lang) or text.get(DEFAULT) or next(iter(text.values()), "")
