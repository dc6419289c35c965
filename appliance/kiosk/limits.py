"""How far an attendee may correct their own badge at a kiosk, unsupervised.

A kiosk fixes typos, not identities: a name may change by at most three
edits and at most a third of its length, and stay in the same script
("Jurgen" → "Jürgen" yes; "Jürgen" → "Maria" or "Jürgen" → "ユルゲン" no).
Anything bigger is a desk matter, where a person checks an ID.  The company
may be corrected freely (it proves nothing), within the roster's length.
"""

from __future__ import annotations

import unicodedata

MAX_EDITS = 3
MAX_LENGTH = 200


def scripts(text: str) -> frozenset[str]:
    """The scripts of the letters in ``text`` (the first word of each letter's Unicode name)."""
    found = set()
    for ch in unicodedata.normalize("NFC", text):
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            word = name.split(" ", 1)[0]
            if word in ("CJK", "HIRAGANA", "KATAKANA"):
                word = "CJK"  # a Japanese name mixes these freely
            found.add(word)
    return frozenset(found)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance over code points (after NFC), two rows of memory."""
    a, b = unicodedata.normalize("NFC", a), unicodedata.normalize("NFC", b)
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def name_refusal(old: str, new: str) -> str | None:
    """Why a kiosk may not make this name change, in the attendee's words; None if it may."""
    new = new.strip()
    if not new:
        return "A name cannot be empty."
    if len(new) > MAX_LENGTH:
        return f"A name can have at most {MAX_LENGTH} characters."
    if scripts(new) != scripts(old):
        return "The name must stay in the same alphabet; please ask at the desk."
    distance = edit_distance(old, new)
    if distance > MAX_EDITS or distance * 3 > max(len(old), 1):
        return "That is more than a spelling fix; please ask at the desk."
    return None
