"""A real pcscd with vpcd's virtual readers, and virtual NFC badges that speak vpcd's socket protocol.

vpcd (Debian ``vsmartcard-vpcd``) is a PC/SC reader driver loaded by pcscd; each
of its slots listens on a TCP port (slot 0 on ``port``, slot 1 on ``port + 1``)
for one "virtual ICC".  A connection is a card put on the reader, closing it
takes the card away.  Messages both ways are a 2-byte big-endian length and a
payload; from the reader, a 1-byte payload is a control message (0 power off,
1 power on, 2 reset, 4 ATR request: the card answers its ATR), anything longer
an APDU, answered with an R-APDU.  The listener binds all interfaces: this is
test-only, never part of an image.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Self

VPCD_LIB = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_SOCKET = Path("/run/pcscd/pcscd.comm")
PCSCD_PID = Path("/run/pcscd/pcscd.pid")
SYSTEM_CONFIG = Path("/etc/reader.conf.d")
SLOT0 = "Virtual PCD 00 00"
SLOT1 = "Virtual PCD 00 01"

#: PC/SC part 3 pseudo-ATR a contactless reader reports for a MIFARE Classic 1K.
MIFARE_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
GET_UID = bytes.fromhex("FFCA000000")


def missing_prerequisite() -> str | None:
    """Why the PC/SC tests cannot run here, or None."""
    if shutil.which("pcscd", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is None:
        return "pcscd is not installed (Debian package pcscd; `make setup`)"
    if not VPCD_LIB.exists():
        return f"vpcd is not installed ({VPCD_LIB} missing; Debian package vsmartcard-vpcd; `make setup`)"
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install 'konferenco[pcsc]')"
    return None


def pcscd_answers() -> bool:
    """Whether a pcscd listens on its (fixed, in pcsc-lite 1.9) socket."""
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(str(PCSCD_SOCKET))
        except OSError:
            return False
    return True


def _two_free_ports() -> int:
    """A port p with p and p+1 free on all interfaces (vpcd binds 0.0.0.0, one port per slot)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            port = int(s.getsockname()[1])
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
        except OSError:
            continue
        return port
    raise RuntimeError("no two consecutive free TCP ports")


def _vpcd_port(config_dir: Path) -> int | None:
    """vpcd's slot-0 port in a reader.conf.d directory (``DEVICENAME /dev/null:0x8C7B``)."""
    for conf in sorted(config_dir.glob("*")):
        text = conf.read_text(errors="replace") if conf.is_file() else ""
        if "libifdvpcd" not in text:
            continue
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "DEVICENAME" and ":" in parts[1]:
                return int(parts[1].rsplit(":", 1)[1], 0)
    return None


def _running_config_dir() -> Path:
    """The reader.conf.d the running pcscd was started with (``-c DIR``), by default the system one."""
    try:
        pid = int(PCSCD_PID.read_text().strip())
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return SYSTEM_CONFIG
    for flag, value in itertools.pairwise(args):
        if flag in (b"-c", b"--config"):
            return Path(value.decode())
    return SYSTEM_CONFIG


