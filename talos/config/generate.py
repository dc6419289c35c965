"""From a checked venue and its secrets to the box's full multi-document machine config (Talos v1.13).

One template per Talos minor version (research section 1): v1.13 keeps install, udev, files and the
inline manifests in ``v1alpha1.Config`` and moves network, time and volumes into their own documents.
Deprecated v1alpha1 fields (``machine.network``, ``.time``, ``.registries``, ``.systemDiskEncryption``)
are never generated: the schema refuses them.
"""

from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass
from typing import Any

from talos.config import yamlio
from talos.config.schematic import SCHEMATICS_DIR, load_schematic, schematic_id
from talos.config.venue import Venue
from talos.config.versions import Release, Versions

APPDATA = "appdata"
APPDATA_PATH = f"/var/mnt/{APPDATA}"
NAMESPACE = "konferenco"
# USB device access for printers (libusb on usbfs) and PC/SC readers: our pod's group 2000.
USB_RULES = [
    'SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", MODE="0660", GROUP="2000"',
    'SUBSYSTEM=="tty", KERNEL=="ttyUSB[0-9]*|ttyACM[0-9]*", MODE="0660", GROUP="2000"',
]


class GenerateError(ValueError):
    """The venue asks for something this Talos release's template cannot express."""


@dataclass(frozen=True)
class Generated:
    documents: list[dict[str, Any]]
    text: str
    release: Release
    schematic_id: str
    installer: str


def _encryption(venue: Venue, *, lock: bool) -> dict[str, Any]:
    """LUKS2 with a key sealed by the TPM (or, on a box without TPM, derived from the node id)."""
    key: dict[str, Any] = {"slot": 0}
    if venue.disk_encryption == "tpm":
        key["tpm"] = {}
    else:
        key["nodeID"] = {}
    if lock:
        key["lockToState"] = True  # the key is only released while STATE is the one it was made with
    return {"provider": "luks2", "keys": [key]}


# The appliance's Kubernetes manifests are plain files under images/k8s/appliance (docs/images.md):
# read as package data, never imported (talos imports only konferenco). Inline manifest name, file,
# and the roles that need it (None: always).
MANIFEST_FILES: tuple[tuple[str, str, frozenset[str] | None], ...] = (
    ("konferenco-namespace", "namespace.yaml", None),
    ("konferenco-appliance", "appliance.yaml", None),
    ("konferenco-signage-mqtt", "mosquitto.yaml", frozenset({"signage"})),
    ("konferenco-technician-role", "technician-role.yaml", None),
    ("konferenco-technician-rolebinding", "technician-rolebinding.yaml", None),
)
#: The Secrets the appliance pod reads when they exist (``optional: true`` in appliance.yaml): the
#: one-time enrolment token its ``provision`` step spends, and the backup replica's credentials.
ENROLMENT_SECRET = "konferenco-enrolment"
BACKUP_SECRET = "konferenco-backup"
VENUE_CONFIGMAP = "konferenco-venue"
USB_ROLES = frozenset({"printing", "readers"})


def manifest_text(name: str) -> str:
    """The text of ``images/k8s/appliance/NAME`` (package data of the ``images`` package)."""
    return importlib.resources.files("images").joinpath("k8s", "appliance", name).read_text(encoding="utf-8")


def _backup_url(venue: Venue) -> str | None:
    """The venue's backup replica URL (``backup_url`` in the venue file), if it has one."""
    return venue.backup_url


def venue_configmap(venue: Venue) -> dict[str, Any]:
    """The ConfigMap the appliance manifests read their venue-specific values from (envFrom)."""
    data = {
        "KONFERENCO_VENUE": venue.name,
        "KONFERENCO_HUB_URL": venue.hub_url,
        "KONFERENCO_ROLES": ",".join(venue.roles),
        "TZ": venue.timezone,
    }
    backup_url = _backup_url(venue)
    if backup_url:
        data["KONFERENCO_BACKUP_URL"] = backup_url
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": VENUE_CONFIGMAP, "namespace": NAMESPACE},
        "data": data,
    }


def _without_usb(doc: dict[str, Any]) -> dict[str, Any]:
    """The appliance StatefulSet for a box with no USB role: no /dev/bus/usb, not privileged.

    The file grants USB access (privileged, to lift the device cgroup); a box that prints nothing
    and reads no cards gets the least privilege instead.
    """
    pod = doc["spec"]["template"]["spec"]
    pod["volumes"] = [v for v in pod["volumes"] if v["name"] != "usb"]
    for container in pod["containers"]:
        container["volumeMounts"] = [m for m in container.get("volumeMounts", []) if m["name"] != "usb"]
        security = container.get("securityContext", {})
        if security.get("privileged"):
            security["privileged"] = False
            security["allowPrivilegeEscalation"] = False
    return doc


