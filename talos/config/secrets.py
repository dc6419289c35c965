"""The box's PKI and tokens (``secrets.yaml``) and the technician's ``talosconfig``.

Shapes follow ``talosctl gen secrets`` (research section 6, Talos ``secrets/testdata/secrets.yaml``):
base64 PEM, the Talos API CA in Ed25519 with the ``ED25519 PRIVATE KEY`` PEM type, the Kubernetes
and etcd CAs in ECDSA P-256 (``EC PRIVATE KEY``), CAs valid 10 years. Whether Talos accepts PKI made
here can only be proven on a real node (docs/talos-config.md).

Nothing in this module prints or logs a secret; files are written with mode 0600.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
import string
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from talos.config import yamlio

CA_LIFETIME = dt.timedelta(hours=87600)
CLIENT_LIFETIME = dt.timedelta(days=365)
OPERATOR_ROLE = "os:operator"
ADMIN_ROLE = "os:admin"  # HQ only; bootstrap needs it (Talos RBAC: MachineService/Bootstrap is admin-only)
_TOKEN_ALPHABET = string.ascii_lowercase + string.digits

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


class SecretsError(ValueError):
    """An existing secrets.yaml that does not have the shape we need."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _token() -> str:
    """A kubeadm-style ``abcdef.0123456789abcdef`` token, as Talos generates."""
    pick = secrets.choice
    return (
        "".join(pick(_TOKEN_ALPHABET) for _ in range(6))
        + "."
        + "".join(pick(_TOKEN_ALPHABET) for _ in range(16))
    )


def _key_pem(key: PrivateKey) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        body = base64.encodebytes(der).decode().replace("\n", "")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return (
            "-----BEGIN ED25519 PRIVATE KEY-----\n"
            + "\n".join(lines)
            + "\n-----END ED25519 PRIVATE KEY-----\n"
        ).encode()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def load_key_pem(pem: bytes) -> PrivateKey:
    """Read a key written by ``_key_pem`` (the Ed25519 PEM type is Talos's own, so rewrite it first)."""
    fixed = pem.replace(b"ED25519 PRIVATE KEY", b"PRIVATE KEY")
    key = serialization.load_pem_private_key(fixed, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
        raise SecretsError("unexpected key type")
    return key


def _name(org: str | None, common: str | None = None) -> x509.Name:
    attrs = []
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if common:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common))
    return x509.Name(attrs)


def _sign_alg(key: PrivateKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _ca(org: str | None, key: PrivateKey, now: dt.datetime) -> dict[str, str]:
    name = _name(org)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _sign_alg(key))
    )
    return {"crt": _b64(cert.public_bytes(serialization.Encoding.PEM)), "key": _b64(_key_pem(key))}


def generate_secrets(now: dt.datetime | None = None) -> dict[str, Any]:
    """A fresh secrets bundle in the ``talosctl gen secrets`` layout."""
    now = now or dt.datetime.now(dt.UTC)
    p256 = ec.SECP256R1()
    return {
        "cluster": {
            "id": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "secret": _b64(os.urandom(32)),
        },
        "secrets": {"bootstraptoken": _token(), "secretboxencryptionsecret": _b64(os.urandom(32))},
        "trustdinfo": {"token": _token()},
        "certs": {
            "etcd": _ca("etcd", ec.generate_private_key(p256), now),
            "k8s": _ca("kubernetes", ec.generate_private_key(p256), now),
            "k8saggregator": _ca(None, ec.generate_private_key(p256), now),
            "k8sserviceaccount": {"key": _b64(_key_pem(ec.generate_private_key(p256)))},
            "os": _ca("talos", ed25519.Ed25519PrivateKey.generate(), now),
        },
    }


_REQUIRED = {
    "cluster": ("id", "secret"),
    "secrets": ("bootstraptoken", "secretboxencryptionsecret"),
    "trustdinfo": ("token",),
}
_CERTS = {
    "etcd": ("crt", "key"),
    "k8s": ("crt", "key"),
    "k8saggregator": ("crt", "key"),
    "k8sserviceaccount": ("key",),
    "os": ("crt", "key"),
}


def check_secrets(data: Any) -> dict[str, Any]:
    """Refuse a secrets file that lacks a field (names the field, never its value)."""
    if not isinstance(data, dict):
        raise SecretsError("secrets.yaml: not a mapping")
    for section, keys in _REQUIRED.items():
        for key in keys:
            if not isinstance((data.get(section) or {}).get(key), str):
                raise SecretsError(f"secrets.yaml: {section}.{key} is missing")
    for cert, keys in _CERTS.items():
        for key in keys:
            if not isinstance(((data.get("certs") or {}).get(cert) or {}).get(key), str):
                raise SecretsError(f"secrets.yaml: certs.{cert}.{key} is missing")
    return data


def write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable, not even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def load_secrets(path: Path) -> dict[str, Any]:
    """Read a secrets file; a parse error names the line only (ruamel would quote the secret)."""
    try:
        data = yamlio.load_one(path.read_text(encoding="utf-8"))
    except yamlio.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" near line {mark.line + 1}" if mark is not None else ""
        raise SecretsError(f"{path.name}: not valid YAML{line}") from None
    return check_secrets(data)


def client_certificate(
    ca: dict[str, str],
    key: PrivateKey,
    subject: x509.Name,
    now: dt.datetime | None,
    lifetime: dt.timedelta,
) -> x509.Certificate:
    """A client certificate for KEY, signed by CA (``{"crt", "key"}`` as in secrets.yaml).

    Valid from five minutes ago (a laptop's clock a little behind the box's) for LIFETIME; the
    API servers read the role or group from the subject's O= and the user from CN=.
    """
    now = now or dt.datetime.now(dt.UTC)
    ca_cert = x509.load_pem_x509_certificate(base64.b64decode(ca["crt"]))
    ca_key = load_key_pem(base64.b64decode(ca["key"]))
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, _sign_alg(ca_key))
    )


def talosconfig(
    context: str,
    endpoint: str,
    bundle: dict[str, Any],
    role: str = OPERATOR_ROLE,
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = CLIENT_LIFETIME,
) -> dict[str, Any]:
    """A client config whose certificate carries ``role`` in O=, signed by the box's Talos API CA."""
    os_ca = bundle["certs"]["os"]
    key = ed25519.Ed25519PrivateKey.generate()
    cert = client_certificate(os_ca, key, _name(role, common=f"technician@{context}"), now, lifetime)
    return {
        "context": context,
        "contexts": {
            context: {
                "endpoints": [endpoint],
                "nodes": [endpoint],
                "ca": os_ca["crt"],
                "crt": _b64(cert.public_bytes(serialization.Encoding.PEM)),
                "key": _b64(_key_pem(key)),
            }
        },
    }
