"""The search form of a text: one rule for the appliance and the hub.

:func:`fold` is what both sides store and what they turn a query into, so
"lodz" finds "Łódź", "nunez" finds "Núñez" and "ostergaard" finds
"Østergaard" on a desk and in the console alike.  It lower-cases
(``casefold``), applies compatibility forms (full-width letters from a
Japanese keyboard, ligatures), removes accents and other diacritics, and
spells out the Latin letters that are not a letter plus a mark (ł, ø, ß,
đ, þ, æ, œ, dotless i).  Marks that change a letter rather than accent it stay:
Japanese (han)dakuten (``が`` is not ``か``), Indic vowel signs.  Korean
syllables come back whole (Unicode decomposes them into jamo).

Chinese, Japanese and Korean are written without spaces between the words
of a name, and one or two characters are a meaningful query ("田" for
"田中 太郎"), so :func:`cjk_runs` and :func:`split_cjk` give both sides what
they need for substring search on those scripts.
"""

from __future__ import annotations

import re
import unicodedata

_SPECIAL = str.maketrans(
    {
        "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d",
        "þ": "th", "Þ": "th", "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "\u0131": "i",
    }
)  # fmt: skip

#: Accents and optional vowel points: combining diacritical marks (and their supplements), the
#: Hebrew points and the Arabic harakat.  Not every combining character: the Japanese voicing
#: marks, Indic vowel signs and viramas change the letter.
_MARKS = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u064b-\u065f\u0670]+"
)

#: Scripts written without spaces between words: Han, kana, Hangul (and their extensions).
CJK_CHARS = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3040-\u30ff\u3100-\u318f\u31a0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK = re.compile(f"[{CJK_CHARS}]")
#: A run of CJK characters, spaces between them allowed ("田中 太郎" is one run, "田中太郎").
_CJK_RUN = re.compile(f"[{CJK_CHARS}](?:[\\s{CJK_CHARS}]*[{CJK_CHARS}])?")
_CJK_SPLIT = re.compile(f"[{CJK_CHARS}]+|[^{CJK_CHARS}]+")
#: A word: letters and digits (not ``_``), in any script.
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case, no diacritics, special Latin letters spelt out: the search form of a text."""
    if text.isascii():  # e-mails, order references, most names: a 180k import folds 720k texts
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL).casefold())
    return unicodedata.normalize("NFC", _MARKS.sub("", decomposed))


def words(folded: str) -> list[str]:
    """The words of a folded text: runs of letters and digits, punctuation and ``_`` between them."""
    return _WORD.findall(folded)


def split_cjk(word: str) -> list[tuple[str, bool]]:
    """A word cut into its CJK and other parts: "abc田中" → [("abc", False), ("田中", True)]."""
    if word.isascii():
        return [(word, False)]
    return [(part, _CJK.match(part) is not None) for part in _CJK_SPLIT.findall(word)]


def cjk_runs(folded: str) -> list[str]:
    """The CJK parts of a folded text, spaces inside a part removed ("田中 太郎" → ["田中太郎"])."""
    if folded.isascii():
        return []
    return [run if run.isalnum() else "".join(run.split()) for run in _CJK_RUN.findall(folded)]


def search_text(*fields: str) -> str:
    """The hub's search column: the distinct words of the folded fields, one space between them.

    A CJK run also brings every suffix of itself ("田中 太郎" → "田中 太郎
    田中太郎 中太郎 郎"), so that "a word starting with what was typed" —
    the only question the hub's index answers — is also "anywhere in the
    name" for the scripts written without spaces.
    """
    folded = fold(" | ".join(value for value in fields if value))  # "|": CJK runs end at a field
    out = dict.fromkeys(words(folded))
    for run in cjk_runs(folded):
        out.update(dict.fromkeys(run[i:] for i in range(len(run))))
    return " ".join(out)
