"""A development scanner: one code per line from stdin, a file or a FIFO.

For working without hardware: ``mkfifo /tmp/scans`` and point a
``lines`` scanner at it, then ``echo 'KB1:…' > /tmp/scans`` scans a badge
(the FIFO is held open read-write, so writers may come and go).  A regular
file, or stdin redirected from one, is read once to its end and the scanner
then reports ``disconnected`` ("end of input"); so does stdin at EOF.  A
path that does not exist yet is looked for again every ``retry_s`` seconds.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from typing import Any

from drivers.base import ScanSink

from .common import FdReader, LineSettings, ScannerBase, StateListener, parse_settings

STDIN = "-"


class LineScanner(ScannerBase):
    """Codes typed or piped in as lines; same events, debounce and garbage handling as a serial scanner."""

    def __init__(
        self,
        sink: ScanSink,
        *,
        path: str = STDIN,
        debounce_ms: int = 1000,
        retry_s: float = 1.0,
        name: str | None = None,
        on_state: StateListener | None = None,
    ) -> None:
        where = "stdin" if path == STDIN else path
        super().__init__(
            sink,
            unique_id=f"lines:{where}",
            name=name or f"Line scanner ({where})",
            debounce_ms=debounce_ms,
            retry_s=retry_s,
            on_state=on_state,
        )
        self.path = path

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], sink: ScanSink, *, on_state: StateListener | None = None
    ) -> LineScanner:
        s = parse_settings(settings, LineSettings)
        return cls(
            sink, path=s.path, debounce_ms=s.debounce_ms, retry_s=s.retry_s, name=s.name, on_state=on_state
        )

    def _open(self) -> int:
        if self.path == STDIN:
            return os.dup(sys.stdin.fileno())
        if stat.S_ISFIFO(os.stat(self.path).st_mode):
            # Read-write: the FIFO never reports end-of-file when a writer closes it (Linux).
            return os.open(self.path, os.O_RDWR | os.O_NONBLOCK)
        return os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)

    async def _session(self) -> bool:
        try:
            fd = self._open()
        except OSError as exc:
            self._set_state("disconnected", f"cannot read {self.path}: {exc.strerror or exc}")
            return False
        try:
            self._splitter.reset()
            self._connected(f"reading {'stdin' if self.path == STDIN else self.path}")
            if stat.S_ISREG(os.fstat(fd).st_mode):
                await self._read_file(fd)
            else:
                await self._read_stream(fd)
            await self._feed_bytes(b"\n")  # a last line without its newline still counts
            self._set_state("disconnected", "end of input")
            return True
        finally:
            os.close(fd)

    async def _read_file(self, fd: int) -> None:
        while chunk := os.read(fd, 65536):  # a regular file never blocks for long
            await self._feed_bytes(chunk)

    async def _read_stream(self, fd: int) -> None:
        """A pipe, FIFO or terminal, read as it becomes readable until end-of-file."""
        was_blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)  # stdin's flag is shared with our dup: put it back afterwards
        reader = FdReader(fd)
        try:
            while True:
                await reader.wait()
                try:
                    data = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                if not data:
                    return
                await self._feed_bytes(data)
        finally:
            reader.close()
            os.set_blocking(fd, was_blocking)
