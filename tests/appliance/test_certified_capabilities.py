"""What a device may write is read from its certificate, and only a certificate an event key signed counts."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.catalog.schema import migrate
from appliance.config import DataDir
from appliance.peers import CertifiedCapabilities
from konferenco.badges import device_certificate_message, key_id, raw_public_key
from sync.permissions import Capability
from tests.helpers import konferenco

EVENT = "expo"


def _box(tmp_path: Path) -> tuple[DataDir, Ed25519PrivateKey]:
    """A box of the event with its event key in ``catalog_key``, as after importing a signed catalog."""
    konferenco("appliance", "init", "--data", str(tmp_path), "--event", EVENT, "--device-id", "box-a")
    data = DataDir(tmp_path)
    event_key = Ed25519PrivateKey.generate()
    public = raw_public_key(event_key.public_key())
    conn = data.reader()
    migrate(conn)
    conn.execute("INSERT INTO catalog_key VALUES (?, ?, ?, ?, ?)", (EVENT, key_id(public), public, 0, 0))
    conn.commit()
    conn.close()
    return data, event_key


def _publish(
    data: DataDir, device: str, signed: list[str], claimed: list[str], issuer: Ed25519PrivateKey
) -> None:
    """A ``device_key`` row as the projection writes it from the device's log (``claimed`` as logged)."""
    public = raw_public_key(Ed25519PrivateKey.generate().public_key())
    signature = issuer.sign(device_certificate_message(EVENT, device, public, 0, signed))
    conn = data.reader()
    conn.execute(
        "INSERT INTO device_key (event_id, device_id, public_key, not_after, signature, capabilities)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (EVENT, device, public, 0, signature, ",".join(sorted(claimed))),
    )
    conn.commit()
    conn.close()


def test_capabilities_come_from_a_certificate_the_event_signed(tmp_path: Path) -> None:
    data, event_key = _box(tmp_path)
    _publish(data, "scanner-1", ["scanner"], ["scanner"], event_key)
    certified = CertifiedCapabilities(data)
    assert certified("scanner-1") == frozenset({Capability.SCANNER})
    assert certified("never-seen") is None  # not known here: the server that took its log checked it


def test_a_log_claiming_more_than_its_certificate_grants_is_not_believed(tmp_path: Path) -> None:
    data, event_key = _box(tmp_path)
    _publish(data, "scanner-1", ["scanner"], ["organizer", "scanner"], event_key)  # widened after signing
    _publish(data, "rogue", ["organizer"], ["organizer"], Ed25519PrivateKey.generate())  # not the event's key
    certified = CertifiedCapabilities(data)
    assert certified("scanner-1") is None
    assert certified("rogue") is None
