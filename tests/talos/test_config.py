"""`konferenco talos config`: venue matrix, schema + semantic validation, refusals, secrets handling."""

from __future__ import annotations

import base64
import copy
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509

from talos.config import yamlio
from talos.config.cli import config, validate
from talos.config.generate import APPDATA_PATH, generate
from talos.config.secrets import generate_secrets
from talos.config.validate import validate_text
from talos.config.venue import VenueError, load_venue
from talos.config.versions import load_versions, schema_path

SCHEMA_DIR = Path(__file__).parents[3] / "shared" / "talos-schema"
VENUES = Path(__file__).parent / "fixtures" / "venues"
EXAMPLE = Path(__file__).parents[2] / "talos" / "examples" / "venue.yaml"
MATRIX = [*sorted(VENUES.glob("*.yaml")), EXAMPLE]
VERSIONS = load_versions()
V113 = schema_path(VERSIONS.release("v1.13.9"), SCHEMA_DIR)
V114 = schema_path(VERSIONS.release("v1.14.0-rc.1"), SCHEMA_DIR)


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return generate_secrets()


def _run(venue: Path, out: Path) -> Any:
    return CliRunner().invoke(
        config, ["--venue", str(venue), "--out", str(out), "--schema-dir", str(SCHEMA_DIR)]
    )


def _docs(venue_file: Path, bundle: dict[str, Any]) -> tuple[list[Any], str, bool]:
    venue = load_venue(venue_file, VERSIONS.hardware)
    generated = generate(venue, bundle, VERSIONS)
    installed = not VERSIONS.hardware[venue.hardware]["install_disk_selector"]
    return generated.documents, generated.text, installed


@pytest.mark.parametrize("venue_file", MATRIX, ids=lambda p: p.stem)
def test_matrix_output_validates_against_the_real_schema(venue_file: Path, bundle: dict[str, Any]) -> None:
    docs, text, installed = _docs(venue_file, bundle)
    assert validate_text(text, V113, installed=installed) == []
    kinds = [d.get("kind", "v1alpha1") for d in docs]
    assert kinds.count("VolumeConfig") == 3 and "UserVolumeConfig" in kinds and "HostnameConfig" in kinds
    # deprecated v1alpha1 fields are never generated (the schema refuses them)
    assert not {"network", "time", "registries", "systemDiskEncryption"} & set(docs[0]["machine"])


def test_matrix_covers_the_cases() -> None:
    venues = [load_venue(p, VERSIONS.hardware) for p in MATRIX]
    assert {v.hardware for v in venues} == {"nuc-amd64", "rpi5-arm64"}
    assert {v.network.mode for v in venues} == {"dhcp", "static"}
    assert {(v.network.mode, v.network.vlan is not None) for v in venues} >= {
        ("dhcp", True),
        ("static", True),
    }
    assert {r for v in venues for r in v.roles} == {"checkin", "printing", "readers", "signage"}


def test_nuc_state_and_ephemeral_are_bound_to_the_tpm(bundle: dict[str, Any]) -> None:
    docs, _, _ = _docs(VENUES / "nuc-static.yaml", bundle)
    volumes = {d["name"]: d for d in docs if d.get("kind") in ("VolumeConfig", "UserVolumeConfig")}
    for name in ("STATE", "EPHEMERAL", "appdata"):
        assert volumes[name]["encryption"]["keys"][0]["tpm"] == {}
    assert volumes["EPHEMERAL"]["encryption"]["keys"][0]["lockToState"] is True
    main = docs[0]
    assert main["machine"]["install"]["diskSelector"] == {"type": "nvme"}
    assert main["machine"]["features"]["imageCache"]["localEnabled"] is True
    mirrors = {d["name"] for d in docs if d.get("kind") == "RegistryMirrorConfig"}
    assert mirrors == {"ghcr.io", "docker.io"}


