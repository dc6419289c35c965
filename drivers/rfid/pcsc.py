"""What the reader and pcscd answer, turned into UIDs and into words staff understand.

Pure functions and PC/SC constants (numeric, from pcsclite.h), so they are
testable without pyscard or a reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal

#: PC/SC part 3 §3.2.2.1.3 GET DATA, P1=00: the reader (not the card) answers with the UID + 90 00.
GET_UID: Final = [0xFF, 0xCA, 0x00, 0x00, 0x00]

#: The pseudo-reader whose state changes when a reader is plugged in or out.
PNP_NOTIFICATION: Final = "\\\\?PnP?\\Notification"

SCARD_STATE_UNAWARE: Final = 0x0000
SCARD_STATE_CHANGED: Final = 0x0002
SCARD_STATE_PRESENT: Final = 0x0020
SCARD_STATE_MUTE: Final = 0x0200

SCARD_E_CANCELLED: Final = 0x80100002
SCARD_E_UNKNOWN_READER: Final = 0x80100009
SCARD_E_TIMEOUT: Final = 0x8010000A
SCARD_E_SHARING_VIOLATION: Final = 0x8010000B
SCARD_E_NO_SMARTCARD: Final = 0x8010000C
SCARD_E_PROTO_MISMATCH: Final = 0x8010000F
SCARD_E_COMM_ERROR: Final = 0x80100013
SCARD_E_NOT_TRANSACTED: Final = 0x80100016
SCARD_E_READER_UNAVAILABLE: Final = 0x80100017
SCARD_E_NO_SERVICE: Final = 0x8010001D
SCARD_E_SERVICE_STOPPED: Final = 0x8010001E
SCARD_E_NO_READERS_AVAILABLE: Final = 0x8010002E
SCARD_W_UNRESPONSIVE_CARD: Final = 0x80100066
SCARD_W_UNPOWERED_CARD: Final = 0x80100067
SCARD_W_RESET_CARD: Final = 0x80100068
SCARD_W_REMOVED_CARD: Final = 0x80100069

_REASONS: Final = {
    SCARD_E_NO_SERVICE: "PC/SC service (pcscd) is not running",
    SCARD_E_SERVICE_STOPPED: "PC/SC service (pcscd) stopped",
    SCARD_E_COMM_ERROR: "lost contact with the PC/SC service (pcscd)",
    SCARD_E_NO_READERS_AVAILABLE: "no reader plugged in",
    SCARD_E_UNKNOWN_READER: "reader was unplugged",
    SCARD_E_READER_UNAVAILABLE: "reader is unavailable (unplugged or failing)",
    SCARD_E_NO_SMARTCARD: "badge was taken away before it could be read",
    SCARD_W_REMOVED_CARD: "badge was taken away before it could be read",
    SCARD_W_RESET_CARD: "badge was reset while it was read",
    SCARD_W_UNPOWERED_CARD: "badge is unpowered (moved out of the field while it was read)",
    SCARD_W_UNRESPONSIVE_CARD: "badge does not respond (damaged, or not a supported card)",
    SCARD_E_NOT_TRANSACTED: "reading the badge failed (moved away mid-read?)",
    SCARD_E_SHARING_VIOLATION: "another program holds the reader exclusively",
    SCARD_E_PROTO_MISMATCH: "badge speaks no protocol the reader offers",
    SCARD_E_TIMEOUT: "timed out",
    SCARD_E_CANCELLED: "cancelled",
}

#: Status words a reader gives instead of 90 00 to GET DATA (PC/SC part 3, table 3-4).
_STATUS_WORDS: Final = {
    0x6A81: "the reader cannot read a UID from this kind of card",
    0x6282: "UID shorter than asked",
    0x6300: "the reader could not read the UID",
}


def describe(hresult: int) -> str:
    """A PC/SC result code in the words the device list and the logs show."""
    code = hresult & 0xFFFFFFFF
    return _REASONS.get(code, f"PC/SC error 0x{code:08X}")


class UidError(ValueError):
    """The reader answered GET DATA, but not with a UID."""


def parse_uid(response: Sequence[int]) -> str:
    """The UID as upper-case hex from GET DATA's answer (UID bytes + 90 00), or :class:`UidError` saying why.

    ISO 14443 UIDs are 4, 7 or 10 bytes; ISO 15693 and FeliCa IDs are 8: anything
    outside 4..10 bytes is garbage, not a badge.
    """
    if len(response) < 2:
        raise UidError(f"no answer from the badge ({_hex(response) or 'empty'}); taken away mid-read?")
    data, sw = response[:-2], (response[-2] << 8) | response[-1]
    if sw != 0x9000:
        meaning = _STATUS_WORDS.get(sw, "unexpected status")
        raise UidError(f"no UID: status {sw >> 8:02X} {sw & 0xFF:02X} ({meaning})")
    if not 4 <= len(data) <= 10:
        raise UidError(f"implausible UID of {len(data)} bytes: {_hex(data) or 'empty'}")
    return bytes(data).hex().upper()


def _hex(data: Sequence[int]) -> str:
    return " ".join(f"{b & 0xFF:02X}" for b in data)


Tap = Literal["tap", "mute"]


def new_tap(previous: int, current: int) -> Tap | None:
    """Whether a reader's state change is a badge newly put on it.

    ``previous`` is the state we last saw (``SCARD_STATE_UNAWARE`` for a reader
    we have not seen yet: a badge already lying on it counts as a tap).  pcsc-lite
    counts insertions and removals in the upper 16 bits, so a badge taken away
    and put back between two polls is still a new tap, while our own connection
    to the card (which flips only the in-use bits) is not.  ``"mute"`` is a card
    that is present but did not answer the reset: no UID to read.
    """
    if not current & SCARD_STATE_PRESENT:
        return None
    fresh = (
        previous == SCARD_STATE_UNAWARE
        or not previous & SCARD_STATE_PRESENT
        or (previous >> 16) != (current >> 16)
    )
    if not fresh:
        return None
    return "mute" if current & SCARD_STATE_MUTE else "tap"
