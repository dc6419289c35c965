"""The blocking PC/SC watch loop behind :class:`~drivers.rfid.NfcReader`, run in its own thread.

Why not pyscard's ``CardMonitor``/``ReaderMonitor``: both are process-wide
singletons whose one thread cannot be stopped per driver, and which stops for
good (after printing a traceback) when pcscd goes away, so a pcscd restart
would silently end badge reading until the appliance restarts.  This loop uses
pyscard's own ``smartcard.scard`` layer instead, with a PC/SC context of its
own: it blocks in ``SCardGetStatusChange`` (woken by ``SCardCancel`` on stop),
watches the PnP pseudo-reader for readers plugged in or out, and re-establishes
the context when pcscd comes back.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Callable
from typing import Any

from drivers.base import State
from drivers.rfid.pcsc import (
    GET_UID,
    PNP_NOTIFICATION,
    SCARD_E_CANCELLED,
    SCARD_E_NO_READERS_AVAILABLE,
    SCARD_E_TIMEOUT,
    SCARD_E_UNKNOWN_READER,
    SCARD_STATE_CHANGED,
    SCARD_STATE_UNAWARE,
    UidError,
    describe,
    new_tap,
    parse_uid,
)
from konferenco.types import now_ms

log = logging.getLogger(__name__)

#: Called with a reader name, the badge's UID (upper-case hex) and when it was seen (epoch ms).
TapCallback = Callable[[str, str, int], None]
StateCallback = Callable[[State, str], None]


class PcscMonitor:
    """Watches every PC/SC reader whose name matches ``reader_glob`` and reports taps and reader presence.

    ``run()`` is the thread's body and returns only after ``stop()``; every
    failure inside is reported through ``on_state`` or the log, never raised.
    """

    def __init__(
        self,
        reader_glob: str,
        on_tap: TapCallback,
        on_state: StateCallback,
        *,
        retry_s: float = 1.0,
        wait_ms: int = 1000,
    ) -> None:
        self.reader_glob = reader_glob
        self._on_tap = on_tap
        self._on_state = on_state
        self._retry_s = retry_s
        # Bounds how late a reader plugged in between listing and waiting is noticed.
        self._wait_ms = wait_ms
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._scard: Any = None
        self._context: Any = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """Ask ``run()`` to return; wakes a blocked status wait at once.  Safe from any thread."""
        self._stop.set()
        with self._lock:
            if self._context is not None:
                self._scard.SCardCancel(self._context)

    def run(self) -> None:
        try:
            from smartcard import scard
        except ImportError:
            self._on_state("error", "pyscard is not installed (pip install 'konferenco[pcsc]')")
            return
        self._scard = scard
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as exc:  # a bug or a pyscard surprise must not end badge reading
                log.exception("NFC monitor for %r failed; retrying", self.reader_glob)
                self._on_state("error", f"unexpected failure: {exc}")
            self._stop.wait(self._retry_s)

    def _session(self) -> None:
        """One PC/SC context, from establishing it until pcscd goes away or we stop."""
        scard = self._scard
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != 0:
            self._on_state("disconnected", describe(hresult))
            return
        with self._lock:
            self._context = context
        try:
            self._watch(context)
        finally:
            with self._lock:
                self._context = None
            scard.SCardReleaseContext(context)

    def _watch(self, context: Any) -> None:
        scard = self._scard
        known: dict[str, int] = {}
        while not self._stop.is_set():
            hresult, names = scard.SCardListReaders(context, [])
            if hresult == SCARD_E_NO_READERS_AVAILABLE:
                names = []
            elif hresult != 0:
                self._on_state("disconnected", describe(hresult))
                return
            readers = sorted(n for n in names if fnmatch.fnmatchcase(n, self.reader_glob))
            known = {name: known.get(name, SCARD_STATE_UNAWARE) for name in readers}
            if readers:
                self._on_state("connected", ", ".join(readers))
            else:
                self._on_state("disconnected", f"no reader matching {self.reader_glob!r}")
            wanted = [(PNP_NOTIFICATION, SCARD_STATE_UNAWARE), *((n, known[n]) for n in readers)]
            hresult, states = scard.SCardGetStatusChange(context, self._wait_ms, wanted)
            if hresult in (SCARD_E_TIMEOUT, SCARD_E_CANCELLED, SCARD_E_UNKNOWN_READER):
                continue  # nothing happened, stop asked, or a reader vanished: list again
            if hresult != 0:
                self._on_state("disconnected", describe(hresult))
                return
            for name, event, _atr in states:
                if name not in known:
                    continue  # the PnP pseudo-reader: the next listing picks the change up
                previous, known[name] = known[name], event & ~SCARD_STATE_CHANGED
                tap = new_tap(previous, event)
                if tap == "mute":
                    log.warning("NFC badge on %s does not answer: card unresponsive or unsupported", name)
                elif tap == "tap" and not self._stop.is_set():
                    self._read(context, name)

    def _read(self, context: Any, reader: str) -> None:
        """Read the UID of the badge just put on ``reader``; one that leaves mid-read is only logged."""
        scard = self._scard
        seen = now_ms()
        hresult, card, protocol = scard.SCardConnect(
            context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
        )
        if hresult != 0:
            log.warning("NFC badge on %s not read: %s", reader, describe(hresult))
            return
        try:
            hresult, response = scard.SCardTransmit(card, protocol, GET_UID)
            if hresult != 0:
                log.warning("NFC badge on %s not read: %s", reader, describe(hresult))
                return
            uid = parse_uid(response)
        except UidError as exc:
            log.warning("NFC badge on %s not read: %s", reader, exc)
            return
        finally:
            scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        self._on_tap(reader, uid, seen)