def test_pi_without_tpm_uses_node_id_keys_only_when_asked(bundle: dict[str, Any]) -> None:
    docs, _, _ = _docs(VENUES / "rpi5-static-vlan.yaml", bundle)
    volumes = [d for d in docs if d.get("kind") in ("VolumeConfig", "UserVolumeConfig") and "encryption" in d]
    assert len(volumes) == 3
    assert all(
        v["encryption"]["keys"][0]
        == {"slot": 0, "nodeID": {}} | ({"lockToState": True} if v["name"] != "STATE" else {})
        for v in volumes
    )
    assert "diskSelector" not in docs[0]["machine"]["install"]


def test_workloads_follow_the_roles(bundle: dict[str, Any]) -> None:
    docs, _, _ = _docs(VENUES / "nuc-dhcp.yaml", bundle)
    names = [m["name"] for m in docs[0]["cluster"]["inlineManifests"]]
    assert names == [
        "konferenco-namespace",
        "konferenco-venue",
        "konferenco-appliance",
        "konferenco-technician-role",
        "konferenco-technician-rolebinding",
    ]
    manifests = {m["name"]: yamlio.load_one(m["contents"]) for m in docs[0]["cluster"]["inlineManifests"]}
    assert "/dev/bus/usb" not in docs[0]["cluster"]["inlineManifests"][2]["contents"]
    for container in manifests["konferenco-appliance"]["spec"]["template"]["spec"]["containers"]:
        assert not container["securityContext"].get("privileged", False)
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    docs, _, _ = _docs(VENUES / "rpi5-dhcp.yaml", bundle)
    inline = docs[0]["cluster"]["inlineManifests"]
    manifests = {m["name"]: yamlio.load_one(m["contents"]) for m in inline}
    assert "konferenco-signage-mqtt" in manifests
    pod = manifests["konferenco-appliance"]["spec"]["template"]["spec"]
    assert pod["hostNetwork"] is True
    assert {"name": "usb", "hostPath": {"path": "/dev/bus/usb", "type": "Directory"}} in pod["volumes"]
    assert {
        "name": "data",
        "hostPath": {"path": f"{APPDATA_PATH}/appliance", "type": "DirectoryOrCreate"},
    } in pod["volumes"]
    ns = manifests["konferenco-namespace"]["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "privileged"
    # the venue's values reach the pod through the generated ConfigMap, the files stay as they are
    venue = manifests["konferenco-venue"]
    assert venue["kind"] == "ConfigMap" and venue["metadata"]["namespace"] == "konferenco"
    assert venue["data"]["KONFERENCO_HUB_URL"].startswith("http")
    assert "# images/k8s/appliance/appliance.yaml as generated for this venue" in inline[2]["contents"]
    assert "install" not in docs[0]["machine"] or "diskSelector" not in docs[0]["machine"]["install"]


def test_cli_writes_private_files_and_never_prints_secrets(tmp_path: Path) -> None:
    result = _run(EXAMPLE, tmp_path / "out")
    assert result.exit_code == 0, result.output
    for name in ("controlplane.yaml", "talosconfig", "talosconfig-admin", "secrets.yaml"):
        assert stat.S_IMODE((tmp_path / "out" / name).stat().st_mode) == 0o600
    secrets = yamlio.load_one((tmp_path / "out" / "secrets.yaml").read_text())
    for value in (
        secrets["cluster"]["secret"],
        secrets["certs"]["os"]["key"],
        secrets["secrets"]["bootstraptoken"],
    ):
        assert value not in result.output
    assert "validated   10 documents" in result.output
    # a second run reuses the secrets: the same PKI, so the box need not be re-provisioned
    again = _run(EXAMPLE, tmp_path / "out")
    assert "reused" in again.output
    assert yamlio.load_one((tmp_path / "out" / "secrets.yaml").read_text()) == secrets


def _roles(path: Path) -> list[str]:
    ctx = yamlio.load_one(path.read_text())["contexts"]["venue-0042"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(ctx["crt"]))
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)]


