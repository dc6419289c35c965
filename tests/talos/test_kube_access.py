"""The technician's kubeconfig: signed by the box's Kubernetes CA, limited to the appliance's pods."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import kubernetes_validate
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from talos.config import yamlio
from talos.config.kube_access import TECHNICIAN_GROUP, technician_kubeconfig
from talos.config.secrets import generate_secrets

#: Talos v1.13 runs Kubernetes 1.36 (kubernetes-validate ships its schemas).
KUBERNETES = "1.36.0"


@pytest.fixture(scope="module")
def secrets() -> dict:
    return generate_secrets()


def _cert(data: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(base64.b64decode(data))


def test_the_client_certificate_is_the_technicians_group_and_the_api_server_would_trust_it(secrets) -> None:
    config = technician_kubeconfig("venue-0042", "https://192.168.50.10:6443", secrets)
    user = config["users"][0]["user"]
    cert = _cert(user["client-certificate-data"])
    ca = _cert(secrets["certs"]["k8s"]["crt"])

    assert cert.issuer == ca.subject
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    cert.verify_directly_issued_by(ca)  # raises if the signature is not the CA's
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == TECHNICIAN_GROUP
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "technician@venue-0042"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_the_certificate_lives_thirty_days_not_a_year(secrets) -> None:
    now = dt.datetime(2026, 12, 8, tzinfo=dt.UTC)
    config = technician_kubeconfig("venue-0042", "https://192.168.50.10:6443", secrets, now=now)
    cert = _cert(config["users"][0]["user"]["client-certificate-data"])
    assert cert.not_valid_after_utc - now == dt.timedelta(days=30)


def test_the_kubeconfig_points_at_the_box_and_trusts_only_its_ca(secrets) -> None:
    config = technician_kubeconfig("venue-0042", "https://192.168.50.10:6443", secrets)
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://192.168.50.10:6443"
    assert cluster["certificate-authority-data"] == secrets["certs"]["k8s"]["crt"]
    assert config["contexts"][0]["context"]["namespace"] == "konferenco"
    assert config["current-context"] == config["contexts"][0]["name"]
    # the CA's private key never leaves secrets.yaml
    assert secrets["certs"]["k8s"]["key"] not in str(config)


def test_two_kubeconfigs_have_their_own_keys(secrets) -> None:
    one = technician_kubeconfig("venue-0042", "https://192.168.50.10:6443", secrets)
    two = technician_kubeconfig("venue-0042", "https://192.168.50.10:6443", secrets)
    assert one["users"][0]["user"]["client-key-data"] != two["users"][0]["user"]["client-key-data"]


def test_the_role_allows_exec_logs_and_restart_in_one_namespace_and_no_secrets() -> None:
    k8s = Path(__file__).resolve().parents[2] / "images" / "k8s" / "appliance"
    role = yamlio.load_one((k8s / "technician-role.yaml").read_text())
    binding = yamlio.load_one((k8s / "technician-rolebinding.yaml").read_text())
    for manifest in (role, binding):
        kubernetes_validate.validate(manifest, KUBERNETES, strict=True)
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == "konferenco"
    granted = {(r, v) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}
    assert ("pods/exec", "create") in granted and ("pods/log", "get") in granted
    assert ("pods", "delete") in granted
    assert not any(r in ("secrets", "*") or v == "*" for r, v in granted)
    assert [dict(s) for s in binding["subjects"]] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": TECHNICIAN_GROUP}
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
