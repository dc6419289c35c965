"""``appliance provision``: a box's start-up step restores, enrols or does nothing, and never guesses.

Enrolling with a real hub and restoring from S3 inside a box's pod is ``tests/e2e/test_venue_day_one.py``;
these are the decisions around it, with a real file replica and the real Litestream.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from appliance.config import DataDir
from tests.appliance.test_backup import BackupProcess, seeded, status, wait_synced
from tests.helpers import konferenco

NO_KONFERENCO_ENV = {
    "KONFERENCO_HUB_URL": "",
    "KONFERENCO_ENROL_TOKEN": "",
    "KONFERENCO_BACKUP_URL": "",
    "KONFERENCO_ROLES": "",
}


def provision(data: Path, *args: str, **env: str) -> tuple[int, str]:
    done = konferenco(
        "appliance", "provision", "--data", str(data), *args, env={**NO_KONFERENCO_ENV, **env}, check=False
    )
    return done.returncode, done.stdout + done.stderr


def test_a_ready_box_is_left_alone_at_every_start(tmp_path: Path) -> None:
    data = seeded(tmp_path)
    before = (data / "appliance.json").read_bytes()
    code, said = provision(
        data, KONFERENCO_ENROL_TOKEN="ke1_would_be_spent", KONFERENCO_HUB_URL="http://127.0.0.1:9"
    )
    assert code == 0, said
    assert f"holds appliance {DataDir(data).load().device_id}: ready" in said
    assert (data / "appliance.json").read_bytes() == before


def test_a_box_with_neither_backup_nor_token_says_what_it_needs(tmp_path: Path) -> None:
    data = tmp_path / "new"
    code, said = provision(data, KONFERENCO_HUB_URL="https://hub.example")
    assert code == 1
    assert "no backup to restore and no enrolment token" in said and "--enrolment-token-file" in said
    assert not DataDir(data).exists()


def test_an_unreadable_backup_stops_the_start_rather_than_enrol_a_new_device(tmp_path: Path) -> None:
    """A replacement box whose backup store is down must not enrol beside its dead predecessor."""
    data = tmp_path / "new"
    code, said = provision(
        data,
        KONFERENCO_BACKUP_URL="s3://venue-backups/venue-0042?endpoint=http://127.0.0.1:9",
        KONFERENCO_HUB_URL="http://127.0.0.1:9",
        KONFERENCO_ENROL_TOKEN="ke1_not_to_be_spent",
        AWS_ACCESS_KEY_ID="key",
        AWS_SECRET_ACCESS_KEY="secret-never-shown",
    )
    assert code == 1
    assert "cannot read the replica" in said and "Not enrolling" in said
    assert "secret-never-shown" not in said
    assert not DataDir(data).exists()


def test_a_replacement_box_restores_itself_from_its_backup_and_writes_the_signs_broker(
    tmp_path: Path,
) -> None:
    dead = seeded(tmp_path, "dead")
    url = f"file://{tmp_path / 'replica'}"
    runner = BackupProcess(dead, url).start()
    try:
        wait_synced(lambda: status(dead, url)[1])
    finally:
        runner.kill()
    new = tmp_path / "new"
    code, said = provision(new, KONFERENCO_BACKUP_URL=url, KONFERENCO_ROLES="checkin,signage")
    assert code == 0, said
    device_id = json.loads((dead / "appliance.json").read_text())["device_id"]
    assert f"restored appliance {device_id}" in said and "a replacement box" in said
    assert DataDir(new).load().device_id == device_id
    assert (new / "mosquitto" / "mosquitto.conf").exists()
    assert "broker configuration" in said
    # the next start: ready, and the broker configuration is kept, not rewritten
    conf = (new / "mosquitto" / "passwd").read_bytes()
    code, said = provision(new, KONFERENCO_BACKUP_URL=url, KONFERENCO_ROLES="checkin,signage")
    assert code == 0 and "ready" in said and "broker configuration" not in said
    assert (new / "mosquitto" / "passwd").read_bytes() == conf


def test_half_a_backup_is_refused_and_nothing_is_enrolled_or_left_behind(tmp_path: Path) -> None:
    """A replica with the identity but no database (a wrong prefix, a bucket half-cleaned) is no "new box"."""
    dead = seeded(tmp_path, "dead")
    replica = tmp_path / "replica"
    runner = BackupProcess(dead, f"file://{replica}").start()
    try:
        wait_synced(lambda: status(dead, f"file://{replica}")[1])
    finally:
        runner.kill()
    shutil.rmtree(replica / "appliance")
    new = tmp_path / "new"
    code, said = provision(
        new,
        KONFERENCO_BACKUP_URL=f"file://{replica}",
        KONFERENCO_HUB_URL="http://127.0.0.1:9",
        KONFERENCO_ENROL_TOKEN="ke1_not_to_be_spent",
    )
    assert code == 1
    assert "holds only part of a box (no appliance database)" in said and "Not enrolling" in said
    assert not new.exists()