def test_talosconfig_is_operator_not_admin(tmp_path: Path) -> None:
    assert _run(EXAMPLE, tmp_path).exit_code == 0
    talosconfig = yamlio.load_one((tmp_path / "talosconfig").read_text())
    ctx = talosconfig["contexts"]["venue-0042"]
    assert ctx["endpoints"] == ["192.168.50.10"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(ctx["crt"]))
    assert _roles(tmp_path / "talosconfig") == ["os:operator"]
    assert _roles(tmp_path / "talosconfig-admin") == ["os:admin"]  # HQ's, never bundled
    ca = x509.load_pem_x509_certificate(base64.b64decode(ctx["ca"]))
    cert.verify_directly_issued_by(ca)
    assert b"ED25519 PRIVATE KEY" in base64.b64decode(ctx["key"])


def test_secrets_have_the_talos_shapes(bundle: dict[str, Any]) -> None:
    certs = bundle["certs"]
    assert set(certs) == {"etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"}
    assert base64.b64decode(certs["os"]["key"]).startswith(b"-----BEGIN ED25519 PRIVATE KEY-----")
    assert base64.b64decode(certs["k8s"]["key"]).startswith(b"-----BEGIN EC PRIVATE KEY-----")
    ca = x509.load_pem_x509_certificate(base64.b64decode(certs["etcd"]["crt"]))
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days == 3650
    assert len(bundle["secrets"]["bootstraptoken"]) == 23


BAD_VENUES = [
    ({"venue": "Hall A"}, "venue"),
    ({"hardware": "pi4"}, "hardware"),
    (
        {
            "network": {
                "mode": "static",
                "interface": "eno1",
                "address": "10.0.0.5/24",
                "gateway": "10.9.0.1",
                "dns": ["10.0.0.1"],
            }
        },
        "network.gateway",
    ),
    ({"network": {"mode": "dhcp"}}, "network.reserved_address"),
    (
        {"network": {"mode": "dhcp", "reserved_address": "10.0.0.5", "vlan": 5000, "interface": "eno1"}},
        "network.vlan",
    ),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"hub_url": "http://hub.example.org"}, "hub_url"),
    ({"roles": ["printing"]}, "roles"),
    ({"roles": ["checkin", "coffee"]}, "roles"),
    ({"hardware": "rpi5-arm64"}, "disk_encryption"),
    ({"colour": "blue"}, "colour"),
    ({"ntp": []}, "ntp"),
]


@pytest.mark.parametrize(("change", "field"), BAD_VENUES, ids=[f for _, f in BAD_VENUES])
def test_bad_venue_is_refused_naming_the_field_and_nothing_is_written(
    tmp_path: Path, change: dict[str, Any], field: str
) -> None:
    data = yamlio.load_one((VENUES / "nuc-dhcp.yaml").read_text())
    data.update(change)
    venue_file = tmp_path / "venue.yaml"
    venue_file.write_text(yamlio.dump_one(data))
    with pytest.raises(VenueError) as err:
        load_venue(venue_file, VERSIONS.hardware)
    assert err.value.field == field
    result = _run(venue_file, tmp_path / "out")
    assert result.exit_code == 1
    assert f"{field}:" in result.output
    assert not (tmp_path / "out").exists()


def _problems(docs: list[Any], installed: bool = False) -> list[str]:
    return [str(p) for p in validate_text(yamlio.dump_documents(docs), V113, installed=installed)]


def test_broken_configs_are_refused_with_the_reason(bundle: dict[str, Any]) -> None:
    docs, _, _ = _docs(VENUES / "nuc-static.yaml", bundle)
    wrong_type = copy.deepcopy(docs)
    wrong_type[0]["cluster"]["allowSchedulingOnControlPlanes"] = "yes"
    assert any(
        "allowSchedulingOnControlPlanes" in p and "not of type 'boolean'" in p for p in _problems(wrong_type)
    )
    unknown = copy.deepcopy(docs)
    unknown[0]["machine"]["network"] = {"hostname": "x"}  # deprecated in v1.13: left out of the schema
    assert any("'network' was unexpected" in p for p in _problems(unknown))
    no_disk = copy.deepcopy(docs)
    del no_disk[0]["machine"]["install"]["diskSelector"]
    assert any("machine.install" in p and "ISO" in p for p in _problems(no_disk))
    assert _problems(no_disk, installed=True) == []
    hostname = copy.deepcopy(docs)
    hostname[1]["auto"] = "stable"
    assert any("auto: stable conflicts with hostname" in p for p in _problems(hostname))
    no_key = copy.deepcopy(docs)
    del no_key[0]["machine"]["ca"]["key"]
    assert any("machine.ca" in p for p in _problems(no_key))
    bad_gw = copy.deepcopy(docs)
    bad_gw[2]["routes"] = [{"gateway": "10.1.1.1"}]
    assert any("not on the link's networks" in p for p in _problems(bad_gw))


