"""Image Factory schematics and their ids, computed offline.

The factory's schematic id is the sha256 of the schematic re-serialised by Go yaml.v3 with its
struct field order, 4-space indentation and empty fields left out (image-factory
``pkg/schematic/schematic.go``; research section 4). We reproduce that text here so the lock file
can be checked without the network. The factory's own answer to ``POST /schematics`` stays
authoritative: the lock file records our text so a difference is visible.

Only the fields our schematics use are supported; anything else is refused rather than hashed wrong.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from talos.config import yamlio

SCHEMATICS_DIR = Path(__file__).resolve().parents[1] / "schematics"
LOCK_FILE = SCHEMATICS_DIR / "lock.json"

_OVERLAY_FIELDS = ("image", "name", "options")
_CUSTOMIZATION_FIELDS = ("extraKernelArgs", "meta", "systemExtensions", "secureboot")
_PLAIN = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./=@+-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}


class SchematicError(ValueError):
    """The schematic has a field or value the offline id computation does not support."""


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str):
        raise SchematicError(f"unsupported value {value!r}")
    if "\n" in value:
        raise SchematicError("multi-line values (embedded config, META network) need the factory's id")
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value)


def _check_keys(where: str, data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SchematicError(f"{where}: unknown or unsupported field(s) {', '.join(unknown)}")


def canonical(schematic: dict[str, Any]) -> str:
    """The text yaml.v3 writes for this schematic: its sha256 is the schematic id."""
    _check_keys("schematic", schematic, ("overlay", "customization"))
    lines: list[str] = []
    overlay = schematic.get("overlay") or {}
    if overlay:
        _check_keys("overlay", overlay, _OVERLAY_FIELDS)
        if overlay.get("options"):
            raise SchematicError("overlay.options needs the factory's id")
        lines += ["overlay:", f"    image: {_scalar(overlay.get('image', ''))}"]
        lines.append(f"    name: {_scalar(overlay.get('name', ''))}")
    custom = schematic.get("customization") or {}
    _check_keys("customization", custom, _CUSTOMIZATION_FIELDS)
    body: list[str] = []
    if custom.get("extraKernelArgs"):
        body.append("    extraKernelArgs:")
        body += [f"        - {_scalar(arg)}" for arg in custom["extraKernelArgs"]]
    if custom.get("meta"):
        body.append("    meta:")
        for item in custom["meta"]:
            _check_keys("customization.meta[]", item, ("key", "value"))
            body.append(f"        - key: {_scalar(int(item['key']))}")
            body.append(f"          value: {_scalar(item['value'])}")
    extensions = (custom.get("systemExtensions") or {}).get("officialExtensions") or []
    if extensions:
        body += ["    systemExtensions:", "        officialExtensions:"]
        body += [f"            - {_scalar(name)}" for name in extensions]
    secureboot = custom.get("secureboot") or {}
    if secureboot:
        _check_keys("customization.secureboot", secureboot, ("includeWellKnownCertificates",))
        if secureboot.get("includeWellKnownCertificates"):
            body += ["    secureboot:", "        includeWellKnownCertificates: true"]
    lines += ["customization:", *body] if body else ["customization: {}"]
    return "\n".join(lines) + "\n"


def schematic_id(schematic: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(schematic).encode()).hexdigest()


def load_schematic(path: Path) -> dict[str, Any]:
    data = yamlio.load_one(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SchematicError(f"{path.name}: a schematic is a mapping")
    return data


def compute_lock(hardware: dict[str, dict[str, Any]], talos_version: str) -> dict[str, Any]:
    """The lock file's content: per hardware class its schematic id, canonical text and installer.

    The boot images' URLs, sha256 and sizes are not here: images/os.yaml owns them
    (:mod:`talos.config.os_images`), and ``konferenco talos os-image record`` fills them in.
    """
    classes: dict[str, Any] = {}
    for name, spec in sorted(hardware.items()):
        data = load_schematic(SCHEMATICS_DIR.parent / spec["schematic"])
        sid = schematic_id(data)
        classes[name] = {
            "schematic": spec["schematic"],
            "id": sid,
            "canonical": canonical(data),
            "installer": f"factory.talos.dev/metal-installer/{sid}:{talos_version}",
        }
    return {
        "talos": talos_version,
        "note": "boot image URLs, sha256 and sizes are in images/os.yaml (konferenco talos os-image record)",
        "classes": classes,
    }


def read_lock() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(LOCK_FILE.read_text(encoding="utf-8"))
    return result


def main(argv: list[str]) -> int:
    """``python -m talos.config.schematic [--write]``: print (or rewrite) the lock file."""
    from talos.config.versions import load_versions

    versions = load_versions()
    text = json.dumps(compute_lock(versions.hardware, versions.current), indent=2) + "\n"
    if "--write" in argv:
        LOCK_FILE.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
