"""A small ESC/POS decoder for tests: what would the printer do with these bytes?

No Python package renders ESC/POS (edge-parts C), so this decodes the
subset python-escpos emits for our badges and a little more: ``ESC @``,
``ESC a``, ``ESC E``, ``ESC d``, ``ESC 2/3``, ``GS !``, ``GS v 0`` (raster
image), ``GS ( k`` / ``GS ( L`` (skipped by their length), ``GS V`` (cut),
``DLE EOT n`` (status request), LF and printable text.  Anything else is a
:class:`DecodeError` with its offset, so a test notices bytes a printer
would print as garbage.  ``GS v 0`` strips are stacked into one page image
in the printer's convention: black = ink.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

ESC, GS, DLE, LF = 0x1B, 0x1D, 0x10, 0x0A


class DecodeError(ValueError):
    pass


@dataclass
class Decoded:
    rasters: list[Image.Image] = field(default_factory=list)  # each GS v 0 strip, mode "1", 0 = ink
    text: str = ""
    cuts: int = 0
    feeds: int = 0  # lines fed by ESC d / LF
    resets: int = 0
    status_requests: list[int] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # names in order, for sequence assertions

    def page(self) -> Image.Image:
        """The raster strips one below the other, as paper would show them."""
        if not self.rasters:
            raise DecodeError("no raster image in the job")
        width = max(r.width for r in self.rasters)
        page = Image.new("1", (width, sum(r.height for r in self.rasters)), 255)
        y = 0
        for strip in self.rasters:
            page.paste(strip, (0, y))
            y += strip.height
        return page


def _need(data: bytes, at: int, count: int, what: str) -> bytes:
    if at + count > len(data):
        raise DecodeError(f"{what} at offset {at} is cut short ({len(data) - at} of {count} bytes)")
    return data[at : at + count]


def decode(data: bytes) -> Decoded:
    out = Decoded()
    i = 0
    while i < len(data):
        b = data[i]
        if b == ESC:
            cmd = _need(data, i, 2, "ESC")[1]
            if cmd == ord("@"):
                out.resets += 1
                out.commands.append("reset")
                i += 2
            elif cmd in b"aE!-dJ3M":
                arg = _need(data, i, 3, f"ESC {chr(cmd)}")[2]
                if cmd == ord("d"):
                    out.feeds += arg
                out.commands.append(f"ESC {chr(cmd)} {arg}")
                i += 3
            elif cmd == ord("2"):
                out.commands.append("ESC 2")
                i += 2
            else:
                raise DecodeError(f"unknown command ESC 0x{cmd:02x} at offset {i}")
        elif b == GS:
            cmd = _need(data, i, 2, "GS")[1]
            if cmd == ord("v"):
                head = _need(data, i, 8, "GS v 0")
                if head[2] not in (0, 48):
                    raise DecodeError(f"GS v with function {head[2]} at offset {i}")
                wb = head[4] | head[5] << 8
                h = head[6] | head[7] << 8
                bits = _need(data, i + 8, wb * h, "GS v 0 image data")
                # 1 bit = a dot of ink; "1;I" makes those black in a mode "1" image.
                out.rasters.append(Image.frombytes("1", (wb * 8, h), bits, "raw", "1;I"))
                out.commands.append(f"GS v 0 {wb * 8}x{h}")
                i += 8 + wb * h
            elif cmd == ord("V"):
                m = _need(data, i, 3, "GS V")[2]
                out.cuts += 1
                out.commands.append("cut")
                i += 4 if m in (65, 66) else 3
            elif cmd == ord("!"):
                out.commands.append(f"GS ! {_need(data, i, 3, 'GS !')[2]}")
                i += 3
            elif cmd == ord("("):
                head = _need(data, i, 5, "GS (")
                length = head[3] | head[4] << 8
                _need(data, i + 5, length, f"GS ( {chr(head[2])} data")
                out.commands.append(f"GS ( {chr(head[2])}")
                i += 5 + length
            else:
                raise DecodeError(f"unknown command GS 0x{cmd:02x} at offset {i}")
        elif b == DLE:
            head = _need(data, i, 3, "DLE")
            if head[1] != 0x04:
                raise DecodeError(f"unknown command DLE 0x{head[1]:02x} at offset {i}")
            out.status_requests.append(head[2])
            out.commands.append(f"DLE EOT {head[2]}")
            i += 3
        elif b == LF:
            out.text += "\n"
            out.feeds += 1
            i += 1
        elif 0x20 <= b < 0x7F or b >= 0x80:
            out.text += chr(b) if b < 0x80 else "\ufffd"
            i += 1
        else:
            raise DecodeError(f"unexpected control byte 0x{b:02x} at offset {i}")
    return out
