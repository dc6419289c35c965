"""The zeroconf table: which driver wants which mDNS service, from every ``drivers/*/manifest.json``.

This is our ``homeassistant/generated/zeroconf.py``, built at start-up
instead of generated: each family declares in its manifest the service types
it handles (``"zeroconf": [{"type": "_pdl-datastream._tcp.local."}]``),
optionally narrowed by a glob on the instance name or on TXT properties, and
the browser asks this table what a discovered service is.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path

import msgspec
from zeroconf import BadTypeInNameException
from zeroconf._utils.name import service_type_name  # the validator zeroconf itself applies to types

from drivers.base import Manifest

#: ``drivers/``: every sub-folder with a ``manifest.json`` is a driver family.
DRIVERS_DIR = Path(__file__).resolve().parent.parent


class ManifestError(ValueError):
    """A driver's manifest cannot be used; the message names the file and the problem."""


class DomainMatcher(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the table: services of a type that belong to ``domain`` when the globs match."""

    domain: str
    name: str | None = None
    properties: dict[str, str] = {}


ZeroconfTable = Mapping[str, list[DomainMatcher]]


def load_manifests(root: Path = DRIVERS_DIR) -> list[Manifest]:
    """Every family's manifest under ``root``, sorted by domain; the first bad one raises ManifestError."""
    manifests = []
    for path in sorted(root.glob("*/manifest.json")):
        try:
            manifest = msgspec.json.decode(path.read_bytes(), type=Manifest)
        except (msgspec.DecodeError, OSError) as exc:
            raise ManifestError(f"{path}: {exc}") from exc
        if manifest.domain != path.parent.name:
            folder = path.parent.name
            raise ManifestError(f"{path}: domain {manifest.domain!r} differs from its folder {folder!r}")
        for matcher in manifest.zeroconf:
            _check_type(path, matcher.type)
            if any(key != key.lower() for key in matcher.properties):
                raise ManifestError(f"{path}: TXT property keys in zeroconf matchers must be lower-case")
        manifests.append(manifest)
    return sorted(manifests, key=lambda m: m.domain)


def _check_type(path: Path, type_: str) -> None:
    try:
        ok = service_type_name(type_, strict=True) == type_
    except BadTypeInNameException as exc:
        raise ManifestError(f"{path}: zeroconf type {type_!r}: {exc}") from exc
    if not ok:
        raise ManifestError(f"{path}: {type_!r} is an instance name, not a service type")


def zeroconf_table(root: Path = DRIVERS_DIR) -> dict[str, list[DomainMatcher]]:
    """``{service type: [matchers]}`` over every manifest, like Home Assistant's generated table."""
    table: dict[str, list[DomainMatcher]] = {}
    for manifest in load_manifests(root):
        for m in manifest.zeroconf:
            row = DomainMatcher(domain=manifest.domain, name=m.name, properties=dict(m.properties))
            table.setdefault(m.type, []).append(row)
    return table


def matching_domains(table: ZeroconfTable, type_: str, name: str, properties: Mapping[str, str]) -> list[str]:
    """The domains whose matchers accept this service (Home Assistant's rules).

    The name glob is matched against the full lower-cased service name
    (``brother ql-820nwb._pdl-datastream._tcp.local.``); property globs against
    lower-cased TXT values, and a missing property never matches.
    """
    lowered = name.lower()
    props = {key.lower(): value.lower() for key, value in properties.items()}
    out: list[str] = []
    for matcher in table.get(type_, []):
        if matcher.name is not None and not fnmatch.fnmatchcase(lowered, matcher.name.lower()):
            continue
        if any(
            key not in props or not fnmatch.fnmatchcase(props[key], glob.lower())
            for key, glob in matcher.properties.items()
        ):
            continue
        if matcher.domain not in out:
            out.append(matcher.domain)
    return out
