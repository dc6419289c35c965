"""What a box needs to start on its own (enrolment token, backup replica) and the technician's way in."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from talos.config import yamlio
from talos.config.cli import config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "talos" / "examples" / "venue.yaml"
TOKEN = "ke1_" + "Zq8" * 14
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _venue(tmp_path: Path, **changes: str) -> Path:
    data = yamlio.load_one(EXAMPLE.read_text())
    data.update(changes)
    path = tmp_path / "venue.yaml"
    path.write_text(yamlio.dump_one(data))
    return path


def _secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _run(*args: str) -> Any:
    return CliRunner().invoke(config, list(args))  # the schemas shipped in talos/schemas


def _inline(out: Path) -> dict[str, Any]:
    docs = yamlio.load_documents((out / "controlplane.yaml").read_text())
    return {m["name"]: yamlio.load_one(str(m["contents"])) for m in docs[0]["cluster"]["inlineManifests"]}


def test_the_box_gets_its_enrolment_token_backup_and_credentials_as_secrets(tmp_path: Path) -> None:
    venue = _venue(tmp_path, backup_url="s3://venue-backups/venue-0042?endpoint=http://192.168.50.2:9000")
    token = _secret_file(tmp_path / "token", TOKEN + "\n")
    creds = _secret_file(tmp_path / "creds", f"access_key_id = venue0042\nsecret_access_key = {SECRET}\n")
    out = tmp_path / "out"
    result = _run(
        "--venue", str(venue), "--out", str(out),
        "--enrolment-token-file", str(token), "--backup-credentials-file", str(creds),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the box enrols itself with the hub at its first start" in result.output
    assert "backup      s3://venue-backups/venue-0042" in result.output
    assert TOKEN not in result.output and SECRET not in result.output

    manifests = _inline(out)
    assert manifests["konferenco-enrolment"]["stringData"] == {"KONFERENCO_ENROL_TOKEN": TOKEN}
    assert manifests["konferenco-backup"]["stringData"] == {
        "AWS_ACCESS_KEY_ID": "venue0042",
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    assert manifests["konferenco-venue"]["data"]["KONFERENCO_BACKUP_URL"].startswith("s3://venue-backups/")
    pod = manifests["konferenco-appliance"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["appliance", "backup"]
    # the pod reads exactly these Secrets, and may start without them
    provision = next(c for c in pod["initContainers"] if c["name"] == "provision")
    refs = {
        e["secretRef"]["name"]: e["secretRef"].get("optional")
        for e in provision["envFrom"]
        if "secretRef" in e
    }
    assert refs == {"konferenco-enrolment": True, "konferenco-backup": True}


def test_the_technicians_kubeconfig_is_written_private(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run("--venue", str(EXAMPLE), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "group konferenco:technicians" in result.output
    assert "no --enrolment-token-file: the box cannot enrol itself" in result.output
    kubeconfig = out / "kubeconfig"
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    loaded = yamlio.load_one(kubeconfig.read_text())
    assert loaded["clusters"][0]["cluster"]["server"] == "https://192.168.50.10:6443"
    assert "konferenco-enrolment" not in _inline(out)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://bucket.example/x", "must be s3://BUCKET/PREFIX"),
        ("s3://key:secret@bucket/x", "holds credentials"),
        ("file://backup/x", "a file replica is file:///ABSOLUTE/PATH"),
        ("s3:///prefix", "names no bucket"),
    ],
)
def test_a_wrong_backup_url_is_refused_at_hq_naming_the_field(tmp_path: Path, url: str, message: str) -> None:
    out = tmp_path / "out"
    result = _run("--venue", str(_venue(tmp_path, backup_url=url)), "--out", str(out))
    assert result.exit_code == 1
    assert "backup_url" in result.output and message in result.output
    assert not out.exists()


def test_secret_files_are_checked_and_never_quoted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    loose = _secret_file(tmp_path / "token", TOKEN, mode=0o644)
    result = _run("--venue", str(EXAMPLE), "--out", str(out), "--enrolment-token-file", str(loose))
    assert result.exit_code == 1 and "chmod 600" in result.output

    wrong = _secret_file(tmp_path / "token2", "kt1_notanenrolmenttoken")
    result = _run("--venue", str(EXAMPLE), "--out", str(out), "--enrolment-token-file", str(wrong))
    assert result.exit_code == 1 and "not an enrolment token" in result.output
    assert "kt1_notanenrolmenttoken" not in result.output

    creds = _secret_file(tmp_path / "creds", f"secret_access_key = {SECRET}\n")
    venue = _venue(tmp_path, backup_url="s3://venue-backups/venue-0042")
    result = _run("--venue", str(venue), "--out", str(out), "--backup-credentials-file", str(creds))
    assert result.exit_code == 1 and "no access_key_id" in result.output
    assert SECRET not in result.output
    assert not out.exists()

    # credentials without an S3 replica to use them on are a mistake, not something to carry
    result = _run("--venue", str(EXAMPLE), "--out", str(out), "--backup-credentials-file", str(creds))
    assert result.exit_code == 1 and "is for an s3:// backup_url" in result.output
