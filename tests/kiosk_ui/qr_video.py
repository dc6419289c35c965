"""A camera's view of a badge QR, as a ``.y4m`` video Chromium can play as its webcam.

Chromium's fake capture device (``--use-fake-device-for-media-stream
--use-file-for-fake-video-capture=FILE.y4m``) plays a YUV4MPEG2 file in a
loop.  The format is a one-line text header and then raw I420 frames (a
full-size luma plane, then two quarter-size chroma planes), so Pillow and
plain bytes write it: no ffmpeg on the kiosk's test machine.

The QR is drawn by our own badge code (``drivers.printer.layout.qr_mask``),
so the camera test reads the same QR a printed badge carries, not one made
by a test library.  A phone held up to a kiosk is never a clean scan: the
frame puts the code off-centre on a grey "screen" with a bright border, and
the first frames show no code at all, as when someone is still lifting
their phone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageDraw

from drivers.printer.layout import qr_mask
from tests.browser import CHROMIUM, CHROMIUM_ARGS

if TYPE_CHECKING:
    from playwright.sync_api import Browser

#: BT.601 studio range, what a camera delivers: black is 16, white is 235, chroma 128 is grey.
BLACK, WHITE, GREY, NEUTRAL = 16, 235, 96, 128
SIZE = (640, 480)


def qr_frame(
    code: str, size: tuple[int, int] = SIZE, side: int = 300, offset: tuple[int, int] = (40, 10)
) -> Image.Image:
    """One greyscale camera frame: a phone screen showing the badge QR (our renderer), off-centre."""
    width, height = size
    frame = Image.new("L", size, GREY)
    mask = qr_mask(code, side, "M")  # 255 = ink, with its quiet zone
    phone = (mask.width + 40, mask.height + 80)
    left = (width - phone[0]) // 2 + offset[0]
    top = (height - phone[1]) // 2 + offset[1]
    draw = ImageDraw.Draw(frame)
    draw.rounded_rectangle((left, top, left + phone[0], top + phone[1]), radius=24, fill=BLACK)
    screen = Image.new("L", mask.size, WHITE)
    screen.paste(BLACK, (0, 0), mask)
    frame.paste(screen, (left + 20, top + 40))
    return frame


def blank_frame(size: tuple[int, int] = SIZE) -> Image.Image:
    """A frame with no code in it: the attendee has not lifted the phone yet."""
    frame = Image.new("L", size, GREY)
    ImageDraw.Draw(frame).ellipse((size[0] // 3, size[1] // 4, 2 * size[0] // 3, 3 * size[1] // 4), fill=180)
    return frame


def i420(frame: Image.Image) -> bytes:
    """A greyscale frame as I420: the luma plane as it is, both chroma planes neutral."""
    if frame.mode != "L":
        frame = frame.convert("L")
    width, height = frame.size
    if width % 2 or height % 2:
        raise ValueError(f"I420 needs even dimensions, not {width}x{height}")
    chroma = bytes([NEUTRAL]) * ((width // 2) * (height // 2))
    return frame.tobytes() + chroma + chroma


def write_y4m(path: Path, frames: Iterable[Image.Image], fps: int = 10) -> Path:
    """Write ``frames`` (all the same even size) as a YUV4MPEG2 file, 4:2:0, square pixels, progressive."""
    items = iter(frames)
    first = next(items, None)
    if first is None:
        raise ValueError("a video needs at least one frame")
    width, height = first.size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for frame in (first, *items):
            if frame.size != (width, height):
                raise ValueError(f"frame of {frame.size} in a {width}x{height} video")
            out.write(b"FRAME\n")
            out.write(i420(frame))
    return path


def badge_video(path: Path, code: str, lead_in: int = 3, showing: int = 27, fps: int = 10) -> Path:
    """A ``.y4m`` of a phone lifted to the camera: ``lead_in`` blank frames, then the badge QR."""
    blank, shown = blank_frame(), qr_frame(code)
    return write_y4m(path, [*([blank] * lead_in), *([shown] * showing)], fps)


def read_y4m(path: Path) -> Iterator[Image.Image]:
    """The luma planes of a ``.y4m`` file, one greyscale image per frame (to check what was written)."""
    data = path.read_bytes()
    header, _, body = data.partition(b"\n")
    fields = header.split(b" ")
    if fields[0] != b"YUV4MPEG2":
        raise ValueError(f"{path} is not a YUV4MPEG2 file")
    width = int(next(f[1:] for f in fields if f.startswith(b"W")))
    height = int(next(f[1:] for f in fields if f.startswith(b"H")))
    luma = width * height
    frame_bytes = luma + 2 * ((width // 2) * (height // 2))
    at = 0
    while at < len(body):
        marker_end = body.index(b"\n", at)
        if not body[at:marker_end].startswith(b"FRAME"):
            raise ValueError(f"no FRAME marker at byte {at} of the body")
        start = marker_end + 1
        if start + frame_bytes > len(body):
            raise ValueError("the last frame is cut short")
        yield Image.frombytes("L", (width, height), body[start : start + luma])
        at = start + frame_bytes


def camera_args(video: Path) -> list[str]:
    """Chromium's flags for a camera that plays ``video`` and a permission prompt that says yes."""
    return [
        *CHROMIUM_ARGS,
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]


@contextmanager
def camera_browser(video: Path) -> Iterator[Browser]:
    """``tests.browser.chromium`` with ``video`` as the webcam (the file is read at launch)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (browser tests need a real Chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev extra")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=camera_args(video))
        try:
            yield browser
        finally:
            browser.close()
