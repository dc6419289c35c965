"""What a device may write is read from its certificate, and only a certificate an event key signed counts."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.catalog.schema import migrate
from appliance.config import DataDir
from appliance.peers import (
    REMEMBERED,
    REPORT_BUDGET,
    BoxTrust,
    CertifiedCapabilities,
    PeerAuthenticator,
    RefusalReporter,
    RefusedPeer,
)
from appliance.storage import open_replica
from konferenco.badges import device_certificate_message, key_id, raw_public_key
from sync.documents import DeviceLog
from sync.permissions import Capability
from sync.records import PeerRefused
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


async def test_a_rogue_retrying_under_new_names_fills_neither_the_log_nor_the_console(
    tmp_path: Path,
) -> None:
    """Refusals go to the box's log for the hub's console, but a flood of them is bounded."""
    data, _ = _box(tmp_path)
    config = data.load()
    replica = open_replica(data)
    await replica.start()
    try:
        auth = PeerAuthenticator(data.signer(), BoxTrust(data.reader, config))
        reporter = RefusalReporter(config, replica, auth)
        for n in range(3):  # the same rogue, three attempts: one report
            auth.refused.append(RefusedPeer("not signed by a key of event expo", n, "rogue", EVENT))
        assert await reporter.report() == 1
        assert await reporter.report() == 0  # already reported in this window
        for n in range(REMEMBERED):  # a new name at every attempt
            auth.refused.append(RefusedPeer("not signed by a key of event expo", n, f"rogue-{n}", EVENT))
        assert await reporter.report() == REPORT_BUDGET - 1
        assert await reporter.report() == 0
        auth.refused.append(RefusedPeer("no such event here", 0, "lost", "other-event"))
        assert await reporter.report() == 0  # not an event of this box: nothing to tell its organizer
        logged = await replica.read(replica.device_log(EVENT, "box-a"), lambda doc: DeviceLog(doc).records())
        refusals = [r for r in logged if isinstance(r, PeerRefused)]
        assert len(refusals) == REPORT_BUDGET
        assert {r.direction for r in refusals} == {"incoming"}
    finally:
        await replica.close()