def _without_backup(doc: dict[str, Any]) -> dict[str, Any]:
    """The appliance StatefulSet for a venue with no backup replica: no Litestream sidecar.

    ``backup run`` refuses to start without a replica URL, so the sidecar would only crash-loop.
    """
    pod = doc["spec"]["template"]["spec"]
    pod["containers"] = [c for c in pod["containers"] if c["name"] != "backup"]
    return doc


def _images(docs: list[dict[str, Any]]) -> set[str]:
    found = set()
    for doc in docs:
        pod = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
            found.add(container["image"])
    return found


def box_secret(name: str, values: dict[str, str]) -> dict[str, Any]:
    """A Secret in the appliance's namespace, read by its pod as environment variables (envFrom)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "type": "Opaque",
        "stringData": dict(values),
    }


def _manifests(
    venue: Venue, versions: Versions, secrets: dict[str, dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The appliance's workloads, inline so the box needs no internet at bootstrap (research section 2).

    Each file of images/k8s/appliance is inlined as it is (comments included), except the appliance
    StatefulSet of a box without USB roles (:func:`_without_usb`) or without a backup replica
    (:func:`_without_backup`); the venue's values go into the
    generated konferenco-venue ConfigMap. The images the files name must be the ones pinned in
    talos/versions.yaml ``workloads`` (what the image cache and registry mirror must hold).
    """
    roles = set(venue.roles)
    out: list[dict[str, Any]] = []
    docs: list[dict[str, Any]] = []
    for name, filename, needs in MANIFEST_FILES:
        if needs is not None and not needs & roles:
            continue
        text = manifest_text(filename)
        doc = yamlio.load_one(text)
        edits = []
        if filename == "appliance.yaml" and not USB_ROLES & roles:
            doc = _without_usb(doc)
            edits.append("no USB devices (roles: no printing, no readers)")
        if filename == "appliance.yaml" and not _backup_url(venue):
            doc = _without_backup(doc)
            edits.append("no backup sidecar (the venue has no backup_url)")
        if edits:  # the file's comments do not survive an edit: say where it came from and what changed
            text = f"# images/k8s/appliance/{filename} as generated for this venue: {'; '.join(edits)}.\n"
            text += yamlio.dump_one(doc)
        docs.append(doc)
        out.append({"name": name, "contents": yamlio.literal(text)})
        if filename == "namespace.yaml":
            configmap = venue_configmap(venue)
            out.append({"name": VENUE_CONFIGMAP, "contents": yamlio.literal(yamlio.dump_one(configmap))})
            for secret_name, values in sorted((secrets or {}).items()):
                secret = yamlio.dump_one(box_secret(secret_name, values))
                out.append({"name": secret_name, "contents": yamlio.literal(secret)})
    unpinned = _images(docs) - set(versions.workloads.values())
    if unpinned:
        raise GenerateError(
            f"images/k8s/appliance names {', '.join(sorted(unpinned))}, "
            "not pinned in talos/versions.yaml workloads"
        )
    return out


def _network_documents(venue: Venue) -> list[dict[str, Any]]:
    net = venue.network
    docs: list[dict[str, Any]] = []
    static: dict[str, Any] = {}
    if net.mode == "static":
        assert net.address is not None
        static = {"addresses": [{"address": str(net.address)}], "routes": [{"gateway": str(net.gateway)}]}
    if net.vlan is not None:
        assert net.interface is not None
        vlan_name = f"{net.interface}.{net.vlan}"
        docs.append({"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": net.interface, "up": True})
        docs.append(
            {
                "apiVersion": "v1alpha1",
                "kind": "VLANConfig",
                "name": vlan_name,
                "vlanID": net.vlan,
                "parent": net.interface,
                "up": True,
                **static,
            }
        )
        if net.mode == "dhcp":
            docs.append({"apiVersion": "v1alpha1", "kind": "DHCPv4Config", "name": vlan_name})
    elif net.mode == "static":
        assert net.interface is not None
        docs.append(
            {"apiVersion": "v1alpha1", "kind": "LinkConfig", "name": net.interface, "up": True, **static}
        )
    elif net.interface is not None:
        docs.append({"apiVersion": "v1alpha1", "kind": "DHCPv4Config", "name": net.interface})
    # plain DHCP on any link is the Talos default: no document needed
    if net.dns:
        docs.append(
            {
                "apiVersion": "v1alpha1",
                "kind": "ResolverConfig",
                "nameservers": [{"address": a} for a in net.dns],
            }
        )
    return docs


