"""The badge as a picture: name, company, ticket type, QR and logo at the printer's real dot width.

Receipt printers print what they are sent dot for dot, and python-escpos
only knows the paper's width from a *printer profile* (escpos-printer-db):
``POS-5890`` is 58 mm paper, 384 dots; ``TM-T20II`` 80 mm, 576 dots;
``TM-T88V`` 80 mm, 512 dots at 180 dpi.  So :func:`render` takes the profile
and draws the badge at exactly that width, with sizes given in millimetres
so a badge looks the same at 180 and 203 dpi.

The name is the point of a badge: it is drawn as large as it fits, and it
is never cut.  It shrinks from the layout's size to its minimum on one
line, then wraps (at spaces, after hyphens, between CJK characters) onto
up to ``max_lines`` lines, then shrinks below the minimum, and as a last
resort breaks inside words.  Every character is drawn with the first font
of the layout's chain that has it (:mod:`drivers.printer.fonts`).

The picture is 1-bit (mode ``"1"``, 0 = black): text is drawn without
anti-aliasing and the QR code with whole-dot modules, so nothing is left for
the printer driver's dithering to blur.  :func:`render` is pure apart from
reading fonts and the logo file, both cached.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import msgspec
import qrcode
from escpos.capabilities import get_profile
from PIL import Image, ImageChops, ImageDraw

from drivers.printer import fonts
from drivers.printer.fonts import FontChain

log = logging.getLogger(__name__)

Mm = Annotated[float, msgspec.Meta(ge=0, le=1000)]
Element = Literal["logo", "name", "company", "ticket_type", "qr"]

DEFAULT_FONTS = ("DejaVuSans.ttf", "NotoSansCJK-Regular.ttc", "DroidSansFallbackFull.ttf", "wqy-microhei.ttc")
DEFAULT_BOLD_FONTS = (
    "DejaVuSans-Bold.ttf",
    "NotoSansCJK-Bold.ttc",
    "DroidSansFallbackFull.ttf",
    "wqy-microhei.ttc",
)


class PrintedBadge(msgspec.Struct, frozen=True, kw_only=True):
    """What goes on one attendee's badge; ``code`` is the QR payload (empty: no QR)."""

    name: str
    code: str
    company: str = ""
    ticket_type: str = ""


class TextStyle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How one text line of the badge is fitted: the largest size, the smallest before wrapping."""

    size_mm: Annotated[float, msgspec.Meta(gt=0, le=100)]
    min_size_mm: Annotated[float, msgspec.Meta(gt=0, le=100)]
    max_lines: Annotated[int, msgspec.Meta(ge=1, le=6)] = 2
    bold: bool = False
    inverted: bool = False  # white text on a black bar, e.g. the ticket type for the door

    def __post_init__(self) -> None:
        if self.min_size_mm > self.size_mm:
            raise ValueError("min_size_mm must not exceed size_mm")


class BadgeLayout(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A per-event badge design (``load_layout`` reads it from JSON; every field has a default)."""

    order: tuple[Element, ...] = ("logo", "name", "company", "ticket_type", "qr")
    margin_mm: Mm = 2.0  # left and right: nothing is drawn closer to the paper's edge
    gap_mm: Mm = 2.5  # between elements, and above the first one
    name: TextStyle = TextStyle(size_mm=11.0, min_size_mm=6.0, max_lines=2, bold=True)
    company: TextStyle = TextStyle(size_mm=5.0, min_size_mm=3.5, max_lines=2)
    ticket_type: TextStyle = TextStyle(size_mm=5.0, min_size_mm=3.5, max_lines=1, bold=True, inverted=True)
    smallest_mm: Annotated[float, msgspec.Meta(gt=0, le=100)] = 2.0  # text never shrinks below this
    qr_mm: Mm = 30.0  # the QR's side with its quiet zone, at most the printable width
    qr_error_correction: Literal["L", "M", "Q", "H"] = "M"
    logo: str | None = None  # image file; relative paths are relative to the layout file
    logo_height_mm: Mm = 12.0
    min_length_mm: Mm = 0.0  # pad shorter badges to this length (uniform badges from a roll)
    fonts: tuple[str, ...] = DEFAULT_FONTS
    bold_fonts: tuple[str, ...] = DEFAULT_BOLD_FONTS


def load_layout(path: Path | str) -> BadgeLayout:
    """A layout JSON file (unknown keys are an error, so a typo is not silently ignored)."""
    path = Path(path)
    layout = msgspec.json.decode(path.read_bytes(), type=BadgeLayout)
    if layout.logo is not None and not Path(layout.logo).is_absolute():
        layout = msgspec.structs.replace(layout, logo=str((path.parent / layout.logo).resolve()))
    return layout


class ProfileError(ValueError):
    """A printer profile that does not say how wide the paper is (or does not exist)."""


class Media(NamedTuple):
    """The paper as the printer profile describes it."""

    profile: str
    width: int  # printable dots
    dpi: int

    @property
    def dots_per_mm(self) -> float:
        return self.dpi / 25.4


