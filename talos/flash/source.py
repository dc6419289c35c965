"""Open an OS image as a stream of its decompressed bytes, and hash that stream.

The bundle manifest gives the sha256 of the *decompressed* image (as Raspberry Pi Imager's OS list
does), so the hash is taken over what is written, whatever the compression.  ``.raw.xz`` uses the
stdlib ``lzma``, ``.raw.zst`` the ``zstandard`` package; ``.raw``/``.img`` and ``.iso`` are read as
they are.  The suffix names the format and the file's magic bytes must agree, so a renamed file is
refused before anything is written.
"""

from __future__ import annotations

import hashlib
import lzma
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard

XZ_MAGIC = b"\xfd7zXZ\x00"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
FORMATS = {
    ".raw": "raw",
    ".img": "raw",
    ".iso": "iso",
    ".raw.xz": "xz",
    ".img.xz": "xz",
    ".raw.zst": "zst",
    ".img.zst": "zst",
}


class ImageError(Exception):
    """The image cannot be used: the message says why, for the technician."""


def image_format(path: Path) -> str:
    """raw, iso, xz or zst, from the file name."""
    name = path.name.lower()
    for suffix, kind in sorted(FORMATS.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return kind
    known = ", ".join(sorted(FORMATS))
    raise ImageError(f"{path.name}: not an image this tool writes (it takes {known})")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def xz_size(path: Path) -> int | None:
    """The decompressed size of a single-stream ``.xz`` file, from its index; None if unsure.

    The index at the end lists every block's sizes (xz file format 1.2.1, section 4), so a
    too-small drive is refused before writing, without decompressing the whole image first.
    """
    try:
        with path.open("rb") as f:
            end = f.seek(0, 2)
            if end < 32:
                return None
            f.seek(end - 12)
            footer = f.read(12)
            if footer[10:12] != b"YZ":
                return None
            index_size = (int.from_bytes(footer[4:8], "little") + 1) * 4
            f.seek(end - 12 - index_size)
            index = f.read(index_size)
        if not index or index[0] != 0:
            return None
        count, pos = _varint(index, 1)
        total = blocks = 0
        for _ in range(count):
            unpadded, pos = _varint(index, pos)
            uncompressed, pos = _varint(index, pos)
            blocks += (unpadded + 3) // 4 * 4
            total += uncompressed
        if 12 + blocks + index_size + 12 != end:  # several streams or padding: do not guess
            return None
        return total
    except (OSError, IndexError):
        return None


def zst_size(path: Path) -> int | None:
    """The decompressed size the first zstd frame states (the zstd CLI writes one frame)."""
    try:
        with path.open("rb") as f:
            head = f.read(18)
        size = zstandard.frame_content_size(head)
    except (OSError, zstandard.ZstdError):
        return None
    return size if size >= 0 else None


@dataclass
class ImageSource:
    """An image file opened for one pass: ``chunks()`` yields its decompressed bytes and hashes them."""

    path: Path
    format: str
    size: int | None  # decompressed, when the file says so
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)
    read: int = 0
    done: bool = False

    @property
    def sha256(self) -> str:
        """The sha256 of the decompressed bytes read so far (of the whole image once ``done``)."""
        return self._hash.hexdigest()

    def _open(self) -> BinaryIO:
        raw = self.path.open("rb")
        if self.format == "xz":
            return lzma.open(raw, "rb")  # type: ignore[return-value]
        if self.format == "zst":
            return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True, closefd=True)
        return raw

    def chunks(self, size: int) -> Iterator[bytes]:
        """Chunks of exactly SIZE bytes (the last may be shorter) of the decompressed image.

        Raises ImageError when the compressed data is corrupt (the writer then fails the flash).
        """
        with self._open() as stream:
            while True:
                parts: list[bytes] = []
                want = size
                try:
                    while want:
                        part = stream.read(want)
                        if not part:
                            break
                        parts.append(part)
                        want -= len(part)
                except (lzma.LZMAError, zstandard.ZstdError, EOFError) as exc:
                    raise ImageError(f"{self.path.name} is corrupt after {self.read} bytes: {exc}") from exc
                chunk = b"".join(parts)
                if not chunk:
                    self.done = True
                    return
                self._hash.update(chunk)
                self.read += len(chunk)
                yield chunk
                if len(chunk) < size:
                    self.done = True
                    return


def open_image(path: str | Path) -> ImageSource:
    """Check that PATH is an image this tool writes, and what it says its decompressed size is."""
    path = Path(path)
    kind = image_format(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such image file")
    with path.open("rb") as f:
        head = f.read(8)
    if kind == "xz" and not head.startswith(XZ_MAGIC):
        raise ImageError(f"{path.name} is named .xz but is not xz-compressed")
    if kind == "zst" and not head.startswith(ZSTD_MAGIC):
        raise ImageError(f"{path.name} is named .zst but is not zstd-compressed")
    if kind in ("raw", "iso") and (head.startswith(XZ_MAGIC) or head.startswith(ZSTD_MAGIC)):
        raise ImageError(f"{path.name} is compressed: name it .xz or .zst so it is decompressed")
    if kind == "xz":
        size = xz_size(path)
    elif kind == "zst":
        size = zst_size(path)
    else:
        size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{path.name} is empty")
    return ImageSource(path=path, format=kind, size=size)
