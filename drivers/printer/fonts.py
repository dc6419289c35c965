"""Fonts for badges: find them on the machine, know which characters each one has, fall back per character.

Pillow draws a string with one font and shows a box (.notdef) for any
character that font lacks, and it has no fallback of its own.  A badge name
may mix scripts ("Zoë Ångström-Łukasiewicz", "山田太郎"), and DejaVu Sans
(Debian ``fonts-dejavu-core``) covers Latin, Greek and Cyrillic but no Han,
kana or Hangul.  So a layout names a *chain* of font files; each character
is drawn with the first font of the chain whose ``cmap`` table maps it,
read here straight from the file (no fontTools needed).  Fonts of the chain
that are not installed are skipped, so one layout works on a box with only
DejaVu and on one that also has a CJK font (``fonts-droid-fallback``,
``fonts-noto-cjk`` or ``fonts-wqy-microhei``).
"""

from __future__ import annotations

import bisect
import functools
import os
import struct
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from PIL import ImageFont

#: Where fonts are looked up by file name (Debian's places, then the user's).
FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)

#: The Debian packages that provide the default chains (for error messages and docs).
FONT_PACKAGES = (
    "fonts-dejavu-core (Latin, Greek, Cyrillic) and fonts-droid-fallback (Chinese, Japanese, Korean)"
)


class FontError(LookupError):
    """No font of a chain is installed, or a font file cannot be read."""


@functools.cache
def _installed() -> dict[str, Path]:
    """Font file name -> path, over :data:`FONT_DIRS` (the first one found wins); read once."""
    found: dict[str, Path] = {}
    for root in FONT_DIRS:
        if not root.is_dir():
            continue
        for directory, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                if name.lower().endswith((".ttf", ".otf", ".ttc")):
                    found.setdefault(name, Path(directory) / name)
    return found


def find_font(name: str) -> Path | None:
    """An absolute path as it is, else a file name looked up in :data:`FONT_DIRS`; None when absent."""
    path = Path(name)
    if path.is_absolute():
        return path if path.is_file() else None
    return _installed().get(name)


# --- which characters a font has (its cmap) ------------------------------------------------


class Coverage:
    """The code points a font maps to a glyph, as sorted, merged ranges."""

    def __init__(self, ranges: list[tuple[int, int]]) -> None:
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self._starts = [s for s, _ in merged]
        self._ends = [e for _, e in merged]

    def __contains__(self, char: str) -> bool:
        cp = ord(char)
        i = bisect.bisect_right(self._starts, cp) - 1
        return i >= 0 and cp <= self._ends[i]


def _format4(data: bytes, at: int) -> list[tuple[int, int]]:
    seg_count = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends_at = at + 14
    starts_at = ends_at + 2 * seg_count + 2
    offsets_at = starts_at + 4 * seg_count  # after startCode[] and idDelta[]
    ranges: list[tuple[int, int]] = []
    for i in range(seg_count):
        end = struct.unpack_from(">H", data, ends_at + 2 * i)[0]
        start = struct.unpack_from(">H", data, starts_at + 2 * i)[0]
        range_offset = struct.unpack_from(">H", data, offsets_at + 2 * i)[0]
        if start == 0xFFFF:
            continue
        if range_offset == 0:
            ranges.append((start, end))
            continue
        for cp in range(start, end + 1):  # glyph ids from glyphIdArray; 0 means "not mapped"
            where = offsets_at + 2 * i + range_offset + 2 * (cp - start)
            if where + 2 <= len(data) and struct.unpack_from(">H", data, where)[0] != 0:
                ranges.append((cp, cp))
    return ranges


def _format12(data: bytes, at: int) -> list[tuple[int, int]]:
    groups = struct.unpack_from(">I", data, at + 12)[0]
    return [struct.unpack_from(">II", data, at + 16 + 12 * i)[:2] for i in range(groups)]


