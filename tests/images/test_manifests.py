"""The Kubernetes manifests under images/k8s: valid for the cluster they go to, and safe to run.

Core kinds are validated offline and strictly (an unknown field is an error, as a typo would be
silently dropped by the API server) with kubernetes-validate, for the Kubernetes release Talos
v1.13 runs; CloudNativePG kinds against the CRD schemas vendored in images/k8s/schemas
(SOURCE.txt), made strict the same way. The manifests the Talos generator inlines into a box's
machine config are checked too, since those are what a venue box actually applies.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate  # type: ignore[import-untyped]
import pytest

from talos.config import yamlio
from talos.config.generate import APPDATA_PATH, generate
from talos.config.secrets import generate_secrets
from talos.config.venue import load_venue
from talos.config.versions import load_versions
from tests.helpers import ROOT
from tests.test_docs_cli import check as check_cli

K8S = ROOT / "images" / "k8s"
SCHEMAS = K8S / "schemas"
# Talos v1.12 supports Kubernetes up to 1.35 (its support matrix); v1.13 ships 1.36.
KUBERNETES = "1.36.0"
CNPG_CRDS = {
    "Cluster": "postgresql.cnpg.io_clusters.yaml",
    "ScheduledBackup": "postgresql.cnpg.io_scheduledbackups.yaml",
}
WORKLOADS = {"StatefulSet", "Deployment", "DaemonSet"}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yamlio.load_documents(path.read_text(encoding="utf-8")) if d]


def _manifest_files(app: str) -> list[Path]:
    return sorted(p for p in (K8S / app).glob("*.yaml") if p.name != "kustomization.yaml")


ALL = [(p, d) for app in ("appliance", "hub") for p in _manifest_files(app) for d in _docs(p)]
IDS = [f"{p.parent.name}/{p.name}:{d['kind']}/{d['metadata']['name']}" for p, d in ALL]


def _strict(schema: Any) -> Any:
    """The CRD schema with every object closed: Kubernetes prunes unknown fields of a custom resource
    without a word, so a misspelt field would silently do nothing."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def _crd_schema(kind: str, version: str) -> dict[str, Any]:
    crd = _docs(SCHEMAS / CNPG_CRDS[kind])[0]
    for entry in crd["spec"]["versions"]:
        if entry["name"] == version:
            schema: dict[str, Any] = _strict(entry["schema"]["openAPIV3Schema"])
            return schema
    raise AssertionError(f"the vendored {kind} CRD has no version {version}")


def validate(doc: dict[str, Any]) -> None:
    """Raise with the reason if DOC is not a valid object for our Kubernetes and CNPG versions."""
    group, _, version = doc["apiVersion"].rpartition("/")
    if group == "postgresql.cnpg.io":
        jsonschema.validate(doc, _crd_schema(doc["kind"], version))
    else:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = _pod(doc)["containers"]
    return containers


def _workloads(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] in WORKLOADS]


@pytest.mark.parametrize(("path", "doc"), ALL, ids=IDS)
def test_every_manifest_validates_strictly(path: Path, doc: dict[str, Any]) -> None:
    validate(doc)


