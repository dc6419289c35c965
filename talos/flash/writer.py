"""Write an image to a drive (or a file), read it back with the page cache bypassed, and report.

What Raspberry Pi Imager does (downloadthread.cpp), in Python: zero the first and last MiB first
(a stale backup GPT at the end of a reused stick confuses firmware), write the image in 4 MiB
aligned chunks but hold the first MiB back and write it last (an interrupted or refused write leaves
a drive that does not boot rather than one that boots half an image), fsync, then read the written
range back with ``O_DIRECT`` (or, where the file system refuses it, after ``posix_fadvise(DONTNEED)``)
and compare its sha256 with the sha256 of what was written.  The report is written before the first
byte (saying "failed: interrupted") and replaced atomically at the end, so a flash that dies half
way never leaves a "verified" report behind.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import mmap
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from talos.flash.source import ImageSource

MIB = 1 << 20
CHUNK = 4 * MIB
ALIGN = 4096  # O_DIRECT needs buffers, lengths and offsets aligned to the logical block size
INTERRUPTED = "interrupted: the flash did not finish"

Progress = Callable[[str, int, int | None], None]  # phase ("write" / "verify"), bytes done, total


class FlashError(Exception):
    """The flash failed: the message says what happened and what state the drive is left in."""


@dataclass
class Target:
    """Where the image goes: a whole block device, or a regular file."""

    path: str
    kind: Literal["block", "file"]
    model: str | None = None
    serial: str | None = None
    size: int | None = None


@dataclass
class FlashReport:
    """What was flashed where, the three hashes and whether they agree (stored as JSON)."""

    device: dict[str, Any]
    image: dict[str, Any]
    result: Literal["verified", "failed"] = "failed"
    reason: str | None = INTERRUPTED
    image_sha256: str | None = None
    expected_sha256: str | None = None
    written_sha256: str | None = None
    readback_sha256: str | None = None
    bytes_written: int = 0
    write_method: str | None = None
    verify_method: str | None = None
    write_seconds: float | None = None
    verify_seconds: float | None = None
    warnings: list[str] = field(default_factory=list)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None

    @classmethod
    def begin(cls, source: ImageSource, target: Target, expected_sha256: str | None = None) -> FlashReport:
        return cls(
            device=asdict(target),
            image={"path": str(source.path.resolve()), "format": source.format, "size": source.size},
            expected_sha256=expected_sha256.lower() if expected_sha256 else None,
        )

    def fail(self, reason: str) -> None:
        self.result = "failed"
        self.reason = reason
        self.finished_at = datetime.now(UTC).isoformat(timespec="seconds")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, path: str | Path) -> None:
        """Write atomically (a temporary file renamed over the old one): never half a report."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def _buffer(size: int) -> mmap.mmap:
    """Page-aligned memory (anonymous mmap), as O_DIRECT wants it."""
    return mmap.mmap(-1, size)