def _cmap_ranges(data: bytes) -> list[tuple[int, int]]:
    """The Unicode ranges of the first font in a .ttf/.otf/.ttc file."""
    base = struct.unpack_from(">I", data, 12)[0] if data[:4] == b"ttcf" else 0
    tables = struct.unpack_from(">H", data, base + 4)[0]
    cmap = None
    for i in range(tables):
        tag, _, offset, _ = struct.unpack_from(">4sIII", data, base + 12 + 16 * i)
        if tag == b"cmap":
            cmap = offset
    if cmap is None:
        raise FontError("the font has no cmap table")
    subtables: dict[tuple[int, int], int] = {}
    for i in range(struct.unpack_from(">H", data, cmap + 2)[0]):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        subtables[(platform, encoding)] = cmap + offset
    # Full Unicode (format 12) first, then the Basic Multilingual Plane (format 4).
    for key in ((3, 10), (0, 6), (0, 4), (3, 1), (0, 3), (0, 1), (0, 0)):
        at = subtables.get(key)
        if at is None:
            continue
        fmt = struct.unpack_from(">H", data, at)[0]
        if fmt == 12:
            return _format12(data, at)
        if fmt == 4:
            return _format4(data, at)
    raise FontError("the font has no Unicode cmap of format 4 or 12")


@functools.cache
def coverage(path: Path) -> Coverage:
    """The characters the font file maps (read once per file)."""
    try:
        return Coverage(_cmap_ranges(path.read_bytes()))
    except (OSError, struct.error) as exc:
        raise FontError(f"cannot read the font {path}: {exc}") from exc


@functools.cache
def font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A font at a pixel size, loaded once (badges reuse a handful of sizes)."""
    return ImageFont.truetype(str(path), size)


# --- a chain of fonts ----------------------------------------------------------------------


class FontChain:
    """The installed fonts of a list, in order; each character goes to the first one that has it."""

    def __init__(self, names: Sequence[str]) -> None:
        self.paths = tuple(p for p in (find_font(n) for n in names) if p is not None)
        if not self.paths:
            raise FontError(f"none of the fonts {list(names)} is installed; install {FONT_PACKAGES}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FontChain) and other.paths == self.paths

    def __hash__(self) -> int:
        return hash(self.paths)

    def assign(self, text: str) -> tuple[int, ...]:
        """For each character, the index of its font in :attr:`paths` (see :func:`_assign`)."""
        return _assign(self.paths, text)

    def missing(self, text: str) -> str:
        """The characters of ``text`` that no font of the chain has (they print as boxes)."""
        return "".join(
            sorted({c for c in text if not _blank(c) and not any(c in coverage(p) for p in self.paths)})
        )


def _blank(char: str) -> bool:
    """Spaces and combining marks belong to their neighbour's font (shaping needs them together)."""
    return char.isspace() or unicodedata.category(char) in ("Mn", "Me", "Cf")


@functools.lru_cache(maxsize=4096)
def _assign(paths: tuple[Path, ...], text: str) -> tuple[int, ...]:
    out: list[int] = []
    for char in text:
        if _blank(char) and out:
            out.append(out[-1])
            continue
        out.append(next((i for i, p in enumerate(paths) if char in coverage(p)), 0))
    # A leading blank takes the font of the first character that is not blank.
    first = next((out[i] for i, c in enumerate(text) if not _blank(c)), 0)
    for i, char in enumerate(text):
        if not _blank(char):
            break
        out[i] = first
    return tuple(out)


def runs(chain: FontChain, text: str, start: int = 0, end: int | None = None) -> list[tuple[str, Path]]:
    """``text[start:end]`` cut into runs that share a font: what one ``draw.text`` call can draw."""
    assigned = chain.assign(text)
    end = len(text) if end is None else end
    out: list[tuple[str, Path]] = []
    i = start
    while i < end:
        j = i + 1
        while j < end and assigned[j] == assigned[i]:
            j += 1
        out.append((text[i:j], chain.paths[assigned[i]]))
        i = j
    return out
