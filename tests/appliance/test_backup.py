"""Litestream backup and restore of an appliance, with the real binary and real processes (issue #16 part 4).

``konferenco appliance backup run`` runs as a child process beside the data
directory, replicating to a file replica under ``tmp_path``; restores go to a
new directory and are compared with the original.  The S3 variant is in
``test_backup_s3.py``, the kill-during-a-scan-storm acceptance test in
``tests/e2e/test_restore.py``.
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from appliance.backup.identity import DATABASES_BACKED_UP
from appliance.backup.litestream import Backup
from appliance.backup.target import (
    BackupError,
    Credentials,
    credentials_from,
    parse_url,
    read_credentials_file,
)
from tests.helpers import KONFERENCO, ROOT, SESSION_DATA_DIRS, SESSION_LOGS, konferenco, wait_for


class BackupProcess:
    """``konferenco appliance backup run`` as a child process, its log in a file (checked for secrets)."""

    def __init__(self, data: Path, url: str, *extra: str, env: dict[str, str] | None = None) -> None:
        self.data, self.url, self.extra = data, url, extra
        self.env = env
        self.log = data.parent / f"backup-{data.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> BackupProcess:
        SESSION_LOGS.add(self.log)
        SESSION_DATA_DIRS.add(self.data)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    *KONFERENCO,
                    "appliance",
                    "backup",
                    "run",
                    "--data",
                    str(self.data),
                    "--to",
                    self.url,
                    *self.extra,
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**(os.environ if self.env is None else self.env), "PYTHONUNBUFFERED": "1"},
                start_new_session=True,
            )
        wait_for(lambda: "litestream replicating" in self.log.read_text(), timeout=20,
                 what="backup run to start litestream")  # fmt: skip
        return self

    def litestream_pids(self) -> list[int]:
        """Litestream children of this runner (they live in sessions of their own)."""
        assert self.proc is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid), "litestream"], capture_output=True, text=True
        )
        return [int(p) for p in out.stdout.split()]

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        """``kill -9`` of the runner: its Litestream must die with it (PR_SET_PDEATHSIG)."""
        children = self.litestream_pids()
        self.stop(signal.SIGKILL)
        for pid in children:
            wait_for(functools.partial(_gone, pid), timeout=5, what=f"litestream {pid} to die with it")


def _gone(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    except FileNotFoundError:
        return True


def status(data: Path, url: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = konferenco("appliance", "backup", "status", "--data", str(data), "--to", url, "--json", *extra,
                        check=False)  # fmt: skip
    return result.returncode, json.loads(result.stdout)


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in report["databases"]}


def current(report: dict[str, Any]) -> bool:
    """The replica holds every transaction Litestream has taken, and nothing newer was written."""
    return report["verdict"] == "OK" and all(
        d["lag_txids"] == 0 and d["lag_seconds"] == 0 for d in report["databases"]
    )


def wait_synced(check: Callable[[], dict[str, Any]], timeout: float = 30) -> dict[str, Any]:
    """Wait until ``backup status`` reports the replica current twice, a sync interval and more apart.

    Twice, because positions have one-second resolution: a write made just after the replica's
    newest file looks covered at first, and shows as a local TXID ahead of the replica one sync
    interval later if it was not.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = check()
        if current(first):
            time.sleep(1.3)
            second = check()
            if current(second):
                return second
        time.sleep(0.3)
    raise TimeoutError(f"the replica did not catch up in {timeout} s: {check()}")


def seeded(root: Path, name: str = "box", attendees: int = 60) -> Path:
    data = root / name
    konferenco("demo", "seed", "--data", str(data), "--attendees", str(attendees))
    return data


def identity_of(data: Path) -> dict[str, tuple[int, bytes]]:
    files = {"appliance.json": data / "appliance.json"}
    files |= {f"secrets/{p.name}": p for p in (data / "secrets").iterdir()}
    return {k: (stat.S_IMODE(p.stat().st_mode), p.read_bytes()) for k, p in files.items()}


