"""Turn a keyboard-wedge scanner's key presses back into the text it scanned.

A USB HID scanner is a keyboard: it "types" the code and presses Enter (or
Tab).  We read its raw evdev key events, so we redo what the console's
keymap would do: a US layout with Shift, Caps Lock, Ctrl (for GS1's
group separator) and Alt+keypad sequences (some scanners type every
character as Alt + its decimal code).  The decoder is pure: feed it
``(code, value)`` pairs, get back each completed code.

Key codes are the kernel's (``linux/input-event-codes.h``), a stable ABI;
they are spelled out here so this module imports without ``evdev`` (the
tests check them against ``evdev.ecodes``).
"""

from __future__ import annotations

from typing import Literal, Protocol

EV_KEY = 1
KEY_UP, KEY_DOWN, KEY_REPEAT = 0, 1, 2

KEY_TAB = 15
KEY_ENTER = 28
KEY_KPENTER = 96
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTALT, KEY_RIGHTALT = 56, 100
KEY_CAPSLOCK = 58

Terminator = Literal["enter", "tab"]
TERMINATOR_KEYS: dict[str, frozenset[int]] = {
    "enter": frozenset({KEY_ENTER, KEY_KPENTER}),
    "tab": frozenset({KEY_TAB}),
}

#: Longest code we keep collecting; past it (a stuck key, a scanner that never sends
#: its terminator) the text so far is dropped rather than grown without bound.
MAX_CODE_CHARS = 4096


def _rows(*rows: tuple[int, str, str]) -> dict[int, tuple[str, str]]:
    """Key code -> (plain, shifted) from keyboard rows given as (first code, plain, shifted)."""
    table: dict[int, tuple[str, str]] = {}
    for first, plain, shifted in rows:
        for offset, (p, s) in enumerate(zip(plain, shifted, strict=True)):
            table[first + offset] = (p, s)
    return table


#: The US layout: what each key types without and with Shift.
US_LAYOUT: dict[int, tuple[str, str]] = _rows(
    (2, "1234567890-=", "!@#$%^&*()_+"),  # KEY_1 .. KEY_EQUAL
    (16, "qwertyuiop[]", "QWERTYUIOP{}"),  # KEY_Q .. KEY_RIGHTBRACE
    (30, "asdfghjkl;'`", 'ASDFGHJKL:"~'),  # KEY_A .. KEY_GRAVE
    (43, "\\zxcvbnm,./", "|ZXCVBNM<>?"),  # KEY_BACKSLASH .. KEY_SLASH
    (57, " ", " "),  # KEY_SPACE
)

#: Keypad keys type the same with or without Shift (scanners assume Num Lock on).
KEYPAD: dict[int, str] = {
    71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+",
    79: "1", 80: "2", 81: "3", 82: "0", 83: ".", 55: "*", 98: "/", 117: "=", 121: ",",
}  # fmt: skip
_KEYPAD_DIGITS = {code: ch for code, ch in KEYPAD.items() if ch.isdigit()}


class KeyEventLike(Protocol):
    """What we need of an ``evdev.InputEvent``."""

    @property
    def type(self) -> int: ...
    @property
    def code(self) -> int: ...
    @property
    def value(self) -> int: ...


def _alt_code(digits: str) -> str:
    """The character an Alt+keypad sequence names, as Windows hosts read it (what scanners target)."""
    number = int(digits)
    if number < 128:
        return chr(number)
    if number < 256:
        # Leading zero: the ANSI code page; none: the OEM one.
        return bytes([number]).decode("cp1252" if digits.startswith("0") else "cp437", errors="replace")
    return chr(number) if number <= 0x10FFFF else ""


class KeyDecoder:
    """Rebuilds scanned codes from one scanner's key events (keep one per device).

    Only key presses count: releases only end Shift/Ctrl/Alt, auto-repeat is
    ignored (a scanner never holds a key; a repeat is noise).  Unknown keys
    are skipped.  ``dropped`` counts codes thrown away for being too long.
    """

    def __init__(self, terminator: Terminator = "enter") -> None:
        if terminator not in TERMINATOR_KEYS:
            raise ValueError(f"terminator must be one of {sorted(TERMINATOR_KEYS)}, not {terminator!r}")
        self.terminator: Terminator = terminator
        self._ends = TERMINATOR_KEYS[terminator]
        self.dropped = 0
        self.reset()

    def reset(self) -> None:
        """Forget a half-typed code and every held key (after a reconnect: its key-ups are lost)."""
        self._chars: list[str] = []
        self._held: set[int] = set()
        self._caps = False
        self._alt_digits = ""
        self._overflow = False

    def feed_event(self, event: KeyEventLike) -> str | None:
        """Feed one evdev event of any type; non-key events (sync, scan codes, LEDs) are ignored."""
        if event.type != EV_KEY:
            return None
        return self.feed(event.code, event.value)

    def feed(self, code: int, value: int) -> str | None:
        """Feed one key event; returns the code when this event was its terminator."""
        if value == KEY_UP:
            self._held.discard(code)
            if code in (KEY_LEFTALT, KEY_RIGHTALT) and self._alt_digits:
                self._type(_alt_code(self._alt_digits))
                self._alt_digits = ""
            return None
        if value != KEY_DOWN:
            return None  # auto-repeat
        self._held.add(code)
        if code in self._ends:
            return self._finish()
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if self._alt and code in _KEYPAD_DIGITS:
            self._alt_digits += _KEYPAD_DIGITS[code]
            return None
        self._type(self._char(code))
        return None

    @property
    def _alt(self) -> bool:
        return bool(self._held & {KEY_LEFTALT, KEY_RIGHTALT})

    def _char(self, code: int) -> str:
        if self._alt:
            return ""  # Alt+key is a shortcut, not text
        if code in KEYPAD:
            return KEYPAD[code]
        pair = US_LAYOUT.get(code)
        if pair is None:
            return ""
        plain, shifted = pair
        if self._held & {KEY_LEFTCTRL, KEY_RIGHTCTRL}:
            # Ctrl+letter or Ctrl+[\]^_ types a C0 control character: Ctrl+] is GS, GS1's separator.
            upper = shifted if plain.isalpha() else plain
            return chr(ord(upper) & 0x1F) if "@" <= upper <= "_" else ""
        shift = bool(self._held & {KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
        if plain.isalpha():
            shift ^= self._caps  # Caps Lock flips letters only, as on a real keyboard
        return shifted if shift else plain

    def _type(self, text: str) -> None:
        if self._overflow or not text:
            return
        self._chars.append(text)
        if len(self._chars) > MAX_CODE_CHARS:
            self._chars.clear()
            self._overflow = True

    def _finish(self) -> str | None:
        code = "".join(self._chars)
        overflow = self._overflow
        self._chars.clear()
        self._overflow = False
        self._alt_digits = ""
        if overflow:
            self.dropped += 1
            return None
        return code or None


def decode(pairs: list[tuple[int, int]], terminator: Terminator = "enter") -> list[str]:
    """Every code completed by a sequence of ``(code, value)`` key events (a convenience for tests/tools)."""
    decoder = KeyDecoder(terminator)
    codes = []
    for key, value in pairs:
        done = decoder.feed(key, value)
        if done is not None:
            codes.append(done)
    return codes
