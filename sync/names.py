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
_NAME_RE = re.compile(
    rf"event/(?P<event>{_ID})/(?:(?P<control>control)|device/(?P<device>{_ID})(?:/(?P<shard>[1-9][0-9]{{0,5}}))?)"
)


class UnknownDocument(ValueError):
    """A name that is not one of the event's documents."""


@dataclass(frozen=True, slots=True, order=True)
class DocName:
    event_id: str
    kind: Literal["control", "device"]
    device_id: str | None = None
    #: Device logs are sharded by count (DESIGN.md §2): shard 0 is
    #: ``…/device/{d}``, later ones ``…/device/{d}/{n}``, so no log outgrows
    #: one sync message.
    shard: int = 0

    @classmethod
    def control(cls, event_id: str) -> DocName:
        return cls(check_id(event_id), "control")

    @classmethod
    def device(cls, event_id: str, device_id: str, shard: int = 0) -> DocName:
        if not 0 <= shard < 1_000_000:
            raise ValueError(f"invalid shard {shard}")
        return cls(check_id(event_id), "device", check_id(device_id), shard)

    @classmethod
    def parse(cls, name: str) -> DocName:
        match = _NAME_RE.fullmatch(name)
        if match is None:
            raise UnknownDocument(
                f"unknown document {name!r}: expected event/<id>/control or event/<id>/device/<id>[/<n>]"
            )
        if match["control"]:
            return cls(match["event"], "control")
        return cls(match["event"], "device", match["device"], int(match["shard"] or 0))

    def next_shard(self) -> DocName:
        return DocName.device(self.event_id, str(self.device_id), self.shard + 1)

    def __str__(self) -> str:
        if self.kind == "control":
            return f"event/{self.event_id}/control"
        base = f"event/{self.event_id}/device/{self.device_id}"
        return f"{base}/{self.shard}" if self.shard else base


def check_id(value: str) -> str:
    if not _ID_RE.fullmatch(value):
        raise ValueError(f"invalid id {value!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return value