@functools.cache
def media(profile: str) -> Media:
    """Width and resolution from a python-escpos profile; the default profile knows neither."""
    try:
        data = get_profile(profile).profile_data
    except KeyError:
        raise ProfileError(f"unknown printer profile {profile!r}") from None
    width = data.get("media", {}).get("width", {})
    if not isinstance(width.get("pixels"), int):
        raise ProfileError(f"printer profile {profile!r} does not give the paper width; choose another")
    dpi = data["media"].get("dpi")
    if not isinstance(dpi, int):
        dpi = round(width["pixels"] / width["mm"] * 25.4) if isinstance(width.get("mm"), int | float) else 203
    return Media(profile, width["pixels"], dpi)


# --- text fitting ----------------------------------------------------------------------------

#: Where a line may end: (end of this line, start of the next).
Break = tuple[int, int]
_WIDE = ("W", "F")


def clean(text: str) -> str:
    """NFC, no control characters, single spaces: what a person would expect printed."""
    text = unicodedata.normalize("NFC", text)
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    return re.sub(r"\s+", " ", text).strip()


def _breaks(text: str, anywhere: bool) -> list[Break]:
    out: list[Break] = []
    for i in range(1, len(text)):
        before, here = text[i - 1], text[i]
        if here == " ":
            out.append((i, i + 1))
        elif before == " ":
            continue
        elif (
            anywhere
            or before in "-/\u2010"
            or unicodedata.east_asian_width(before) in _WIDE
            or unicodedata.east_asian_width(here) in _WIDE
        ) and unicodedata.category(here) not in ("Mn", "Me"):
            out.append((i, i))
    out.append((len(text), len(text)))
    return out


def _extent(chain: FontChain, text: str, start: int, end: int, size: int) -> tuple[float, float]:
    """Left and right ink edge of ``text[start:end]`` drawn from x = 0 on a baseline."""
    x = 0.0
    left, right = math.inf, -math.inf
    for run, path in fonts.runs(chain, text, start, end):
        f = fonts.font(path, size)
        ink_left, _, ink_right, _ = f.getbbox(run, anchor="ls")
        if ink_right > ink_left:
            left, right = min(left, x + ink_left), max(right, x + ink_right)
        x += f.getlength(run)
    return (0.0, 0.0) if left > right else (left, right)


def _wrap(
    chain: FontChain, text: str, breaks: list[Break], size: int, avail: int, max_lines: int
) -> list[tuple[int, int]] | None:
    """Greedy lines (as slices) at ``size`` that each fit ``avail`` dots, or None."""
    lines: list[tuple[int, int]] = []
    start = 0
    while start < len(text):
        if len(lines) == max_lines:
            return None
        best: Break | None = None
        for brk in breaks:
            if brk[0] <= start:
                continue
            left, right = _extent(chain, text, start, brk[0], size)
            if right - left > avail:
                break
            best = brk
        if best is None:
            return None
        lines.append((start, best[0]))
        start = best[1]
    return lines


def _largest(lo: int, hi: int, ok: Callable[[int], bool]) -> int | None:
    """The largest size in [lo, hi] for which ``ok`` holds (it holds for all smaller ones)."""
    if lo > hi or not ok(lo):
        return None
    if ok(hi):
        return hi
    while hi - lo > 1:  # ok(lo) and not ok(hi)
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


def _draw_lines(
    chain: FontChain, text: str, lines: list[tuple[int, int]], size: int, avail: int
) -> Image.Image:
    """Ink mask (255 = ink) of centred lines, cropped to the ink; may come out wider than planned."""
    pitch = math.ceil(size * 1.2)
    pad = size
    canvas = Image.new("1", (avail + 2 * pad, pitch * len(lines) + 2 * pad), 0)
    draw = ImageDraw.Draw(canvas)
    for n, (start, end) in enumerate(lines):
        left, right = _extent(chain, text, start, end, size)
        x = (canvas.width - (right - left)) / 2 - left
        y = pad + size + n * pitch
        for run, path in fonts.runs(chain, text, start, end):
            f = fonts.font(path, size)
            draw.text((x, y), run, font=f, fill=255, anchor="ls")
            x += f.getlength(run)
    box = canvas.getbbox()
    return canvas.crop(box) if box else Image.new("1", (1, 1), 0)


class Fitted(NamedTuple):
    """A fitted text: its ink mask (255 = ink), the lines it was cut into, the font size in dots."""

    mask: Image.Image
    lines: tuple[str, ...]
    size: int