class PcscDaemon:
    """``pcscd -f`` as our child with vpcd on free ports, or (``owned`` False) one already running."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.owned = not pcscd_answers()
        if self.owned:
            self.port = _two_free_ports()
            conf = workdir / "reader.conf.d"
            conf.mkdir(parents=True, exist_ok=True)
            (conf / "vpcd").write_text(
                'FRIENDLYNAME "Virtual PCD"\n'
                f"DEVICENAME   /dev/null:0x{self.port:X}\n"
                f"LIBPATH      {VPCD_LIB}\n"
                f"CHANNELID    0x{self.port:X}\n"
            )
            self.config = conf
        else:
            self.config = _running_config_dir()
            port = _vpcd_port(self.config)
            if port is None:
                raise LookupError(f"the running pcscd has no vpcd reader in {self.config}")
            self.port = port

    @property
    def log(self) -> Path:
        return self.workdir / "pcscd.log"

    def start(self, timeout: float = 10) -> Self:
        """Start our pcscd and return once it lists vpcd's readers."""
        if not self.owned or (self.proc is not None and self.proc.poll() is None):
            return self
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                ["pcscd", "--foreground", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"},
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pcscd exited with {self.proc.returncode}:\n{self.log.read_text()}")
            if SLOT0 in self.readers():
                return self
            time.sleep(0.05)
        raise TimeoutError(f"pcscd did not list {SLOT0} within {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Stop our pcscd by its PID (a pcscd we did not start is left alone)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def readers(self) -> list[str]:
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != 0:
            return []
        try:
            hresult, names = scard.SCardListReaders(context, [])
            return list(names) if hresult == 0 else []
        finally:
            scard.SCardReleaseContext(context)

    def wait_card(self, reader: str, present: bool, timeout: float = 5) -> None:
        """Block until pcscd itself reports a card on ``reader`` (or none): the reader has seen the tap."""
        from smartcard import scard

        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        assert hresult == 0, scard.SCardGetErrorMessage(hresult)
        try:
            deadline = time.monotonic() + timeout
            state = scard.SCARD_STATE_UNAWARE
            while True:
                hresult, states = scard.SCardGetStatusChange(context, 0, [(reader, state)])
                if hresult == 0:
                    state = states[0][1] & ~scard.SCARD_STATE_CHANGED
                    if bool(state & scard.SCARD_STATE_PRESENT) == present:
                        return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{reader}: card {'present' if present else 'absent'} not seen")
                scard.SCardGetStatusChange(context, int(min(remaining, 1) * 1000), [(reader, state)])
        finally:
            scard.SCardReleaseContext(context)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class VirtualCard:
    """One NFC badge on a vpcd slot: ``tap()`` connects (card on the reader), ``remove()`` disconnects.

    GET DATA (``FF CA 00 00 00``) is answered with ``uid + 90 00``, or with
    ``reply`` verbatim when given (``6A 81``: a reader that cannot read this
    card's UID; a lone byte: garbage).  ``vanish_on_apdu`` drops the connection
    instead of answering: the badge taken away in the middle of the read.
    Every APDU received is kept in ``apdus``.
    """

    def __init__(
        self,
        port: int,
        uid: str = "04A1B2C3D4E5F6",
        *,
        reply: bytes | None = None,
        vanish_on_apdu: bool = False,
        atr: bytes = MIFARE_ATR,
        host: str = "127.0.0.1",
    ) -> None:
        self.address = (host, port)
        self.uid = bytes.fromhex(uid)
        self.reply = reply
        self.vanish_on_apdu = vanish_on_apdu
        self.atr = atr
        self.apdus: list[bytes] = []
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def tap(self) -> Self:
        self._sock = socket.create_connection(self.address, timeout=5)
        self._sock.settimeout(None)
        self._thread = threading.Thread(target=self._serve, args=(self._sock,), daemon=True)
        self._thread.start()
        return self

    def remove(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                message = _receive(sock)
                if len(message) == 1:
                    if message[0] == 4:
                        _send(sock, self.atr)
                    continue  # power off / on / reset: no answer
                self.apdus.append(message)
                if self.vanish_on_apdu:
                    sock.shutdown(socket.SHUT_RDWR)
                    return
                _send(sock, self._answer(message))
        except (EOFError, OSError):
            return  # removed, by us or by the reader

    def _answer(self, apdu: bytes) -> bytes:
        if apdu != GET_UID:
            return bytes.fromhex("6D00")  # instruction not supported
        return self.reply if self.reply is not None else self.uid + b"\x90\x00"

    def __enter__(self) -> Self:
        return self.tap()

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _receive(sock: socket.socket) -> bytes:
    (length,) = struct.unpack(">H", _exactly(sock, 2))
    return _exactly(sock, length)


def _exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(struct.pack(">H", len(payload)) + payload)


@contextlib.contextmanager
def pcscd_or_skip(workdir: Path) -> Iterator[PcscDaemon]:
    """A running pcscd with vpcd (ours, or the one already running), or the test is skipped saying why."""
    import pytest

    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)
    try:
        daemon = PcscDaemon(workdir)
    except LookupError as exc:
        pytest.skip(str(exc))
    with daemon:
        yield daemon
