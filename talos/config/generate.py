"""From a checked venue and its secrets to the box's full multi-document machine config (Talos v1.13).

One template per Talos minor version (research section 1): v1.13 keeps install, udev, files and the
inline manifests in ``v1alpha1.Config`` and moves network, time and volumes into their own documents.
Deprecated v1alpha1 fields (``machine.network``, ``.time``, ``.registries``, ``.systemDiskEncryption``)
are never generated: the schema refuses them.
"""

from __future__ import annotations

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
APPLIANCE_PORT = 8080  # `konferenco appliance serve` default
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


def _manifests(venue: Venue, versions: Versions) -> list[dict[str, Any]]:
    """The appliance's workloads, inline so the box needs no internet at bootstrap (research section 2)."""
    images = versions.workloads
    env = [
        {"name": "KONFERENCO_VENUE", "value": venue.name},
        {"name": "KONFERENCO_HUB_URL", "value": venue.hub_url},
        {"name": "KONFERENCO_ROLES", "value": ",".join(venue.roles)},
        {"name": "KONFERENCO_DATA", "value": "/data"},
        {"name": "TZ", "value": venue.timezone},
    ]
    needs_usb = bool({"printing", "readers"} & set(venue.roles))
    mounts: list[dict[str, Any]] = [{"name": "data", "mountPath": "/data"}]
    volumes: list[dict[str, Any]] = [
        {"name": "data", "hostPath": {"path": f"{APPDATA_PATH}/appliance", "type": "DirectoryOrCreate"}}
    ]
    if needs_usb:
        mounts.append({"name": "usb", "mountPath": "/dev/bus/usb"})
        volumes.append({"name": "usb", "hostPath": {"path": "/dev/bus/usb", "type": "Directory"}})
    container: dict[str, Any] = {
        "name": "appliance",
        "image": images["appliance"],
        # the image's entrypoint is `konferenco`; the box syncs with the hub when the internet is up
        "args": [
            *("appliance", "serve", "--data", "/data", "--host", "0.0.0.0"),
            *("--port", str(APPLIANCE_PORT), "--upstream", venue.hub_url),
        ],
        "env": env,
        "ports": [{"name": "http", "containerPort": APPLIANCE_PORT}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": "http"}},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "periodSeconds": 20},
        "volumeMounts": mounts,
        "securityContext": {"privileged": True} if needs_usb else {"readOnlyRootFilesystem": True},
    }
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "privileged"}},
    }
    appliance = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "appliance", "namespace": NAMESPACE},
        "spec": {
            "serviceName": "appliance",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "appliance"}},
            "template": {
                "metadata": {"labels": {"app": "appliance"}},
                "spec": {
                    "hostNetwork": True,  # zeroconf/mDNS discovery of kiosks and peer boxes
                    "dnsPolicy": "ClusterFirstWithHostNet",
                    "securityContext": {"supplementalGroups": [2000]},
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }
    out = [
        {"name": "konferenco-namespace", "doc": namespace},
        {"name": "konferenco-appliance", "doc": appliance},
    ]
    if "signage" in venue.roles:
        mosquitto = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "mosquitto", "namespace": NAMESPACE},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "mosquitto"}},
                "template": {
                    "metadata": {"labels": {"app": "mosquitto"}},
                    "spec": {
                        "hostNetwork": True,
                        "containers": [
                            {
                                "name": "mosquitto",
                                "image": images["mosquitto"],
                                "ports": [{"containerPort": 1883}],
                            }
                        ],
                    },
                },
            },
        }
        out.append({"name": "konferenco-signage-mqtt", "doc": mosquitto})
    return [{"name": m["name"], "contents": yamlio.literal(yamlio.dump_one(m["doc"]))} for m in out]


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


def generate(venue: Venue, bundle: dict[str, Any], versions: Versions) -> Generated:
    """The machine config documents for ``venue`` with the PKI of ``bundle`` (not yet validated)."""
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
        "inlineManifests": _manifests(venue, versions),
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
