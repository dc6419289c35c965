"""`konferenco talos bundle` / `verify`: signed per-venue bundle; tampering is refused with the reason."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import stat
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from talos.config import yamlio
from talos.config.cli import bundle, config, signing_key, verify

SCHEMA_DIR = Path(__file__).parents[3] / "shared" / "talos-schema"
EXAMPLE = Path(__file__).parents[2] / "talos" / "examples" / "venue.yaml"


@pytest.fixture(scope="module")
def hq(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HQ's desk: a signing key, a generated config and a signed bundle."""
    root = tmp_path_factory.mktemp("hq")
    runner = CliRunner()
    keys = runner.invoke(signing_key, ["--out", str(root / "hq-signing")])
    assert keys.exit_code == 0, keys.output
    assert "fingerprint ed25519:" in keys.output
    made = runner.invoke(
        config, ["--venue", str(EXAMPLE), "--out", str(root / "cfg"), "--schema-dir", str(SCHEMA_DIR)]
    )
    assert made.exit_code == 0, made.output
    args = [
        "--venue",
        str(EXAMPLE),
        "--config-dir",
        str(root / "cfg"),
        "--signing-key",
        str(root / "hq-signing.key"),
    ]
    built = runner.invoke(
        bundle, [*args, "--out", str(root / "venue-0042.bundle.tar"), "--schema-dir", str(SCHEMA_DIR)]
    )
    assert built.exit_code == 0, built.output
    assert "no pinned sha256 yet" in built.output
    return root


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def _rewrite(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _verify(bundle_file: Path, pub: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(verify, [str(bundle_file), "--public-key", str(pub), *extra])
    return result.exit_code, result.output


def test_bundle_contents_and_manifest(hq: Path) -> None:
    path = hq / "venue-0042.bundle.tar"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((hq / "hq-signing.key").stat().st_mode) == 0o600
    members = _members(path)
    assert set(members) == {
        "manifest.json",
        "manifest.sig",
        "controlplane.yaml",
        "talosconfig",
        "kubeconfig",
        "CHECKLIST.md",
    }
    assert "secrets.yaml" not in members and "talosconfig-admin" not in members
    manifest = json.loads(members["manifest.json"])
    assert manifest["venue"] == "venue-0042" and manifest["talos"] == "v1.13.9"
    assert manifest["boot_image"]["file"] == "metal-amd64.iso" and manifest["boot_image"]["sha256"] is None
    assert manifest["installer"].endswith(manifest["schematic_id"] + ":v1.13.9")
    assert members["controlplane.yaml"] == (hq / "cfg" / "controlplane.yaml").read_bytes()
    checklist = members["CHECKLIST.md"].decode()
    assert "NOT PINNED" in checklist and "talosctl apply-config --insecure" in checklist
    # no admin credential travels by default: bootstrap is HQ's call
    assert manifest["bootstrap_admin_until"] is None
    assert "Call HQ" in checklist and "talosconfig-bootstrap" not in members
    # the technician's way into the appliance's pod, and the book that uses it
    assert members["kubeconfig"] == (hq / "cfg" / "kubeconfig").read_bytes()
    assert "docs/venue-day-one.md" in checklist


def test_verify_accepts_the_signed_bundle_and_extracts(hq: Path, tmp_path: Path) -> None:
    code, output = _verify(
        hq / "venue-0042.bundle.tar", hq / "hq-signing.pub", "--extract", str(tmp_path / "x")
    )
    assert code == 0, output
    assert "✔ verified" in output and "venue-0042" in output
    assert (tmp_path / "x" / "talosconfig").read_bytes() == (hq / "cfg" / "talosconfig").read_bytes()
    assert stat.S_IMODE((tmp_path / "x" / "controlplane.yaml").stat().st_mode) == 0o600


def test_tampered_file_is_refused(hq: Path, tmp_path: Path) -> None:
    members = _members(hq / "venue-0042.bundle.tar")
    members["controlplane.yaml"] = members["controlplane.yaml"].replace(b"192.168.50.10", b"192.168.50.66")
    bad = tmp_path / "bad.tar"
    _rewrite(bad, members)
    code, output = _verify(bad, hq / "hq-signing.pub", "--extract", str(tmp_path / "x"))
    assert code == 1
    assert "controlplane.yaml does not match its sha256" in output
    assert not (tmp_path / "x").exists()


def test_tampered_manifest_is_refused(hq: Path, tmp_path: Path) -> None:
    members = _members(hq / "venue-0042.bundle.tar")
    manifest = json.loads(members["manifest.json"])
    manifest["boot_image"]["sha256"] = "0" * 64
    members["manifest.json"] = json.dumps(manifest).encode()
    bad = tmp_path / "bad.tar"
    _rewrite(bad, members)
    code, output = _verify(bad, hq / "hq-signing.pub")
    assert code == 1 and "signature does not match" in output


def test_added_or_missing_files_are_refused(hq: Path, tmp_path: Path) -> None:
    members = _members(hq / "venue-0042.bundle.tar")
    added = tmp_path / "added.tar"
    _rewrite(added, {**members, "run-me.sh": b"rm -rf /"})
    code, output = _verify(added, hq / "hq-signing.pub")
    assert code == 1 and "run-me.sh is in the bundle but not in the signed manifest" in output
    missing = tmp_path / "missing.tar"
    _rewrite(missing, {k: v for k, v in members.items() if k != "talosconfig"})
    code, output = _verify(missing, hq / "hq-signing.pub")
    assert code == 1 and "talosconfig is listed in the manifest but missing" in output


def test_another_key_is_refused(hq: Path, tmp_path: Path) -> None:
    assert CliRunner().invoke(signing_key, ["--out", str(tmp_path / "other")]).exit_code == 0
    code, output = _verify(hq / "venue-0042.bundle.tar", tmp_path / "other.pub")
    assert code == 1 and "signature does not match" in output


def test_signing_key_is_never_replaced(hq: Path) -> None:
    result = CliRunner().invoke(signing_key, ["--out", str(hq / "hq-signing")])
    assert result.exit_code == 1 and "refusing to replace" in result.output


def test_bundle_refuses_an_invalid_config(hq: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    text = (
        (hq / "cfg" / "controlplane.yaml")
        .read_text()
        .replace("allowSchedulingOnControlPlanes: true", "allowSchedulingOnControlPlanes: 3")
    )
    (cfg / "controlplane.yaml").write_text(text)
    (cfg / "talosconfig").write_bytes((hq / "cfg" / "talosconfig").read_bytes())
    out = tmp_path / "b.tar"
    args = ["--venue", str(EXAMPLE), "--config-dir", str(cfg), "--signing-key", str(hq / "hq-signing.key")]
    result = CliRunner().invoke(bundle, [*args, "--out", str(out), "--schema-dir", str(SCHEMA_DIR)])
    assert result.exit_code == 1
    assert "allowSchedulingOnControlPlanes" in result.output
    assert not out.exists()


def test_bootstrap_admin_config_is_short_lived_and_signed(hq: Path, tmp_path: Path) -> None:
    args = ["--venue", str(EXAMPLE), "--config-dir", str(hq / "cfg"), "--schema-dir", str(SCHEMA_DIR)]
    args += ["--signing-key", str(hq / "hq-signing.key"), "--bootstrap-hours", "6"]
    refused = CliRunner().invoke(bundle, [*args, "--out", str(tmp_path / "a.tar")])
    assert refused.exit_code == 1 and "needs --secrets" in refused.output
    assert not (tmp_path / "a.tar").exists()
    args += ["--secrets", str(hq / "cfg" / "secrets.yaml"), "--out", str(tmp_path / "b.tar")]
    built = CliRunner().invoke(bundle, args)
    assert built.exit_code == 0, built.output
    assert _verify(tmp_path / "b.tar", hq / "hq-signing.pub")[0] == 0
    members = _members(tmp_path / "b.tar")
    manifest = json.loads(members["manifest.json"])
    until = dt.datetime.fromisoformat(manifest["bootstrap_admin_until"])
    ctx = yamlio.load_one(members["talosconfig-bootstrap"].decode())["contexts"]["venue-0042"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(ctx["crt"]))
    assert abs((cert.not_valid_after_utc - until).total_seconds()) < 2
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) <= dt.timedelta(hours=6, minutes=5)
    org = cert.subject.get_attributes_for_oid(x509.oid.NameOID.ORGANIZATION_NAME)[0].value
    assert org == "os:admin"
    assert "talosconfig-bootstrap bootstrap" in members["CHECKLIST.md"].decode()


def test_bundle_refuses_another_venues_config(hq: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(EXAMPLE.read_text().replace("venue: venue-0042", "venue: venue-0043"))
    args = ["--venue", str(other), "--config-dir", str(hq / "cfg"), "--schema-dir", str(SCHEMA_DIR)]
    args += ["--signing-key", str(hq / "hq-signing.key"), "--out", str(tmp_path / "b.tar")]
    result = CliRunner().invoke(bundle, args)
    assert result.exit_code == 1 and "is for 'venue-0042'" in result.output
    assert not (tmp_path / "b.tar").exists()
