"""Signage: the appliance publishes room schedules, capacity and alerts to room displays over MQTT.

The topic contract (``konferenco/{venue}/v1/...``) is documented for
third-party displays in docs/signage-protocol.md; the payloads are the
msgspec structs in :mod:`drivers.signage.payloads`.
"""

from typing import Any

from drivers.base import Driver, ScanSink
from drivers.signage.payloads import (
    Alert,
    DisplayCommand,
    DisplayHeartbeat,
    DisplaySeen,
    GrassrootsNotice,
    RoomCapacity,
    RoomNext,
    RoomNow,
    RoomSchedule,
    Session,
)
from drivers.signage.publisher import MANIFEST, SignagePublisher
from drivers.signage.topics import Topics

__all__ = [
    "MANIFEST",
    "Alert",
    "DisplayCommand",
    "DisplayHeartbeat",
    "DisplaySeen",
    "GrassrootsNotice",
    "RoomCapacity",
    "RoomNext",
    "RoomNow",
    "RoomSchedule",
    "Session",
    "SignagePublisher",
    "Topics",
    "create",
]


def create(settings: dict[str, Any], sink: ScanSink | None = None) -> Driver:
    """The family's entry point (``drivers.registry``): a publisher; ``name`` is not used."""
    values = dict(settings)
    values.pop("name", None)
    return SignagePublisher.from_settings(values)
