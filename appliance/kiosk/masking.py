"""What a name search may show to whoever stands at the kiosk: initials, never the full name.

"Jürgen Ødegård" becomes "J. Ø…", "田中 太郎" becomes "田. 太…": the first
character of the first and of the last word, enough for a person to pick
themselves out among a handful of results, too little to read anyone's
name off the screen.  Characters are grapheme-safe for the common cases
(a combining mark stays with its letter).
"""

from __future__ import annotations

import unicodedata


def _first_char(word: str) -> str:
    """The first user-perceived character: a base letter with its combining marks."""
    word = unicodedata.normalize("NFC", word)
    out = word[:1]
    for ch in word[1:]:
        if unicodedata.combining(ch):
            out += ch
        else:
            break
    return out.upper()


def masked_name(name: str) -> str:
    words = name.split()
    if not words:
        return "…"
    if len(words) == 1:
        return f"{_first_char(words[0])}…"
    return f"{_first_char(words[0])}. {_first_char(words[-1])}…"
