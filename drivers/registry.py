"""Which driver builds which device: the families' manifests, read without importing the families.

Home Assistant finds an integration by its folder and its ``manifest.json``
and imports it only when it is set up; so does this registry.  Every
``drivers/<domain>/manifest.json`` declares the ``kinds`` of device its
family builds (``[""]``: one kind), and each family's package exposes one
entry point, ``create(settings, sink) -> Driver`` (:data:`drivers.base.Create`).
Resolving ``(domain, kind)`` imports ``drivers.<domain>`` then and only
then, so a box without a scanner never imports evdev, and one without an
NFC reader never imports pyscard::

    registry = DriverRegistry.load()
    scanner = registry.create("scanner", "serial", {"port": "/dev/ttyACM0"}, sink, name="North door")
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from drivers.base import Create, Driver, Manifest, ScanSink

#: ``drivers/``: every sub-folder with a ``manifest.json`` is a driver family.
DRIVERS_DIR = Path(__file__).resolve().parent


class UnknownDriver(LookupError):
    """No family builds this (domain, kind); the message lists what the registry knows."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _label(kind: str) -> str:
    return repr(kind) if kind else "(no kind)"


class DriverRegistry:
    """The families found under ``drivers/``, by domain, and their ``create`` by (domain, kind)."""

    def __init__(self, manifests: Mapping[str, Manifest], package: str = "drivers") -> None:
        self.manifests = dict(sorted(manifests.items()))
        self.package = package
        self._creates: dict[str, Create] = {}

    @classmethod
    def load(cls, root: Path = DRIVERS_DIR, package: str = "drivers") -> DriverRegistry:
        """Every ``<root>/*/manifest.json``; a malformed one raises ValueError naming its file."""
        manifests: dict[str, Manifest] = {}
        for path in sorted(root.glob("*/manifest.json")):
            try:
                manifest = msgspec.json.decode(path.read_bytes(), type=Manifest)
            except (msgspec.DecodeError, OSError) as exc:
                raise ValueError(f"{path}: {exc}") from exc
            if manifest.domain != path.parent.name:
                raise ValueError(f"{path}: domain {manifest.domain!r} differs from its folder")
            if not manifest.kinds or len(set(manifest.kinds)) != len(manifest.kinds):
                raise ValueError(f'{path}: kinds must list each kind once, [""] for a single kind')
            manifests[manifest.domain] = manifest
        return cls(manifests, package)

    def kinds(self) -> list[tuple[str, str]]:
        """Every (domain, kind) some family builds."""
        return [(domain, kind) for domain, m in self.manifests.items() for kind in m.kinds]

    def manifest(self, domain: str) -> Manifest:
        try:
            return self.manifests[domain]
        except KeyError:
            known = ", ".join(self.manifests) or "none"
            raise UnknownDriver(f"no driver family {domain!r}; the known families are {known}") from None

    def factory(self, domain: str, kind: str = "") -> Create:
        """The ``create`` that builds a ``kind`` device of ``domain`` (importing its family now).

        The returned callable takes the device's settings and sink, and puts
        the kind into the settings as the setting the manifest names.
        """
        manifest = self.manifest(domain)
        if kind not in manifest.kinds:
            known = ", ".join(_label(k) for k in manifest.kinds)
            raise UnknownDriver(f"no {domain} driver of kind {_label(kind)}; {domain} kinds are: {known}")
        family = self._family(domain)
        kind_setting = manifest.kind_setting

        def create(settings: dict[str, Any], sink: ScanSink | None) -> Driver:
            values = dict(settings)
            if kind_setting is not None:
                values[kind_setting] = kind
            return family(values, sink)

        return create

    def create(
        self,
        domain: str,
        kind: str,
        settings: Mapping[str, Any],
        sink: ScanSink | None = None,
        *,
        name: str = "",
    ) -> Driver:
        """Build one device; ValueError if its settings are wrong or it needs a sink and has none."""
        manifest = self.manifest(domain)
        if manifest.needs_sink and sink is None:
            raise ValueError(f"a {domain} device is an input: it needs a sink for its scans")
        values = dict(settings)
        if name:
            values["name"] = name
        return self.factory(domain, kind)(values, sink)

    def _family(self, domain: str) -> Create:
        if domain not in self._creates:
            module = importlib.import_module(f"{self.package}.{domain}")
            create = getattr(module, "create", None)
            if not callable(create):
                raise TypeError(f"{module.__name__} has no create(settings, sink) entry point")
            self._creates[domain] = create
        return self._creates[domain]