class _Sink:
    """An open target: aligned writes through O_DIRECT when it can, plain writes where it cannot."""

    def __init__(self, target: Target, direct: bool) -> None:
        self.target = target
        base = os.O_WRONLY | os.O_CLOEXEC
        # O_EXCL on a block device: refused while anything has it mounted or claimed.
        base |= os.O_EXCL if target.kind == "block" else os.O_CREAT | os.O_TRUNC
        self.direct = direct
        try:
            self.fd = self._open(base)
        except OSError as exc:
            if exc.errno == errno.EBUSY:
                raise FlashError(f"{target.path} is in use (mounted or claimed): nothing written") from exc
            raise FlashError(f"cannot open {target.path} for writing: {exc.strerror}") from exc
        self.capacity = os.lseek(self.fd, 0, os.SEEK_END) if target.kind == "block" else None
        os.lseek(self.fd, 0, os.SEEK_SET)

    def _open(self, flags: int) -> int:
        if self.direct:
            try:
                return os.open(self.target.path, flags | os.O_DIRECT, 0o644)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self.direct = False
        return os.open(self.target.path, flags, 0o644)

    @property
    def method(self) -> str:
        return "O_DIRECT" if self.direct else "buffered"

    def _set_direct(self, on: bool) -> None:
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_DIRECT if on else flags & ~os.O_DIRECT)

    def write(self, view: memoryview, offset: int) -> None:
        """Write all of VIEW at OFFSET; an unaligned tail goes through the page cache."""
        if self.capacity is not None and offset + len(view) > self.capacity:
            raise FlashError(
                f"the image is larger than {self.target.path} ({self.capacity} bytes): "
                f"it does not fit past byte {self.capacity}"
            )
        unaligned = self.direct and (len(view) % ALIGN or offset % ALIGN)
        if unaligned:
            self._set_direct(False)
        try:
            done = 0
            while done < len(view):
                try:
                    done += os.pwrite(self.fd, view[done:], offset + done)
                except OSError as exc:
                    if exc.errno == errno.EINVAL and self.direct and not unaligned:
                        self._set_direct(False)  # O_DIRECT opened but refused on write (some file systems)
                        self.direct = False
                        continue
                    raise FlashError(
                        f"writing {self.target.path} failed at byte {offset + done}: {exc.strerror}"
                    ) from exc
        finally:
            if unaligned:
                self._set_direct(True)

    def zero_ends(self) -> None:
        """Zero the first and the last MiB: no stale partition table survives a short image."""
        if self.capacity is None:
            return  # a regular file was truncated: it holds nothing old
        zeros = _buffer(MIB)
        self.write(memoryview(zeros)[: min(MIB, self.capacity)], 0)
        if self.capacity >= 2 * MIB:
            self.write(memoryview(zeros), self.capacity - MIB)
        self.sync()

    def sync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise FlashError(f"flushing {self.target.path} failed: {exc.strerror}") from exc

    def close(self) -> None:
        os.close(self.fd)


def write_image(
    source: ImageSource,
    target: Target,
    report: FlashReport,
    *,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    direct: bool = True,
) -> None:
    """Zero the ends, stream the image holding back its first MiB, check the hash, write the head."""
    sink = _Sink(target, direct)
    try:
        sink.zero_ends()
        written = hashlib.sha256()
        buf = _buffer(CHUNK)
        head = _buffer(MIB)
        head_len = 0
        offset = 0
        for chunk in source.chunks(CHUNK):
            n = len(chunk)
            if offset == 0:  # hold back the first MiB: the drive boots only once all is written
                head_len = min(MIB, n)
                head[:head_len] = chunk[:head_len]
                written.update(memoryview(head)[:head_len])  # hashed in offset order, written last
                chunk = chunk[head_len:]
                start = head_len
            else:
                start = offset
            if chunk:
                buf[: len(chunk)] = chunk
                view = memoryview(buf)[: len(chunk)]
                written.update(view)  # the bytes the write is given, not the source's
                sink.write(view, start)
            offset += n
            report.bytes_written = offset
            if progress:
                progress("write", offset, source.size)
            if after_chunk:
                after_chunk(offset)
        sink.sync()
        report.image_sha256 = source.sha256
        if report.expected_sha256 and source.sha256 != report.expected_sha256:
            raise FlashError(
                f"the image's sha256 is {source.sha256}, not {report.expected_sha256} as expected: "
                "it is damaged or not the image meant; its first MiB was not written, "
                f"so {target.path} will not boot it"
            )
        if head_len:
            sink.write(memoryview(head)[:head_len], 0)
        sink.sync()
        report.written_sha256 = written.hexdigest()
        report.write_method = sink.method
    finally:
        sink.close()


def _open_read(path: str, direct: bool) -> tuple[int, str]:
    if direct:
        try:
            return os.open(path, os.O_RDONLY | os.O_DIRECT | os.O_CLOEXEC), "O_DIRECT"
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    return fd, "posix_fadvise(DONTNEED)"


