"""The per-venue bundle HQ hands to the technician, signed so it can be checked on site.

A tar holding ``manifest.json`` (venue, hardware, Talos version, schematic id, boot image with its
pinned sha256, every file's sha256), ``manifest.sig`` (Ed25519 over the manifest bytes), the machine
config, the technician's ``talosconfig`` (``os:operator``) and ``CHECKLIST.md`` (research section 8).
``secrets.yaml`` stays at HQ: it is never put in a bundle.

Verification checks the signature first, then that every file is listed with the right hash and no
file is missing or added.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
CONFIG = "controlplane.yaml"
TALOSCONFIG = "talosconfig"
TALOSCONFIG_ADMIN = "talosconfig-admin"  # HQ only, written by `talos config`, never bundled
KUBECONFIG = "kubeconfig"  # the technician's: the appliance's pods only (talos/config/kube_access.py)
TALOSCONFIG_BOOTSTRAP = "talosconfig-bootstrap"  # optional, os:admin for a few hours
CHECKLIST = "CHECKLIST.md"
FORMAT = 1


class BundleError(ValueError):
    """A bundle that cannot be built, or that fails verification (the reason says which check)."""


@dataclass(frozen=True)
class Verified:
    manifest: dict[str, Any]
    files: dict[str, bytes]
    signer: str


def fingerprint(public: ed25519.Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


def new_signing_key() -> tuple[bytes, bytes]:
    """HQ's signing key pair as PEM (private PKCS8, public SPKI)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def load_private(path: Path) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise BundleError(f"{path} is not an Ed25519 private key")
    return key


def load_public(path: Path) -> ed25519.Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except ValueError:
        raise BundleError(f"{path} is not a PEM public key") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key")
    return key


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _day_one_steps() -> list[str]:
    return [
        "8. The first staff account, kiosks, printers, the first scan and backups:",
        f"   `{KUBECONFIG}` runs `konferenco appliance …` in the box's pod",
        "   (docs/venue-day-one.md, steps 7-11).",
        "9. Report back to HQ (flash report, box serial).",
    ]


def checklist(manifest: dict[str, Any], *, kubeconfig: bool = False) -> str:
    boot = manifest["boot_image"]
    ip = manifest["node_ip"]
    pinned = (
        boot["sha256"]
        or "NOT PINNED: HQ must download the image and record its sha256 before the bundle is used"
    )
    media = "a USB stick" if boot["file"].endswith(".iso") else "the SD card or NVMe"
    flash = (
        f"2. Flash `{boot['file']}` to {media}:\n"
        f"   `konferenco talos flash {boot['file']} --device /dev/sdX --sha256 <pinned sha256>`"
    )
    until = manifest.get("bootstrap_admin_until")
    step5 = (
        [
            "5. Bootstrap exactly once:",
            f"   `talosctl --talosconfig {TALOSCONFIG_BOOTSTRAP} bootstrap -n {ip}`",
            f"   (that admin config expires at {until}; delete it after use).",
        ]
        if until
        else [
            "5. Call HQ: bootstrap needs the admin role, which this bundle does not carry;",
            f"   HQ runs `talosctl --talosconfig {TALOSCONFIG_ADMIN} bootstrap -n {ip}` exactly once.",
        ]
    )
    return "\n".join(
        [
            f"# Venue box {manifest['venue']} ({manifest['hardware']}, Talos {manifest['talos']})",
            "",
            "1. Verify this bundle (it must print `verified`):",
            f"   `konferenco talos verify {manifest['venue']}.bundle.tar --public-key hq-signing.pub`",
            flash,
            f"   Image: {boot['url']}",
            f"   Pinned sha256: {pinned}",
            "3. Boot the box from it; read the IP and the certificate fingerprint on the console.",
            "4. Apply the config:",
            f"   `talosctl apply-config --insecure -n <console IP> --cert-fingerprint <fp> -f {CONFIG}`",
            "   (the NUC installs to its NVMe and reboots; remove the stick when the console says so).",
            *step5,
            f"6. Check health: `talosctl --talosconfig {TALOSCONFIG} -n {ip} health`",
            f"7. Open `http://{ip}:8080/healthz`: the appliance answers when its pod is up"
            " (it enrols itself with the hub first, or restores itself from its backup).",
            *(_day_one_steps() if kubeconfig else ["8. Report back to HQ (flash report, box serial)."]),
            "",
            f"`{CONFIG}` holds the box's CA keys: keep the bundle on the encrypted technician laptop",
            "and delete it after step 4"
            + (f"; `{KUBECONFIG}` after the event (it expires in 30 days)." if kubeconfig else "."),
            "",
        ]
    )


