"""The ESC/POS bytes of a badge: python-escpos writes them into its ``Dummy`` printer, nothing is sent.

Making the bytes apart from sending them lets the print queue render a job
before it commits "printing" and lets tests and benchmarks look at exactly
what a printer would receive.  The job is ``ESC @`` (reset), the badge as
raster images (``GS v 0``, python-escpos' ``bitImageRaster``, split into
strips of at most 960 dots), then feed and cut (``GS V``).
"""

from __future__ import annotations

from typing import Literal

from escpos.printer import Dummy
from PIL import Image

from drivers.printer.layout import BadgeLayout, PrintedBadge, media, render

#: python-escpos' image modes: GS v 0, GS ( L, ESC * (some printers only understand one; edge-parts C).
ImageImpl = Literal["bitImageRaster", "graphics", "bitImageColumn"]


def encode(image: Image.Image, profile: str, impl: ImageImpl = "bitImageRaster", cut: bool = True) -> bytes:
    """One print job for a rendered badge; refuses an image wider than the profile's paper."""
    paper = media(profile)  # also refuses a profile without a width: python-escpos would not check
    if image.width > paper.width:
        raise ValueError(f"the badge is {image.width} dots wide; {profile} paper has {paper.width}")
    printer = Dummy(profile=profile)
    printer.hw("INIT")
    printer.image(image, impl=impl)
    if cut:
        printer.cut()
    data: bytes = printer.output
    return data


def badge_bytes(
    badge: PrintedBadge,
    layout: BadgeLayout,
    profile: str,
    impl: ImageImpl = "bitImageRaster",
    cut: bool = True,
) -> bytes:
    """Render and encode: what the print queue hands to :meth:`BadgePrinter.print_badge`."""
    return encode(render(badge, layout, profile), profile, impl, cut)