def read_back(
    path: str, length: int, *, direct: bool = True, progress: Progress | None = None
) -> tuple[str, str]:
    """The sha256 of the first LENGTH bytes of PATH as the medium holds them, and how it was read.

    O_DIRECT reads the device, not the page cache; where the file system refuses O_DIRECT (EINVAL),
    the cached pages are dropped with ``posix_fadvise(DONTNEED)`` (the data was fsynced) and read.
    """
    buf = _buffer(CHUNK)
    try:
        fd, method = _open_read(path, direct)
    except OSError as exc:
        raise FlashError(f"cannot open {path} to read it back: {exc.strerror}") from exc
    try:
        digest, pos = hashlib.sha256(), 0
        while pos < length:
            want = min(CHUNK, length - pos)
            ask = -(-want // ALIGN) * ALIGN if method == "O_DIRECT" else want
            try:
                got = os.preadv(fd, [memoryview(buf)[:ask]], pos)
            except OSError as exc:
                if exc.errno == errno.EINVAL and method == "O_DIRECT" and pos == 0:
                    os.close(fd)  # opened with O_DIRECT, reads refused: drop the cache instead
                    fd, method = _open_read(path, False)
                    continue
                raise FlashError(f"reading {path} back failed at byte {pos}: {exc.strerror}") from exc
            if got <= 0:
                break
            take = min(got, length - pos)
            digest.update(memoryview(buf)[:take])
            pos += take
            if progress:
                progress("verify", pos, length)
    finally:
        os.close(fd)
    if pos < length:
        raise FlashError(f"{path} gave back only {pos} of the {length} bytes written")
    return digest.hexdigest(), method


def flash(
    source: ImageSource,
    target: Target,
    report: FlashReport,
    *,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    after_write: Callable[[str], None] | None = None,
    direct: bool = True,
) -> FlashReport:
    """Write, verify, and fill REPORT: "verified" only when read-back == written == image hash.

    AFTER_CHUNK (bytes so far) and AFTER_WRITE (the target path, before the read-back) let tests
    interrupt a write or corrupt the medium; nothing else of the write path is replaced.
    """
    t0 = time.monotonic()
    write_image(source, target, report, progress=progress, after_chunk=after_chunk, direct=direct)
    report.write_seconds = round(time.monotonic() - t0, 3)
    if after_write:
        after_write(target.path)
    t1 = time.monotonic()
    sha, method = read_back(target.path, report.bytes_written, direct=direct, progress=progress)
    report.readback_sha256, report.verify_method = sha, method
    report.verify_seconds = round(time.monotonic() - t1, 3)
    if sha != report.written_sha256:
        report.fail(
            f"read-back does not match: {target.path} holds other bytes than were written "
            f"(sha256 {sha}, written {report.written_sha256}); the medium is faulty or fake"
        )
    elif report.written_sha256 != report.image_sha256:
        report.fail("what was written differs from the image (a bug in the flasher)")
    else:
        report.result, report.reason = "verified", None
        report.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    return report


def run_flash(
    source: ImageSource,
    target: Target,
    report_path: str | Path,
    *,
    expected_sha256: str | None = None,
    warnings: list[str] | None = None,
    progress: Progress | None = None,
    after_chunk: Callable[[int], None] | None = None,
    after_write: Callable[[str], None] | None = None,
    direct: bool = True,
) -> FlashReport:
    """Flash with a report at REPORT_PATH that says "failed" until the very end proves otherwise.

    The report is saved before the first byte is written, so a killed process leaves a "failed:
    interrupted" report (never an older "verified" one); an interrupt (Ctrl-C) saves the failure
    and propagates.
    """
    report = FlashReport.begin(source, target, expected_sha256)
    report.warnings = list(warnings or ())
    report.save(report_path)
    try:
        flash(
            source,
            target,
            report,
            progress=progress,
            after_chunk=after_chunk,
            after_write=after_write,
            direct=direct,
        )
    except FlashError as exc:
        report.fail(str(exc))
    except Exception as exc:
        report.fail(f"{exc.__class__.__name__}: {exc}")
    except BaseException:
        report.fail(INTERRUPTED)
        report.save(report_path)
        raise
    report.save(report_path)
    return report
