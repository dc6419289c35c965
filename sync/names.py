"""Document names: the one place that knows how an event's documents are called.

DESIGN.md §2 fixes two kinds: ``event/{event_id}/control`` and
``event/{event_id}/device/{device_id}``.  The name is also the URL path under
``/sync/``, so it is parsed strictly: a name we cannot place is an unknown
document, never a new one created on a peer's say-so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

_ID = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_ID_RE = re.compile(_ID)
_NAME_RE = re.compile(rf"event/(?P<event>{_ID})/(?:(?P<control>control)|device/(?P<device>{_ID}))")


class UnknownDocument(ValueError):
    """A name that is not one of the event's documents."""


@dataclass(frozen=True, slots=True, order=True)
class DocName:
    event_id: str
    kind: Literal["control", "device"]
    device_id: str | None = None

    @classmethod
    def control(cls, event_id: str) -> DocName:
        return cls(check_id(event_id), "control")

    @classmethod
    def device(cls, event_id: str, device_id: str) -> DocName:
        return cls(check_id(event_id), "device", check_id(device_id))

    @classmethod
    def parse(cls, name: str) -> DocName:
        match = _NAME_RE.fullmatch(name)
        if match is None:
            raise UnknownDocument(
                f"unknown document {name!r}: expected event/<id>/control or event/<id>/device/<id>"
            )
        if match["control"]:
            return cls(match["event"], "control")
        return cls(match["event"], "device", match["device"])

    def __str__(self) -> str:
        if self.kind == "control":
            return f"event/{self.event_id}/control"
        return f"event/{self.event_id}/device/{self.device_id}"


def check_id(value: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise ValueError(f"invalid id {value!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return value