def test_a_typo_is_caught_by_both_validators() -> None:
    """The checks above would be worthless if unknown fields passed: prove they do not."""
    deployment = next(d for _, d in ALL if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    _containers(broken)[0]["readinessprobe"] = {"httpGet": {"path": "/healthz", "port": "http"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    cluster = copy.deepcopy(next(d for _, d in ALL if d["kind"] == "Cluster"))
    cluster["spec"]["instance"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster)
    cluster = copy.deepcopy(next(d for _, d in ALL if d["kind"] == "Cluster"))
    cluster["spec"]["backup"]["barmanObjectStore"]["s3Credentials"]["accessKeyID"] = {"name": "x", "key": "y"}
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster)


def test_the_vendored_crds_are_the_recorded_ones() -> None:
    import hashlib

    source = (SCHEMAS / "SOURCE.txt").read_text(encoding="utf-8")
    for name in CNPG_CRDS.values():
        digest = hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest()
        assert f"{digest}  {name}" in source, f"{name} changed without SOURCE.txt"


@pytest.mark.parametrize("app", ["appliance", "hub"])
def test_every_container_is_probed_unprivileged_and_pinned(app: str) -> None:
    docs = [d for p in _manifest_files(app) for d in _docs(p)]
    for workload in _workloads(docs):
        pod = _pod(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 1000
        assert pod["automountServiceAccountToken"] is False
        for container in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{workload['metadata']['name']}/{container['name']}"
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), where
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "memory" in container["resources"]["limits"], where
            if container["name"] == "data-owner":
                # the one root step: chown of the hostPath data directory, with CHOWN only
                assert security["capabilities"]["add"] == ["CHOWN"]
                assert security["allowPrivilegeEscalation"] is False
                continue
            assert security.get("runAsNonRoot", True) is True, where
            assert security.get("runAsUser", pod["securityContext"]["runAsUser"]) == 10001, where
            if security.get("privileged"):
                assert where == "appliance/appliance", f"{where}: only the appliance may reach USB devices"
            elif container in pod["containers"]:
                assert security["allowPrivilegeEscalation"] is False, where
        for container in pod["containers"]:
            if container["name"] == "backup":  # supervised by `backup run` itself (its comment says why)
                continue
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{container['name']} has no {probe}"
            http = container["readinessProbe"].get("httpGet")
            if container["image"].startswith("ghcr.io/konferenco/"):
                assert http == {"path": "/healthz", "port": "http"}
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_appliance_images_are_the_ones_talos_pins() -> None:
    pinned = set(load_versions().workloads.values())
    docs = [d for p in _manifest_files("appliance") for d in _docs(p)]
    used = {
        c["image"] for w in _workloads(docs) for c in [*_pod(w).get("initContainers", []), *_containers(w)]
    }
    assert used == pinned


def test_the_appliance_pod_matches_the_box() -> None:
    (statefulset,) = [d for d in _docs(K8S / "appliance" / "appliance.yaml") if d["kind"] == "StatefulSet"]
    assert statefulset["spec"]["replicas"] == 1
    pod = _pod(statefulset)
    assert pod["hostNetwork"] is True
    data = next(v for v in pod["volumes"] if v["name"] == "data")
    assert data["hostPath"]["path"].startswith(APPDATA_PATH + "/")
    assert 2000 in pod["securityContext"]["supplementalGroups"]  # talos USB_RULES' group
    names = {c["name"]: c for c in pod["containers"]}
    assert set(names) == {"appliance", "backup"}
    for container in names.values():
        assert {"configMapRef": {"name": "konferenco-venue"}} in container["envFrom"]
    assert {"secretRef": {"name": "konferenco-backup", "optional": True}} in names["backup"]["envFrom"]


def test_the_sidecar_and_the_containers_run_real_commands() -> None:
    """Every `konferenco …` a manifest runs parses with our CLI (as docs' examples do)."""
    docs = [d for app in ("appliance", "hub") for p in _manifest_files(app) for d in _docs(p)]
    commands = [
        c["args"]
        for w in _workloads(docs)
        for c in [*_pod(w).get("initContainers", []), *_containers(w)]
        if c["image"].startswith("ghcr.io/konferenco/") and "args" in c
    ]
    assert ["appliance", "backup", "run", "--data", "/data"] in commands
    for args in commands:
        check_cli([a.replace("$(KONFERENCO_HUB_URL)", "https://hub.example") for a in args])


def test_the_hub_scales_and_survives_disruption() -> None:
    docs = {d["kind"]: d for p in _manifest_files("hub") for d in _docs(p)}
    deployment = docs["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    assert _pod(deployment)["topologySpreadConstraints"]
    assert docs["HorizontalPodAutoscaler"]["spec"]["minReplicas"] >= 2
    assert docs["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] >= 1
    cluster = docs["Cluster"]
    assert cluster["spec"]["instances"] == 3
    assert "barmanObjectStore" in cluster["spec"]["backup"]
    assert docs["ScheduledBackup"]["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
    # the hub reads its database URL from the Secret CNPG makes for the cluster's app user
    env = {e["name"]: e for e in _containers(deployment)[0]["env"]}
    ref = env["KONFERENCO_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": f"{cluster['metadata']['name']}-app", "key": "uri"}
    assert docs["Service"]["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("app", ["appliance", "hub"])
def test_kustomization_lists_every_file(app: str) -> None:
    kustomization = yamlio.load_one((K8S / app / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in _manifest_files(app))
    kubectl = shutil.which("kubectl") or shutil.which("kustomize")
    if kubectl is None:
        return
    cmd = [kubectl, "kustomize" if kubectl.endswith("kubectl") else "build", str(K8S / app)]
    built = yamlio.load_documents(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    expected = {(d["kind"], d["metadata"]["name"]) for p in _manifest_files(app) for d in _docs(p)}
    assert {(d["kind"], d["metadata"]["name"]) for d in built if d} == expected


@pytest.mark.parametrize(
    "venue_file", ["examples/venue.yaml", "../tests/talos/fixtures/venues/nuc-dhcp.yaml"]
)
def test_manifests_inlined_into_a_talos_config_validate(venue_file: str) -> None:
    versions = load_versions()
    venue = load_venue(ROOT / "talos" / venue_file, versions.hardware)
    generated = generate(venue, generate_secrets(), versions)
    inline = generated.documents[0]["cluster"]["inlineManifests"]
    kinds = []
    for manifest in inline:
        for doc in yamlio.load_documents(str(manifest["contents"])):
            validate(doc)
            kinds.append(doc["kind"])
    assert kinds[:3] == ["Namespace", "ConfigMap", "StatefulSet"]


def test_the_backup_sidecar_runs_only_with_a_replica_to_write_to() -> None:
    """`backup run` refuses to start without a replica URL: a venue without one gets no sidecar."""
    versions = load_versions()
    venue = load_venue(ROOT / "talos" / "examples" / "venue.yaml", versions.hardware)

    def pod_and_venue(v: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        inline = generate(v, generate_secrets(), versions).documents[0]["cluster"]["inlineManifests"]
        manifests = {m["name"]: yamlio.load_one(str(m["contents"])) for m in inline}
        return _pod(manifests["konferenco-appliance"]), manifests["konferenco-venue"]["data"]

    pod, data = pod_and_venue(venue)
    assert [c["name"] for c in pod["containers"]] == ["appliance"]
    assert "KONFERENCO_BACKUP_URL" not in data

    with_backup = dataclasses.replace(venue, backup_url="s3://venue-backups/venue-0042")
    pod, data = pod_and_venue(with_backup)
    assert [c["name"] for c in pod["containers"]] == ["appliance", "backup"]
    assert data["KONFERENCO_BACKUP_URL"] == "s3://venue-backups/venue-0042"