def generate(
    venue: Venue,
    bundle: dict[str, Any],
    versions: Versions,
    box_secrets: dict[str, dict[str, str]] | None = None,
) -> Generated:
    """The machine config documents for ``venue`` with the PKI of ``bundle`` (not yet validated).

    ``box_secrets``: Secrets for the appliance's pod by name (:data:`ENROLMENT_SECRET`,
    :data:`BACKUP_SECRET`); they end up in the config, which holds the CA keys already and is
    kept as a secret (0600, the technician deletes it once applied).
    """
    release = versions.release(venue.talos)
    if not release.generator:
        raise GenerateError(
            f"talos: {release.version} has no generator template yet (pinned for validation only); "
            f"use {versions.current}"
        )
    hw = versions.hardware[venue.hardware]
    sid = schematic_id(load_schematic(SCHEMATICS_DIR.parent / hw["schematic"]))
    installer = f"factory.talos.dev/metal-installer/{sid}:{release.version}"
    node_ip = venue.network.node_ip
    certs = bundle["certs"]
    machine: dict[str, Any] = {
        "type": "controlplane",
        "token": bundle["trustdinfo"]["token"],
        "ca": dict(certs["os"]),
        "certSANs": [node_ip, venue.hostname],
        "install": {"image": installer, "wipe": False},
        "udev": {"rules": USB_RULES},
        "features": {"imageCache": {"localEnabled": True}},
        "files": [
            {
                "path": "/var/etc/konferenco/venue.json",
                "op": "create",
                "permissions": 0o644,
                "content": json.dumps(
                    {
                        "venue": venue.name,
                        "hub_url": venue.hub_url,
                        "roles": list(venue.roles),
                        "timezone": venue.timezone,
                    },
                    sort_keys=True,
                ),
            }
        ],
        "nodeLabels": {"konferenco.io/venue": venue.name, "konferenco.io/hardware": venue.hardware},
    }
    if hw.get("install_disk_selector"):
        machine["install"]["diskSelector"] = dict(hw["install_disk_selector"])
    cluster = {
        "id": bundle["cluster"]["id"],
        "secret": bundle["cluster"]["secret"],
        "clusterName": venue.name,
        "controlPlane": {"endpoint": f"https://{node_ip}:6443"},
        "token": bundle["secrets"]["bootstraptoken"],
        "secretboxEncryptionSecret": bundle["secrets"]["secretboxencryptionsecret"],
        "ca": dict(certs["k8s"]),
        "aggregatorCA": dict(certs["k8saggregator"]),
        "serviceAccount": {"key": certs["k8sserviceaccount"]["key"]},
        "etcd": {"ca": dict(certs["etcd"])},
        # discovery reaches discovery.talos.dev over the internet; one node needs no discovery
        "discovery": {"enabled": False},
        "allowSchedulingOnControlPlanes": True,  # the only node runs the workloads
        "inlineManifests": _manifests(venue, versions, box_secrets),
    }
    docs: list[dict[str, Any]] = [
        {"version": "v1alpha1", "debug": False, "machine": machine, "cluster": cluster},
        {"apiVersion": "v1alpha1", "kind": "HostnameConfig", "hostname": venue.hostname},
        *_network_documents(venue),
        {
            "apiVersion": "v1alpha1",
            "kind": "TimeSyncConfig",
            "enabled": True,
            "bootTimeout": "2m0s",
            "ntp": {"servers": list(venue.ntp)},
        },
        {
            "apiVersion": "v1alpha1",
            "kind": "VolumeConfig",
            "name": "STATE",
            "encryption": _encryption(venue, lock=False),
        },
        {
            "apiVersion": "v1alpha1",
            "kind": "VolumeConfig",
            "name": "EPHEMERAL",
            "provisioning": {"maxSize": "40GiB"},  # leaves room for the image cache and the user volume
            "encryption": _encryption(venue, lock=True),
        },
        {
            "apiVersion": "v1alpha1",
            "kind": "VolumeConfig",
            "name": "IMAGECACHE",
            "provisioning": {"maxSize": "8GiB"},
        },
        {
            "apiVersion": "v1alpha1",
            "kind": "UserVolumeConfig",
            "name": APPDATA,
            "provisioning": {
                "diskSelector": {"match": "system_disk"},
                "minSize": "2GiB",
                "maxSize": venue.appdata_size,
            },
            "filesystem": {"type": "xfs"},
            "encryption": _encryption(venue, lock=True),
        },
    ]
    if venue.registry_mirror:
        for registry in ("ghcr.io", "docker.io"):
            docs.append(
                {
                    "apiVersion": "v1alpha1",
                    "kind": "RegistryMirrorConfig",
                    "name": registry,
                    "endpoints": [{"url": venue.registry_mirror}],
                }
            )
    header = (
        f"# Talos {release.version} machine config for venue box {venue.name} ({venue.hardware}).\n"
        "# Generated by `konferenco talos config`; holds the cluster CA keys: keep it secret.\n"
    )
    return Generated(docs, header + yamlio.dump_documents(docs), release, sid, installer)