def fit_text(text: str, style: TextStyle, layout: BadgeLayout, avail: int, dots_per_mm: float) -> Fitted:
    """The text no wider than ``avail`` dots, as large as the rules allow (module docstring)."""
    chain = _chain(layout.bold_fonts if style.bold else layout.fonts)
    missing = chain.missing(text)
    if missing:
        log.warning("no installed font has %r (in %r); install %s", missing, text, fonts.FONT_PACKAGES)
    top = max(1, round(style.size_mm * dots_per_mm))
    low = min(top, max(1, round(style.min_size_mm * dots_per_mm)))
    floor = min(low, max(1, round(layout.smallest_mm * dots_per_mm)))
    words, anywhere = _breaks(text, False), _breaks(text, True)
    plans: list[tuple[list[Break], int, int, int]] = [
        (words, n, low, top) for n in range(1, style.max_lines + 1)
    ]
    plans += [(words, style.max_lines, floor, low - 1), (anywhere, style.max_lines, floor, top)]
    plans += [(anywhere, n, floor, floor) for n in range(style.max_lines + 1, len(text) + 1)]
    for breaks, max_lines, lo, hi in plans:

        def fits(size: int, breaks: list[Break] = breaks, max_lines: int = max_lines) -> bool:
            return _wrap(chain, text, breaks, size, avail, max_lines) is not None

        size = _largest(lo, hi, fits)
        while size is not None and size >= lo:
            lines = _wrap(chain, text, breaks, size, avail, max_lines)
            if lines is None:
                break
            mask = _draw_lines(chain, text, lines, size, avail)
            if mask.width <= avail:  # what was drawn, not what was measured, decides
                return Fitted(mask, tuple(text[a:b] for a, b in lines), size)
            size -= 1
    raise ValueError(f"{text!r} does not fit {avail} dots even at {floor} dots a character")


@functools.cache
def _chain(names: tuple[str, ...]) -> FontChain:
    return FontChain(names)


# --- QR code and logo --------------------------------------------------------------------------

_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def qr_mask(code: str, side: int, error_correction: str) -> Image.Image:
    """The QR code as an ink mask with whole-dot modules and its 4-module quiet zone, at most ``side``."""
    qr = qrcode.QRCode(error_correction=_EC[error_correction], border=4)
    qr.add_data(code)
    qr.make(fit=True)
    matrix: list[list[bool]] = qr.get_matrix()
    count = len(matrix)
    module = side // count
    if module < 1:
        raise ValueError(f"the badge code needs {count} dots for its QR code; the paper has {side}")
    data = b"".join(bytes(255 if dark else 0 for dark in row) for row in matrix)
    small = Image.frombytes("L", (count, count), data)
    return small.resize((count * module, count * module), Image.Resampling.NEAREST).convert(
        "1", dither=Image.Dither.NONE
    )


@functools.lru_cache(maxsize=16)
def _logo(path: str, mtime: float, height: int, avail: int) -> Image.Image:
    with Image.open(path) as source:
        rgba = source.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat.alpha_composite(rgba)
    grey = flat.convert("L")
    scale = min(height / grey.height, avail / grey.width)
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    grey = grey.resize(size, Image.Resampling.LANCZOS)
    # Thresholded, not dithered: a logo is line art, and dithering makes it grainy (edge-parts C).
    return grey.point(lambda p: 255 if p < 128 else 0).convert("1", dither=Image.Dither.NONE)


def logo_mask(path: str, height: int, avail: int) -> Image.Image:
    """The logo file scaled to ``height`` (or to the width) and thresholded to an ink mask."""
    return _logo(path, Path(path).stat().st_mtime, height, avail)


# --- the badge ------------------------------------------------------------------------------------


def _inverted(mask: Image.Image, width: int, pad: int) -> Image.Image:
    bar = Image.new("1", (width, mask.height + 2 * pad), 255)
    bar.paste(0, ((width - mask.width) // 2, pad), mask)
    return bar


def render(badge: PrintedBadge, layout: BadgeLayout, profile: str) -> Image.Image:
    """The badge as a 1-bit image exactly as wide as the profile's paper (0 = black)."""
    paper = media(profile)
    dpm = paper.dots_per_mm
    margin = round(layout.margin_mm * dpm)
    avail = paper.width - 2 * margin
    if avail < 8:
        raise ValueError(f"margins of {layout.margin_mm} mm leave no room on {paper.width} dots")
    gap = round(layout.gap_mm * dpm)
    texts = {"name": badge.name, "company": badge.company, "ticket_type": badge.ticket_type}
    blocks: list[Image.Image] = []
    for element in layout.order:
        if element == "logo":
            if layout.logo:
                blocks.append(logo_mask(layout.logo, round(layout.logo_height_mm * dpm), avail))
        elif element == "qr":
            if badge.code and layout.qr_mm > 0:
                blocks.append(
                    qr_mask(badge.code, min(avail, round(layout.qr_mm * dpm)), layout.qr_error_correction)
                )
        else:
            style: TextStyle = getattr(layout, element)
            text = clean(texts[element])
            if text:
                mask = fit_text(text, style, layout, avail - (2 * gap if style.inverted else 0), dpm).mask
                blocks.append(_inverted(mask, avail, gap // 2) if style.inverted else mask)
    height = gap + sum(b.height + gap for b in blocks)
    height = max(height, round(layout.min_length_mm * dpm))
    ink = Image.new("1", (paper.width, height), 0)
    y = gap
    for block in blocks:
        ink.paste(block, (margin + (avail - block.width) // 2, y))
        y += block.height + gap
    return ImageChops.invert(ink)
