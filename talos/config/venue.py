"""The short venue file HQ writes per box, checked field by field.

Every refusal names the field (``network.gateway: ...``) so the person at HQ can fix the file
without reading our code; nothing is generated from a file with any error in it.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from talos.config import yamlio

ROLES = ("checkin", "printing", "readers", "signage")
"""What the box does: check-in API (always needed), USB badge printers, NFC/PC-SC readers, MQTT signage."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_IFACE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
_FIELDS = {
    "venue",
    "hardware",
    "talos",
    "network",
    "ntp",
    "timezone",
    "hub_url",
    "roles",
    "registry_mirror",
    "storage",
    "disk_encryption",
    "backup_url",
}
_NET_FIELDS = {"mode", "interface", "vlan", "address", "gateway", "dns", "reserved_address"}


class VenueError(ValueError):
    """A venue file field is missing or wrong; ``field`` says which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Network:
    mode: str  # "dhcp" | "static"
    interface: str | None
    vlan: int | None
    address: ipaddress.IPv4Interface | None  # static only
    gateway: ipaddress.IPv4Address | None
    dns: tuple[str, ...]
    node_ip: str  # the stable address the Kubernetes endpoint and talosctl use


@dataclass(frozen=True)
class Venue:
    name: str
    hardware: str
    talos: str | None
    network: Network
    ntp: tuple[str, ...]
    timezone: str
    hub_url: str
    roles: tuple[str, ...]
    registry_mirror: str | None
    appdata_size: str
    disk_encryption: str  # "tpm" | "node-id"
    backup_url: str | None = None  # the appliance's Litestream replica (docs/backup.md)

    @property
    def hostname(self) -> str:
        return self.name


def _str(data: dict[str, Any], key: str, field: str, *, required: bool = True) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise VenueError(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise VenueError(field, f"must be a non-empty string, not {value!r}")
    return value.strip()


def _str_list(value: Any, field: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise VenueError(field, "must be a non-empty list of strings")
    return tuple(value)


def _network(data: Any) -> Network:
    if not isinstance(data, dict):
        raise VenueError("network", "is required: a mapping with mode: dhcp or mode: static")
    unknown = sorted(set(data) - _NET_FIELDS)
    if unknown:
        raise VenueError(f"network.{unknown[0]}", f"unknown field (known: {', '.join(sorted(_NET_FIELDS))})")
    mode = data.get("mode")
    if mode not in ("dhcp", "static"):
        raise VenueError("network.mode", f"must be dhcp or static, not {mode!r}")
    interface = _str(data, "interface", "network.interface", required=False)
    if interface is not None and not _IFACE.match(interface):
        raise VenueError("network.interface", f"{interface!r} is not a Linux interface name")
    vlan = data.get("vlan")
    if vlan is not None:
        if not isinstance(vlan, int) or isinstance(vlan, bool) or not 1 <= vlan <= 4094:
            raise VenueError("network.vlan", f"must be a VLAN id 1..4094, not {vlan!r}")
        if interface is None:
            raise VenueError("network.interface", "is required with network.vlan (the VLAN's parent link)")
    dns = _str_list(data["dns"], "network.dns") if "dns" in data else ()
    for server in dns:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise VenueError("network.dns", f"{server!r} is not an IP address") from None
    if mode == "static":
        if interface is None:
            raise VenueError("network.interface", "is required for a static address")
        raw = _str(data, "address", "network.address")
        try:
            address = ipaddress.IPv4Interface(raw)
        except ValueError:
            raise VenueError(
                "network.address", f"{raw!r} is not an IPv4 address with prefix (a.b.c.d/nn)"
            ) from None
        if "/" not in str(raw):
            raise VenueError("network.address", f"{raw!r} needs its prefix length (e.g. /24)")
        graw = _str(data, "gateway", "network.gateway")
        try:
            gateway = ipaddress.IPv4Address(graw)
        except ValueError:
            raise VenueError("network.gateway", f"{graw!r} is not an IPv4 address") from None
        if gateway not in address.network:
            raise VenueError(
                "network.gateway", f"{gateway} is not in the address's network {address.network}"
            )
        if gateway == address.ip:
            raise VenueError("network.gateway", "is the box's own address")
        if not dns:
            raise VenueError("network.dns", "is required for a static address")
        if "reserved_address" in data:
            raise VenueError("network.reserved_address", "is for DHCP; a static box uses network.address")
        return Network("static", interface, vlan, address, gateway, dns, str(address.ip))
    for key in ("address", "gateway"):
        if key in data:
            raise VenueError(f"network.{key}", "is only for mode: static")
    reserved = _str(data, "reserved_address", "network.reserved_address")
    try:
        ipaddress.IPv4Address(reserved)
    except ValueError:
        raise VenueError("network.reserved_address", f"{reserved!r} is not an IPv4 address") from None
    return Network("dhcp", interface, vlan, None, None, dns, str(reserved))


def _backup_url(data: dict[str, Any]) -> str | None:
    """The replica URL the box's backup sidecar writes to; checked here so a typo fails at HQ.

    The appliance's ``backup run`` is the full check (docs/backup.md); this one refuses what
    could never work on the box: another scheme, a relative path, credentials in the URL (the URL
    is printed and logged; credentials go in ``--backup-credentials-file``).
    """
    url = _str(data, "backup_url", "backup_url", required=False)
    if url is None:
        return None
    parsed = urlparse(url)
    if parsed.scheme not in ("file", "s3"):
        raise VenueError("backup_url", f"{url!r} must be s3://BUCKET/PREFIX[?endpoint=…] or file:///PATH")
    if "@" in parsed.netloc or "@" in (parsed.query or ""):
        raise VenueError(
            "backup_url", "holds credentials: put them in the file given to --backup-credentials-file"
        )
    if parsed.scheme == "file" and (parsed.netloc or not parsed.path.startswith("/")):
        raise VenueError("backup_url", f"{url!r}: a file replica is file:///ABSOLUTE/PATH")
    if parsed.scheme == "s3" and not parsed.netloc:
        raise VenueError("backup_url", f"{url!r} names no bucket (s3://BUCKET/PREFIX)")
    return url


def parse_venue(data: Any, hardware_classes: dict[str, dict[str, Any]]) -> Venue:
    """Check a loaded venue file; raises ``VenueError`` naming the first wrong field."""
    if not isinstance(data, dict):
        raise VenueError("(file)", "a venue file is a YAML mapping")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise VenueError(unknown[0], f"unknown field (known: {', '.join(sorted(_FIELDS))})")
    name = _str(data, "venue", "venue")
    assert name is not None
    if not _DNS_LABEL.match(name):
        raise VenueError("venue", f"{name!r} must be a DNS label: a-z, 0-9 and '-', at most 63 characters")
    hardware = _str(data, "hardware", "hardware")
    if hardware not in hardware_classes:
        raise VenueError("hardware", f"{hardware!r} is not one of {', '.join(sorted(hardware_classes))}")
    tpm = bool(hardware_classes[hardware]["tpm"])
    encryption = data.get("disk_encryption", "tpm" if tpm else None)
    if encryption not in ("tpm", "node-id"):
        raise VenueError(
            "disk_encryption",
            "is required for a box without TPM: write `node-id` to accept that a stolen box's disk is "
            "readable (see docs/talos-config.md)"
            if encryption is None
            else f"must be tpm or node-id, not {encryption!r}",
        )
    if encryption == "tpm" and not tpm:
        raise VenueError("disk_encryption", f"{hardware} has no TPM; use node-id (and read the docs)")
    talos = _str(data, "talos", "talos", required=False)
    ntp = _str_list(data.get("ntp"), "ntp") if "ntp" in data else ()
    if not ntp:
        raise VenueError("ntp", "is required: the box's check-in times depend on a synced clock")
    timezone = _str(data, "timezone", "timezone")
    assert timezone is not None
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise VenueError("timezone", f"{timezone!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    hub_url = _str(data, "hub_url", "hub_url")
    assert hub_url is not None
    parsed = urlparse(hub_url)
    if parsed.scheme != "https" or not parsed.hostname:
        raise VenueError("hub_url", f"{hub_url!r} must be an https:// URL")
    roles = _str_list(data.get("roles"), "roles") if "roles" in data else ()
    if not roles:
        raise VenueError("roles", f"is required: a list of {', '.join(ROLES)}")
    for role in roles:
        if role not in ROLES:
            raise VenueError("roles", f"{role!r} is not one of {', '.join(ROLES)}")
    if "checkin" not in roles:
        raise VenueError("roles", "must include checkin (every box serves the check-in API)")
    mirror = _str(data, "registry_mirror", "registry_mirror", required=False)
    if mirror is not None and urlparse(mirror).scheme not in ("http", "https"):
        raise VenueError("registry_mirror", f"{mirror!r} must be an http:// or https:// URL")
    storage = data.get("storage") or {}
    if not isinstance(storage, dict) or set(storage) - {"appdata"}:
        raise VenueError("storage", "only storage.appdata (a size like 16GiB) is known")
    appdata = storage.get("appdata", "16GiB")
    if not isinstance(appdata, str) or not re.match(r"^[1-9][0-9]*(GiB|GB|MiB|MB)$", appdata):
        raise VenueError("storage.appdata", f"{appdata!r} must be a size like 16GiB")
    backup_url = _backup_url(data)
    return Venue(
        name=name,
        hardware=hardware,
        talos=talos,
        network=_network(data.get("network")),
        ntp=ntp,
        timezone=timezone,
        hub_url=hub_url.rstrip("/"),
        roles=tuple(dict.fromkeys(roles)),
        registry_mirror=mirror,
        appdata_size=appdata,
        disk_encryption=encryption,
        backup_url=backup_url,
    )


def load_venue(path: Path, hardware_classes: dict[str, dict[str, Any]]) -> Venue:
    try:
        data = yamlio.load_one(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VenueError("(file)", f"cannot read {path}: {exc.strerror}") from None
    except yamlio.YAMLError as exc:
        raise VenueError("(file)", f"{path} is not valid YAML: {exc}") from None
    return parse_venue(data, hardware_classes)
