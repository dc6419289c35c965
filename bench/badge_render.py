"""Badge rendering: layout (Pillow) + ESC/POS encoding (python-escpos) of one 80 mm badge.

Target (issue #5): render + encode of an 80 mm badge, median ≤ 50 ms — the
time between "print this attendee" and the first byte to the printer.

Each repetition makes :data:`BADGES` badges for the TM-T20II profile (576
dots) with ``drivers.printer.badge_bytes``: fitting the name (and company and
ticket type) with the font chain, a QR code of a 190-character signed badge
code, the 1-bit image, the ``GS v 0`` bytes.  Names cycle through short,
long, accented, Cyrillic and CJK ones; each badge has a fresh random code.
The value of a repetition is the median over its badges.  Baselines in the
same run, on the same badges: encoding the already rendered image alone
(``drivers.printer.encode``), and Pillow's plain ``ImageDraw.text`` of the
name in one font at one size on an image as wide as the paper (no fitting,
no fallback, no QR) — the floor of drawing any text at all.

``python -m bench.badge_render [--repetitions N]`` runs it alone and prints
the markdown section ``bench.run`` would write.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image, ImageDraw

from bench.common import BenchResult, Row, Series, Table, Verdict, progress
from drivers.printer import BadgeLayout, PrintedBadge, badge_bytes, encode, media, render
from drivers.printer import fonts as printer_fonts
from drivers.printer import layout as printer_layout

PROFILE = "TM-T20II"  # 80 mm, 576 dots at 203 dpi
SMALL_PROFILE = "POS-5890"  # 58 mm, 384 dots
BADGES = 60
TARGET_MS = 50.0
SEED = 5
T = TypeVar("T")
NAMES = (
    "Ann Lee",
    "Zoë Ångström-Łukasiewicz",
    "Александра Константинопольская",
    "山田太郎",
    "Jean-Baptiste Éloi de La Rochefoucauld",
    "Nguyễn Thị Minh Khai",
    "Maximiliane Donaudampfschifffahrtsgesellschaftskapitänswitwe",
    "Søren Kierkegaard",
)
COMPANIES = ("Ångström Laboratories GmbH", "", "ООО «Рога и копыта»", "株式会社サンプル", "ACME")  # noqa: RUF001
TICKETS = ("Speaker", "Attendee", "Sponsor", "Volunteer")
_B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def badges(count: int, rng: random.Random) -> list[PrintedBadge]:
    """Plausible badges: names of every kind, codes shaped like signed ``KB1:`` codes (≈190 chars)."""
    return [
        PrintedBadge(
            name=NAMES[i % len(NAMES)],
            company=COMPANIES[i % len(COMPANIES)],
            ticket_type=TICKETS[i % len(TICKETS)],
            code="KB1:" + "".join(rng.choice(_B45) for _ in range(186)),
        )
        for i in range(count)
    ]


def _each_ms(items: Sequence[T], work: Callable[[T], object]) -> list[float]:
    out = []
    for item in items:
        t0 = time.perf_counter()
        work(item)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _cold_ms(badge: PrintedBadge, layout: BadgeLayout) -> float:
    """The first badge after the font caches are emptied (a fresh appliance's first print)."""
    for cached in (printer_fonts.font, printer_fonts.coverage, printer_layout._chain):
        cached.cache_clear()
    printer_fonts._installed.cache_clear()
    printer_fonts._assign.cache_clear()
    t0 = time.perf_counter()
    badge_bytes(badge, layout, PROFILE)
    return (time.perf_counter() - t0) * 1000


@dataclass
class Repetition:
    """Per-badge times (ms) of one repetition, each list over the same badges."""

    full: list[float]
    small: list[float]
    render_only: list[float]
    encode_only: list[float]
    plain: list[float]
    sizes: list[int]


def repetition(batch: list[PrintedBadge], layout: BadgeLayout) -> Repetition:
    sizes: list[int] = []
    full = _each_ms(batch, lambda b: sizes.append(len(badge_bytes(b, layout, PROFILE))))
    small = _each_ms(batch, lambda b: badge_bytes(b, layout, SMALL_PROFILE))
    rendered: list[Image.Image] = []
    render_only = _each_ms(batch, lambda b: rendered.append(render(b, layout, PROFILE)))
    encode_only = _each_ms(rendered, lambda image: encode(image, PROFILE))
    width = media(PROFILE).width
    plain_font = printer_fonts.font(printer_fonts.FontChain(layout.bold_fonts).paths[0], 80)

    def draw(b: PrintedBadge) -> None:
        image = Image.new("1", (width, 120), 1)
        ImageDraw.Draw(image).text((0, 100), b.name, font=plain_font, fill=0, anchor="ls")

    plain = _each_ms(batch, draw)
    return Repetition(full, small, render_only, encode_only, plain, sizes)


def run(repetitions: int = 5) -> BenchResult:
    layout = BadgeLayout()
    cold = _cold_ms(badges(1, random.Random(SEED))[0], layout)
    reps: list[Repetition] = []
    for rep in range(repetitions):
        progress(f"badge render, repetition {rep + 1}/{repetitions}: {BADGES} badges")
        reps.append(repetition(badges(BADGES, random.Random(SEED + rep)), layout))
    return _result(reps, cold)


def _result(reps: list[Repetition], cold: float) -> BenchResult:
    def series(pick: Callable[[Repetition], list[float]]) -> Series:
        return Series.of([statistics.median(pick(r)) for r in reps], "ms")

    full_ms = series(lambda r: r.full)
    encode_ms = series(lambda r: r.encode_only)
    plain_ms = series(lambda r: r.plain)
    sizes = [n for r in reps for n in r.sizes]
    rows = [
        Row(
            "80 mm badge: render + ESC/POS encode (median per badge)",
            full_ms,
            encode_ms,
            "encode of the rendered image alone",
            f"≤ {TARGET_MS:.0f} ms",
        ),
        Row("80 mm badge: render alone (layout, fonts, QR, 1-bit image)", series(lambda r: r.render_only),
            plain_ms, "Pillow `ImageDraw.text` of the name, one font"),
        Row("80 mm badge: slowest badge of the repetition", Series.of([max(r.full) for r in reps], "ms")),
        Row("58 mm badge (POS-5890, 384 dots): render + encode", series(lambda r: r.small)),
        Row("encode a rendered 80 mm badge alone", encode_ms),
        Row("Pillow `ImageDraw.text` of the name alone (floor)", plain_ms),
    ]  # fmt: skip
    verdicts = [
        Verdict(
            f"render + ESC/POS encode of an 80 mm badge, median ≤ {TARGET_MS:.0f} ms",
            f"{full_ms.median:.1f} ms ({full_ms.median / encode_ms.median:.1f}x encoding alone)",
            full_ms.median <= TARGET_MS,
        )
    ]
    details = [
        Table(
            "The job",
            ("what", "value"),
            (
                ("first badge after emptying the font caches (cmap reading, font loading)", f"{cold:.1f} ms"),
                ("bytes per 80 mm badge (median)", f"{statistics.median(sizes):,.0f}"),
            ),
        )
    ]
    notes = [
        f"Badges cycle through {len(NAMES)} names (short, long with a 60-letter word, accented, "
        "Cyrillic, Vietnamese, CJK), so the median mixes one-line, wrapped and shrunk names.",
        "The QR code is made by `qrcode` with automatic mask choice (pure Python, about 10 ms of each "
        "badge at version 8); the encoder is python-escpos' `Dummy` printer with the profile.",
        "Fonts: the default chain (DejaVu Sans Bold, then a CJK fallback when installed).",
    ]
    return BenchResult(
        title="Badge rendering: layout + ESC/POS",
        method=(
            f"`drivers.printer.badge_bytes` of {BADGES} badges per repetition for the {PROFILE} profile "
            "(80 mm, 576 dots), timed one by one with `time.perf_counter` in this process after a warm-up "
            "badge; the value of a repetition is its median badge. Baselines on the same badges in the "
            "same repetition: `drivers.printer.encode` of the already rendered image, and a plain Pillow "
            "`ImageDraw.text` of the name."
        ),
        repetitions=len(reps),
        rows=rows,
        verdicts=verdicts,
        details=details,
        notes=notes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Badge render + ESC/POS encode benchmark.")
    parser.add_argument("--repetitions", type=int, default=5)
    args = parser.parse_args()
    from bench.run import render_result

    print("\n".join(render_result(run(args.repetitions))))


if __name__ == "__main__":
    main()
