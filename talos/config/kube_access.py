"""The technician's way into the appliance's pod: a kubeconfig limited to what day one needs.

The technician's ``talosconfig`` is ``os:operator``: it can reboot and read health, but Talos has no
"run this in a container" call, and the appliance's own first steps (the first staff account, a
kiosk pairing code, a printer, ``backup status``) are ``konferenco appliance …`` commands run inside
its pod.  So HQ also gives a Kubernetes client certificate, signed by the box's own Kubernetes CA
(``secrets.yaml``), whose group ``konferenco:technicians`` is bound to one ``Role`` in the
``konferenco`` namespace (``images/k8s/appliance/technician-role*.yaml``, inlined into the machine
config): read pods and their logs, run a command in them, delete one so its StatefulSet starts it
again.  Nothing else: no Secrets, no other namespace, no node access.  The admin kubeconfig stays at
HQ (``talosctl kubeconfig`` with ``talosconfig-admin``).

The certificate lives 30 days: long enough for a bundle made the week before an event and the
event itself, short enough that a laptop lost afterwards opens nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from talos.config.secrets import client_certificate

#: The Kubernetes group (certificate O=) the technicians' Role is bound to.
TECHNICIAN_GROUP = "konferenco:technicians"
TECHNICIAN_LIFETIME = dt.timedelta(days=30)
NAMESPACE = "konferenco"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def technician_kubeconfig(
    cluster: str,
    endpoint: str,
    bundle: dict[str, Any],
    now: dt.datetime | None = None,
    lifetime: dt.timedelta = TECHNICIAN_LIFETIME,
) -> dict[str, Any]:
    """A kubeconfig for ``endpoint`` (``https://IP:6443``) whose client certificate is the technicians' group.

    Signed by the Kubernetes CA in ``bundle`` (the secrets), which the API server trusts for
    client certificates; the kube-apiserver reads the user from CN and the groups from O.
    """
    k8s_ca = bundle["certs"]["k8s"]
    key = ec.generate_private_key(ec.SECP256R1())
    user = f"technician@{cluster}"
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TECHNICIAN_GROUP),
            x509.NameAttribute(NameOID.COMMON_NAME, user),
        ]
    )
    cert = client_certificate(k8s_ca, key, subject, now, lifetime)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": cluster, "cluster": {"server": endpoint, "certificate-authority-data": k8s_ca["crt"]}}
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(cert.public_bytes(serialization.Encoding.PEM)),
                    "client-key-data": _b64(key_pem),
                },
            }
        ],
        "contexts": [{"name": user, "context": {"cluster": cluster, "user": user, "namespace": NAMESPACE}}],
        "current-context": user,
    }