def build(
    *,
    config: bytes,
    talosconfig: bytes,
    facts: dict[str, Any],
    kubeconfig: bytes | None = None,
    bootstrap: bytes | None = None,
    key: ed25519.Ed25519PrivateKey,
    out: Path,
    now: dt.datetime | None = None,
    tool_version: str = "",
) -> dict[str, Any]:
    """Write the signed bundle tar to ``out`` (mode 0600) and return its manifest."""
    now = now or dt.datetime.now(dt.UTC)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        **facts,
        "config_sha256": _sha(config),
        "created_at": now.replace(microsecond=0).isoformat(),
        "tool_version": tool_version,
        "signer": fingerprint(key.public_key()),
        "files": {},
    }
    files = {CONFIG: config, TALOSCONFIG: talosconfig}
    if kubeconfig is not None:
        files[KUBECONFIG] = kubeconfig
    files[CHECKLIST] = checklist(manifest, kubeconfig=kubeconfig is not None).encode()
    if bootstrap is not None:
        files[TALOSCONFIG_BOOTSTRAP] = bootstrap
    manifest["files"] = {
        name: {"sha256": _sha(data), "size": len(data)} for name, data in sorted(files.items())
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    signature = base64.b64encode(key.sign(manifest_bytes)) + b"\n"
    members = {MANIFEST: manifest_bytes, SIGNATURE: signature, **files}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in [MANIFEST, SIGNATURE, *sorted(files)]:
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            info.mode = 0o600
            info.mtime = int(now.timestamp())
            tar.addfile(info, io.BytesIO(members[name]))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(buf.getvalue())
    return manifest


def _read_members(path: Path) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:") as tar:
            for info in tar.getmembers():
                if not info.isfile() or "/" in info.name or info.name.startswith("."):
                    raise BundleError(f"unexpected entry {info.name!r} in the bundle")
                if info.name in members:
                    raise BundleError(f"{info.name} appears twice in the bundle")
                fh = tar.extractfile(info)
                assert fh is not None
                members[info.name] = fh.read()
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"cannot read {path}: {exc}") from None
    return members


def verify(path: Path, public: ed25519.Ed25519PublicKey) -> Verified:
    """Check signature, hashes and file list; raises ``BundleError`` with the failed check."""
    members = _read_members(path)
    for name in (MANIFEST, SIGNATURE):
        if name not in members:
            raise BundleError(f"{name} is missing: not a signed bundle")
    try:
        public.verify(base64.b64decode(members[SIGNATURE], validate=False), members[MANIFEST])
    except (InvalidSignature, ValueError):
        raise BundleError(
            "signature does not match: the bundle was changed or not signed by this key"
        ) from None
    manifest: dict[str, Any] = json.loads(members[MANIFEST])
    listed = manifest.get("files") or {}
    present = set(members) - {MANIFEST, SIGNATURE}
    for name in sorted(present - set(listed)):
        raise BundleError(f"{name} is in the bundle but not in the signed manifest")
    for name, entry in sorted(listed.items()):
        if name not in members:
            raise BundleError(f"{name} is listed in the manifest but missing")
        if _sha(members[name]) != entry["sha256"] or len(members[name]) != entry["size"]:
            raise BundleError(f"{name} does not match its sha256 in the manifest")
    if manifest.get("config_sha256") != _sha(members.get(CONFIG, b"")):
        raise BundleError(f"{CONFIG} does not match config_sha256")
    return Verified(manifest, {n: members[n] for n in listed}, fingerprint(public))