def rows(data: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{data / 'appliance.db'}?mode=ro", uri=True) as conn:
        return conn.execute(sql).fetchall()


def add_staff(data: Path, name: str) -> None:
    konferenco("appliance", "staff", "add", "--data", str(data), "--name", name, "--role", "door",
               input="4711-pin\n4711-pin\n")  # fmt: skip


# --- the replica URL and its credentials ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind", "path", "bucket", "endpoint", "region"),
    [
        ("file:///srv/backup/box1", "file", "/srv/backup/box1", "", "", ""),
        ("/srv/backup/box1/", "file", "/srv/backup/box1", "", "", ""),
        ("file://localhost/srv/b%20x", "file", "/srv/b x", "", "", ""),
        ("s3://my-bucket/venues/box1", "s3", "venues/box1", "my-bucket", "", ""),
        ("s3://my-bucket", "s3", "", "my-bucket", "", ""),
        ("s3://b.ucket/p?endpoint=http://127.0.0.1:9000/&region=eu-central-1", "s3", "p", "b.ucket",
         "http://127.0.0.1:9000", "eu-central-1"),
    ],
)  # fmt: skip
def test_replica_urls_parse(url: str, kind: str, path: str, bucket: str, endpoint: str, region: str) -> None:
    target = parse_url(url)
    assert (target.kind, target.path, target.bucket, target.endpoint, target.region) == (
        kind, path, bucket, endpoint, region,
    )  # fmt: skip


def test_an_s3_target_with_an_endpoint_uses_path_style_and_names_credentials_by_reference() -> None:
    replica = parse_url("s3://bkt/venue?endpoint=http://minio:9000").replica("appliance")
    assert replica["force-path-style"] is True
    assert replica["path"] == "venue/appliance"
    assert replica["secret-access-key"] == "$LITESTREAM_SECRET_ACCESS_KEY"
    assert "force-path-style" not in parse_url("s3://bkt/venue").replica("appliance")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "no replica URL"),
        ("relative/dir", "absolute path"),
        ("file://host/srv", "three slashes"),
        ("file:///srv?x=1", "no ?options"),
        ("ftp://x/y", "unsupported replica URL"),
        ("s3://AKIA:secret@bucket/p", "do not put credentials"),
        ("s3://Bad_Bucket/p", "not an S3 bucket name"),
        ("s3://bkt/p?endpoint=ftp://h", "endpoint must be http(s)"),
        ("s3://bkt/p?endpoint=http://u:pw@h:1", "do not put credentials"),
        ("s3://bkt/p?acl=public", "unknown option acl"),
        ("s3://bkt/p?region=a&region=b", "given twice"),
        ("s3://bkt/../p", "may not contain '..'"),
    ],
)
def test_bad_replica_urls_say_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(BackupError, match=re.escape(says)):
        parse_url(url)


def test_a_credentials_file_must_be_private_and_a_bad_line_is_not_echoed(tmp_path: Path) -> None:
    file = tmp_path / "s3.credentials"
    file.write_text("# venue bucket\naccess_key_id = AKIAVENUE\nsecret_access_key = 'sup3r/s3cret+key'\n")
    file.chmod(0o644)
    with pytest.raises(BackupError, match="chmod 600"):
        read_credentials_file(file)
    file.chmod(0o600)
    assert read_credentials_file(file) == Credentials("AKIAVENUE", "sup3r/s3cret+key")
    assert "sup3r" not in repr(read_credentials_file(file))
    file.write_text("access_key_id = AKIAVENUE\nsup3r/s3cret+key\n")
    with pytest.raises(BackupError, match="line 2") as caught:
        read_credentials_file(file)
    assert "sup3r" not in str(caught.value)
    file.write_text("access_key_id = AKIAVENUE\n")
    with pytest.raises(BackupError, match="no secret_access_key"):
        read_credentials_file(file)


def test_credentials_come_from_the_environment_litestream_names_first() -> None:
    env = {"AWS_ACCESS_KEY_ID": "aws", "AWS_SECRET_ACCESS_KEY": "aws-secret"}
    assert credentials_from(env, None) == Credentials("aws", "aws-secret")
    env |= {"LITESTREAM_ACCESS_KEY_ID": "ls", "LITESTREAM_SECRET_ACCESS_KEY": "ls-secret"}
    assert credentials_from(env, None) == Credentials("ls", "ls-secret")
    assert credentials_from({}, None) is None
    with pytest.raises(BackupError, match="no secret_access_key"):
        credentials_from({"AWS_ACCESS_KEY_ID": "only-the-id"}, None)