def test_yaml_1_2_is_how_talos_reads_it(bundle: dict[str, Any]) -> None:
    """`auto: off` stays a string (PyYAML would make it False and fail the enum)."""
    docs, _, _ = _docs(VENUES / "nuc-dhcp.yaml", bundle)
    text = yamlio.dump_documents(docs).replace("hostname: hall-a", "auto: off")
    assert validate_text(text, V113, installed=False) == []


def test_v1_14_schema_refuses_the_v1_13_template(bundle: dict[str, Any]) -> None:
    """The move to v1.14 needs its own template (research section 1): the validator says so."""
    _, text, _ = _docs(VENUES / "nuc-dhcp.yaml", bundle)
    problems = [str(p) for p in validate_text(text, V114, installed=False)]
    assert any("inlineManifests" in p or "was unexpected" in p for p in problems)


def test_validate_command(tmp_path: Path) -> None:
    assert _run(EXAMPLE, tmp_path).exit_code == 0
    runner = CliRunner()
    args = [str(tmp_path / "controlplane.yaml"), "--schema-dir", str(SCHEMA_DIR)]
    ok = runner.invoke(validate, args)
    assert ok.exit_code == 0 and "valid for Talos v1.13.9" in ok.output
    bad = runner.invoke(validate, [*args, "--talos", "v1.14.0-rc.1"])
    assert bad.exit_code == 1 and "problem(s) for Talos v1.14.0-rc.1" in bad.output
    missing = runner.invoke(validate, [*args[:1], "--schema-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "schema is not at" in missing.output


def test_broken_secrets_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    secret_line = "  secret: s3cr3t-value-that-must-not-leak: ["
    (tmp_path / "secrets.yaml").write_text("cluster:\n" + secret_line + "\n")
    result = _run(EXAMPLE, tmp_path)
    assert result.exit_code == 1
    assert "secrets.yaml: not valid YAML" in result.output
    assert "s3cr3t" not in result.output
    assert not (tmp_path / "controlplane.yaml").exists()
    (tmp_path / "secrets.yaml").write_text("cluster: {id: a, secret: b}\n")
    result = _run(EXAMPLE, tmp_path)
    assert result.exit_code == 1 and "secrets.yaml: secrets.bootstraptoken is missing" in result.output


@pytest.mark.parametrize(
    ("version", "reason"),
    [("v1.14.0-rc.1", "has no generator template yet"), ("v1.12.0", "is not pinned in talos/versions.yaml")],
)
def test_unpinned_or_untemplated_talos_version_is_refused(tmp_path: Path, version: str, reason: str) -> None:
    venue_file = tmp_path / "venue.yaml"
    venue_file.write_text(EXAMPLE.read_text() + f"talos: {version}\n")
    result = _run(venue_file, tmp_path / "out")
    assert result.exit_code == 1 and reason in result.output
    assert not (tmp_path / "out").exists()


def test_the_schemas_ship_with_the_tools_and_match_their_pins() -> None:
    """HQ and a technician's laptop have no ../shared: the pinned schemas are in talos/schemas."""
    for version in ("v1.13.9", "v1.14.0-rc.1"):
        shipped = schema_path(VERSIONS.release(version))  # the sha256 pin is checked here
        assert shipped.is_relative_to(Path(__file__).parents[2] / "talos" / "schemas")
        assert shipped.read_bytes() == schema_path(VERSIONS.release(version), SCHEMA_DIR).read_bytes()
