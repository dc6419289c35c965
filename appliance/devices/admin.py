"""Configuring an appliance's devices from its command line, and listing their state.

Changes go into ``appliance.json``; ``appliance serve`` picks them up when
it starts.  The state comes live from the serving appliance's API when it
answers, else the configured devices are listed as not running.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from appliance.config import ApplianceConfig, DataDir, DeviceConfig
from appliance.staff.service import StaffRole

DOMAINS = ("printer", "scanner", "rfid", "signage", "discovery")


class DeviceError(ValueError):
    """A device setting or reference that cannot be saved."""


def setting_value(text: str) -> object:
    """``9100`` is a number, ``true`` a flag, anything else the text itself."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def parse_settings(items: tuple[str, ...] | list[str]) -> dict[str, object]:
    """``KEY=VALUE`` items as driver settings."""
    settings: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DeviceError(f"--set needs KEY=VALUE, not {item!r}")
        settings[key.strip()] = setting_value(value.strip())
    return settings


def add_device(
    data: DataDir,
    config: ApplianceConfig,
    *,
    device_id: str,
    domain: str,
    kind: str = "",
    name: str = "",
    gate: str | None = None,
    settings: dict[str, object] | None = None,
    desk: bool = False,
) -> DeviceConfig:
    """Add DEVICE_ID, or replace the device of that id, and save the configuration."""
    try:
        device = msgspec.convert(
            {
                "id": device_id,
                "domain": domain,
                "kind": kind,
                "name": name,
                "gate": gate,
                "desk": desk,
                "settings": settings or {},
            },
            DeviceConfig,
        )
    except msgspec.ValidationError as exc:
        raise DeviceError(str(exc)) from None
    if desk and (domain not in ("scanner", "rfid") or gate):
        raise DeviceError("--desk is for a scanner or reader at the help desk, which has no --gate")
    config.devices = [d for d in config.devices if d.id != device_id] + [device]
    data.save(config)
    return device


def remove_device(data: DataDir, config: ApplianceConfig, device_id: str) -> None:
    """Remove DEVICE_ID, and stop any gate printing on it."""
    if not any(d.id == device_id for d in config.devices):
        raise DeviceError(f"no device '{device_id}' on this appliance")
    config.devices = [d for d in config.devices if d.id != device_id]
    config.auto_print = {g: p for g, p in config.auto_print.items() if p != device_id}
    data.save(config)


def set_auto_print(data: DataDir, config: ApplianceConfig, gate: str, printer: str | None) -> None:
    """Print badges on first admission at GATE on PRINTER; None stops printing there."""
    if printer is None:
        config.auto_print.pop(gate, None)
    else:
        if not any(d.id == printer and d.domain == "printer" for d in config.devices):
            raise DeviceError(f"no printer '{printer}' on this appliance; add it first")
        config.auto_print[gate] = printer
    data.save(config)


@dataclass(frozen=True)
class DeviceState:
    id: str
    domain: str
    kind: str
    gate: str | None
    state: str  # "running", "failed", …, or "not running" when the appliance does not answer
    detail: str


@dataclass(frozen=True)
class Discovered:
    kind: str
    name: str
    host: str | None
    port: int | None


def device_states(
    data: DataDir, config: ApplianceConfig, port: int
) -> tuple[list[DeviceState], list[Discovered]]:
    """The devices and what the LAN announces, live from the appliance serving on PORT if it is."""
    import httpx  # only here: a tenth of a second of every command's start

    try:
        token = data.staff_tokens().issue("cli", "Command line", StaffRole.ORGANIZER, 60)
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}/api/v1/devices"
        response = httpx.get(base, headers=headers, timeout=3)
        response.raise_for_status()
        rows = [
            DeviceState(
                r["id"],
                r["domain"],
                r["kind"],
                r.get("gate"),
                r["state"]["state"],
                r["state"].get("detail") or "",
            )
            for r in response.json()
        ]
        found = [
            Discovered(s["kind"], s["name"], s.get("host"), s.get("port"))
            for s in httpx.get(f"{base}/discovered", headers=headers, timeout=3).json()
        ]
    except httpx.HTTPError:
        return [DeviceState(d.id, d.domain, d.kind, d.gate, "not running", "") for d in config.devices], []
    return rows, found
