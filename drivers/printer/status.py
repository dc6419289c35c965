"""What a printer says about itself (``DLE EOT n``) and what became of a job, as plain values.

ESC/POS real-time status: the host sends ``DLE EOT n`` and the printer
answers one byte at once, even in the middle of a job.  Every answer has
bits 1 and 4 set and bits 0 and 7 clear (``0x12`` = all well), which is
how a reply is told from garbage.

* ``n = 1`` printer: bit 3 offline.
* ``n = 2`` offline cause: bit 2 cover open, bit 5 stopped at paper end, bit 6 error.
* ``n = 4`` roll paper sensor: bits 2-3 near end, bits 5-6 no paper.

A printer that does not answer is *unknown*, never "fine": python-escpos'
own ``paper_status()`` reports plenty of paper on an empty reply (edge-parts C).
"""

from __future__ import annotations

from typing import Literal

import msgspec

DLE_EOT = b"\x10\x04"
#: The status requests, in the order they are asked.
QUERIES = (1, 2, 4)

Paper = Literal["ok", "near_end", "out"]
State = Literal["ready", "unreachable", "unknown", "offline", "no_paper", "cover_open", "error"]


def query(n: int) -> bytes:
    return DLE_EOT + bytes((n,))


def is_status_byte(value: int) -> bool:
    """The fixed bits every ``DLE EOT`` answer has (``0xx1xx10``)."""
    return value & 0x93 == 0x12


class PrinterStatus(msgspec.Struct, frozen=True, kw_only=True):
    """One reading of the printer; ``None`` fields are what it did not (or could not) tell."""

    reachable: bool  # the connection (socket, port, device) could be opened
    online: bool | None = None
    paper: Paper | None = None
    cover_open: bool | None = None
    error: bool | None = None  # cutter jam, head too hot, ... (DLE EOT 2 bit 6)
    detail: str = ""  # why something is unknown, in words for staff

    @property
    def state(self) -> State:
        """The one word staff see; ``ready`` only when the printer itself said so."""
        if not self.reachable:
            return "unreachable"
        if self.online is None:
            return "unknown"
        if self.cover_open:
            return "cover_open"
        if self.paper == "out":
            return "no_paper"
        if self.error:
            return "error"
        if not self.online:
            return "offline"
        return "ready"

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    @property
    def blocks_printing(self) -> bool:
        """The printer said it cannot print now."""
        return self.state in ("unreachable", "offline", "no_paper", "cover_open", "error")

    def describe(self) -> str:
        """The state in a sentence for staff ("no paper", "offline: ...")."""
        words = {
            "ready": "ready",
            "unreachable": "offline",
            "unknown": "status unknown",
            "offline": "offline",
            "no_paper": "no paper",
            "cover_open": "cover open",
            "error": "printer error (cutter jam or overheating?)",
        }[self.state]
        if self.state == "ready" and self.paper == "near_end":
            words = "ready, paper near its end"
        return f"{words}: {self.detail}" if self.detail else words


def parse(replies: dict[int, int]) -> PrinterStatus:
    """A status from the answers to ``DLE EOT n`` (``n`` -> byte); an absent answer stays unknown."""
    for n, value in replies.items():
        if not is_status_byte(value):
            return PrinterStatus(
                reachable=True, detail=f"the answer 0x{value:02x} to DLE EOT {n} is not a status byte"
            )
    printer, cause, roll = replies.get(1), replies.get(2), replies.get(4)
    if printer is None:
        return PrinterStatus(reachable=True, detail="the printer did not answer a status request")
    paper: Paper | None = None
    if roll is not None:
        paper = "out" if roll & 0x60 else "near_end" if roll & 0x0C else "ok"
    if cause is not None and cause & 0x20:
        paper = "out"
    return PrinterStatus(
        reachable=True,
        online=not printer & 0x08,
        paper=paper,
        cover_open=None if cause is None else bool(cause & 0x04),
        error=None if cause is None else bool(cause & 0x40),
    )


class PrintOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one badge.

    * ``done``: every byte was taken, and the printer said afterwards that
      it is fine (``verified``) or cannot say (a connection without status,
      ``verified`` false).
    * ``failed``: nothing was sent (printer off, refused, no paper, cover
      open, no answer to the status request); the job can simply wait and
      be sent again.
    * ``uncertain``: bytes went out but the job may not have come out whole
      (connection died, paper ran out, no answer afterwards); a person
      checks and reprints.  Never reported as ``done``.
    """

    status: Literal["done", "failed", "uncertain"]
    reason: str = ""
    sent: int = 0  # bytes handed to the connection without error
    total: int = 0
    verified: bool = False
    before: PrinterStatus | None = None
    after: PrinterStatus | None = None