def test_s3_without_credentials_is_refused_before_litestream_runs(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LITESTREAM_"))}
    result = subprocess.run(
        [*KONFERENCO, "appliance", "backup", "status", "--data", str(tmp_path), "--to", "s3://bkt/p"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs credentials" in result.stderr


def test_the_generated_config_is_private_holds_no_secret_and_is_removed(tmp_path: Path) -> None:
    backup = Backup(
        tmp_path, parse_url("s3://bkt/p?endpoint=http://127.0.0.1:1"), Credentials("AKIA1", "s3cr3t-value")
    )
    with backup.config_file(DATABASES_BACKED_UP) as config:
        text = config.read_text()
        assert stat.S_IMODE(config.stat().st_mode) == 0o600
        assert stat.S_IMODE(config.parent.stat().st_mode) == 0o700
        assert "s3cr3t-value" not in text and "AKIA1" not in text
        assert "$LITESTREAM_SECRET_ACCESS_KEY" in text
    assert not config.parent.exists()
    env = backup.environment({"AWS_SECRET_ACCESS_KEY": "stray", "PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "LITESTREAM_ACCESS_KEY_ID": "AKIA1",
        "LITESTREAM_SECRET_ACCESS_KEY": "s3cr3t-value",
    }
    assert backup.scrub("failed with s3cr3t-value") == "failed with ********"


# --- a file replica, end to end --------------------------------------------------------------------


def test_file_replica_round_trip_restores_rows_and_identity_with_modes(tmp_path: Path) -> None:
    data = seeded(tmp_path)
    url = f"file://{tmp_path / 'replica'}"
    runner = BackupProcess(data, url).start()
    try:
        add_staff(data, "Written While Replicating")
        wait_synced(lambda: status(data, url)[1])
        before = {
            "attendees": rows(data, "SELECT id, name FROM attendee ORDER BY id"),
            "staff": rows(data, "SELECT name, role FROM staff ORDER BY name"),
        }
        assert ("Written While Replicating", "door") in before["staff"]
        identity = identity_of(data)
    finally:
        runner.kill()  # a dead box: no last sync
    assert stat.S_IMODE((tmp_path / "replica").stat().st_mode) == 0o700

    new = tmp_path / "new-box"
    done = konferenco("appliance", "restore", "--from", url, "--data", str(new))
    device_id = json.loads((data / "appliance.json").read_text())["device_id"]
    assert f"restored appliance {device_id}" in done.stdout
    assert f"attendees:  {len(before['attendees'])}" in done.stdout
    assert f"staff:      {len(before['staff'])}" in done.stdout
    assert "appliance serve --data" in done.stdout
    assert rows(new, "SELECT id, name FROM attendee ORDER BY id") == before["attendees"]
    assert rows(new, "SELECT name, role FROM staff ORDER BY name") == before["staff"]
    restored = identity_of(new)
    assert {k: c for k, (_, c) in restored.items()} == {k: c for k, (_, c) in identity.items()}
    assert all(mode == 0o600 for k, (mode, _) in restored.items() if k.startswith("secrets/"))
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    assert stat.S_IMODE((new / "secrets").stat().st_mode) == 0o700
    # the restored box opens: the appliance's own checks pass and it knows who it is
    assert device_id in konferenco("appliance", "status", "--data", str(new)).stdout


def test_an_identity_change_reaches_the_replica(tmp_path: Path) -> None:
    data = seeded(tmp_path)
    url = f"file://{tmp_path / 'replica'}"
    runner = BackupProcess(data, url).start()
    try:
        wait_for(lambda: status(data, url)[0] == 0, timeout=20, what="the first sync")
        fd = os.open(data / "secrets" / "hub-credential", os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"renewed-credential")
        os.close(fd)
        wait_for(lambda: "identity copied into identity.db (8 files" in runner.log.read_text(), timeout=10,
                 what="the runner to copy the new secret")  # fmt: skip
        wait_synced(lambda: status(data, url)[1])
    finally:
        assert runner.stop() == 0  # SIGTERM: a clean stop after Litestream's last sync
    assert "stopped (litestream exited with 0" in runner.log.read_text()
    konferenco("appliance", "restore", "--from", url, "--data", str(tmp_path / "new"))
    assert (tmp_path / "new" / "secrets" / "hub-credential").read_bytes() == b"renewed-credential"


def test_restore_refuses_an_existing_appliance_and_an_empty_replica(tmp_path: Path) -> None:
    data = seeded(tmp_path)
    url = f"file://{tmp_path / 'replica'}"
    runner = BackupProcess(data, url).start()
    try:
        wait_for(lambda: status(data, url)[0] == 0, timeout=20, what="the first sync")
    finally:
        runner.stop()
    before = sorted(p.name for p in data.iterdir())
    refused = konferenco("appliance", "restore", "--from", url, "--data", str(data), check=False)
    assert refused.returncode == 1
    assert "already holds an appliance" in refused.stderr
    assert sorted(p.name for p in data.iterdir()) == before

    (tmp_path / "empty").mkdir()
    for replica in (tmp_path / "empty", tmp_path / "missing"):
        target = tmp_path / f"from-{replica.name}"
        refused = konferenco(
            "appliance", "restore", "--from", str(replica), "--data", str(target), check=False
        )
        assert refused.returncode == 1
        assert f"no backup at file://{replica}" in refused.stderr
        assert not target.exists()  # nothing half-made left behind


def test_status_shows_the_lag_grow_while_litestream_is_down_and_shrink_when_it_is_back(
    tmp_path: Path,
) -> None:
    data = seeded(tmp_path)
    url = f"file://{tmp_path / 'replica'}"
    code, report = status(data, url)
    assert code == 1 and report["verdict"] == "NO BACKUP"
    assert "encrypted storage" in report["protection"]

    runner = BackupProcess(data, url).start()
    wait_for(lambda: status(data, url)[0] == 0, timeout=20, what="the first sync")
    first = by_name(status(data, url)[1])["appliance"]
    assert first["lag_seconds"] == 0 and first["lag_txids"] == 0
    runner.kill()

    add_staff(data, "Added While The Backup Was Down")
    time.sleep(6.5)  # longer than BEHIND_AFTER: an operator would now see the backup is behind
    add_staff(data, "Another One")
    code, report = status(data, url)
    behind = by_name(report)["appliance"]
    assert code == 1 and report["verdict"] == "BEHIND" and behind["verdict"] == "BEHIND"
    assert behind["lag_seconds"] > 5
    assert behind["replica_txid"] == first["replica_txid"]

    runner = BackupProcess(data, url).start()
    try:
        caught_up = by_name(wait_synced(lambda: status(data, url)[1]))["appliance"]
        assert caught_up["replica_txid"] > first["replica_txid"]
        assert caught_up["lag_seconds"] == 0
        text = konferenco("appliance", "backup", "status", "--data", str(data), "--to", url).stdout
        assert "appliance.db: OK" in text and "verdict: OK" in text and "0 transactions behind" in text
    finally:
        runner.stop()


def test_the_runner_restarts_litestream_when_it_dies_and_forwards_sigterm(tmp_path: Path) -> None:
    data = seeded(tmp_path)
    url = f"file://{tmp_path / 'replica'}"
    runner = BackupProcess(data, url).start()
    try:
        (first,) = runner.litestream_pids()
        os.kill(first, signal.SIGKILL)
        wait_for(
            lambda: "restarting in 1 s" in runner.log.read_text(), timeout=10, what="the runner to notice"
        )
        wait_for(lambda: runner.litestream_pids() not in ([], [first]), timeout=10, what="a new litestream")
        add_staff(data, "After The Restart")
        wait_synced(lambda: status(data, url)[1])
        (second,) = runner.litestream_pids()
    finally:
        code = runner.stop()
    assert code == 0
    assert not Path(f"/proc/{second}").exists()
    assert "litestream stopped unexpectedly (exit code -9)" in runner.log.read_text()


def test_backup_run_refuses_a_directory_without_an_appliance(tmp_path: Path) -> None:
    result = konferenco("appliance", "backup", "run", "--data", str(tmp_path), "--to", str(tmp_path / "r"),
                        check=False)  # fmt: skip
    assert result.returncode == 1
    assert "holds no appliance" in result.stderr


if sys.platform != "linux":  # pragma: no cover
    pytestmark = pytest.mark.skip("Litestream's binary and PR_SET_PDEATHSIG: Linux only")
