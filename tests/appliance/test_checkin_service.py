"""The scan service in process, for what the HTTP tests cannot stage: old scans, other devices' scans."""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.checkin.service import ANNUL_WINDOW_MS, CheckinError, CheckinService
from appliance.checkin.structs import ScanRequest
from appliance.config import DataDir
from appliance.storage import open_replica
from konferenco.errors import KonferencoError
from konferenco.types import now_ms
from sync.documents import DeviceLog
from sync.names import DocName
from sync.records import Scan
from tests.helpers import konferenco


@pytest.fixture
async def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    data = DataDir(tmp_path / "data")
    konferenco("demo", "seed", "--data", str(data.path), "--attendees", "10")
    config = data.load()
    replica = open_replica(data)
    await replica.start()
    conn = data.reader()
    yield CheckinService(replica, conn, config.events, config.device_id)
    conn.close()
    await replica.close()


async def test_an_admission_older_than_fifteen_minutes_cannot_be_annulled(service: CheckinService) -> None:
    old = Scan(at=now_ms() - ANNUL_WINDOW_MS - 60_000, nonce="old-1", gate="north", result="admitted")
    await service.replica.log("demo", service.device_id, old)
    with pytest.raises(CheckinError) as refused:
        await service.annul(old.id, "too late", None)
    assert refused.value.code == "not_annullable"
    assert refused.value.details["reason"] == "annul_window_passed"
    assert "16 minutes old" in refused.value.message
    recent = Scan(at=now_ms() - ANNUL_WINDOW_MS + 60_000, nonce="old-2", gate="north", result="admitted")
    await service.replica.log("demo", service.device_id, recent)
    annulment = await service.annul(recent.id, "turnstile jammed", None)
    assert annulment.scan_id == recent.id


async def test_a_scan_made_by_another_device_is_annulled_there_not_here(service: CheckinService) -> None:
    theirs = Scan(nonce="theirs-1", gate="south", result="admitted")
    await service.replica.write(DocName.device("demo", "box-b"), lambda doc: DeviceLog(doc).append(theirs))
    with pytest.raises(CheckinError) as refused:
        await service.annul(theirs.id, "", None)
    assert refused.value.code == "not_annullable"
    assert refused.value.details["reason"] == "not_this_device"
    assert "box-b" in refused.value.message


async def test_a_scan_for_an_event_this_appliance_does_not_serve_is_refused(service: CheckinService) -> None:
    with pytest.raises(KonferencoError) as refused:  # refused before deciding, nothing recorded
        await service.scan(ScanRequest(nonce="e-1", gate="north", code="KB1:00", event="other-event"))
    assert refused.value.code == "unknown_event"
    assert refused.value.status == 404
