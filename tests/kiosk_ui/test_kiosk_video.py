"""The fake camera the kiosk tests hold a badge up to: our QR, in a video Chromium really plays.

Two checks before any kiosk page is involved, so a failing camera test
elsewhere points at the page and not at the video: the ``.y4m`` frames read
back with zxing-cpp as the badge code (and the lead-in frames as nothing),
and Debian's Chromium, started with the file as its capture device, hands a
page a video whose frame zxing-cpp reads as the same code.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests.kiosk_ui.qr_video import badge_video, camera_browser, read_y4m, write_y4m

#: Shaped like a real badge code (KB1, base45-ish payload), long enough for a dense QR.
CODE = "KB1:" + "6BFOXN*TS0BI+3ZR.E0Q-JD4I7O:3WQ0HCS6P$9KV/A:BU %3RT*.$" * 2


def test_the_video_shows_no_code_then_the_badge_code(tmp_path: Path) -> None:
    video = badge_video(tmp_path / "badge.y4m", CODE, lead_in=2, showing=3)
    header = video.read_bytes().split(b"\n", 1)[0].decode()
    assert header == "YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg"
    frames = list(read_y4m(video))
    assert len(frames) == 5
    assert [zxingcpp.read_barcodes(f) for f in frames[:2]] == [[], []]  # the phone is not up yet
    assert [[r.text for r in zxingcpp.read_barcodes(f)] for f in frames[2:]] == [[CODE]] * 3


def test_bad_frames_are_refused_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="even dimensions"):
        write_y4m(tmp_path / "odd.y4m", [Image.new("L", (641, 480))])
    with pytest.raises(ValueError, match="at least one frame"):
        write_y4m(tmp_path / "none.y4m", [])
    with pytest.raises(ValueError, match="frame of"):
        write_y4m(tmp_path / "mixed.y4m", [Image.new("L", (640, 480)), Image.new("L", (320, 240))])


@pytest.mark.slow
def test_chromium_plays_the_video_as_its_camera_and_the_frame_reads_as_the_badge(tmp_path: Path) -> None:
    video = badge_video(tmp_path / "badge.y4m", CODE, lead_in=2, showing=8)
    with camera_browser(video) as browser:
        page = browser.new_page()
        # getUserMedia needs a secure context: a loopback origin is one (about:blank is not).
        page.route(
            "http://127.0.0.1:9/",
            lambda route: route.fulfill(
                content_type="text/html", body="<!doctype html><title>camera</title>"
            ),
        )
        page.goto("http://127.0.0.1:9/")
        shot = page.evaluate(
            """async () => {
                const stream = await navigator.mediaDevices.getUserMedia({video: true});
                const video = document.createElement("video");
                video.muted = true;
                video.srcObject = stream;
                await video.play();
                const canvas = document.createElement("canvas");
                canvas.width = video.videoWidth;
                canvas.height = video.videoHeight;
                // Past the lead-in: a frame of the badge (the file loops, 10 frames a second).
                await new Promise((done) => setTimeout(done, 500));
                canvas.getContext("2d").drawImage(video, 0, 0);
                stream.getTracks().forEach((t) => t.stop());
                return {label: stream.getVideoTracks()[0].label, url: canvas.toDataURL("image/png")};
            }"""
        )
    frame = Image.open(io.BytesIO(base64.b64decode(shot["url"].split(",", 1)[1])))
    assert frame.size == (640, 480)
    assert [r.text for r in zxingcpp.read_barcodes(frame)] == [CODE]
