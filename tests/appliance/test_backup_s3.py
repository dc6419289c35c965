"""Backup to and restore from S3-compatible storage: moto's standalone S3 server and the real Litestream.

moto (``moto_server``, the ``moto[server]`` dev dependency) listens on
127.0.0.1 on a free port; a bucket is created over its S3 API.  Credentials
reach Litestream from the environment and from a ``--credentials`` file; the
secret must appear in no log, no argv and no config file on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.appliance.test_backup import BackupProcess, add_staff, by_name, rows, seeded, wait_synced
from tests.helpers import KONFERENCO, ROOT, free_port, wait_for

SECRET = "moto-Secret/Key+that-must-never-show"
KEY_ID = "AKIAKONFERENCOTEST"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server with an empty bucket ``venue-backups``; yields its endpoint."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(endpoint), timeout=30, what="moto's S3 server")
        assert httpx.put(f"{endpoint}/venue-backups", timeout=10).status_code == 200
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answers(endpoint: str) -> bool:
    try:
        httpx.get(endpoint, timeout=1)
    except httpx.HTTPError:
        return False
    return True


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LITESTREAM_"))}
    return {**env, **extra}


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KONFERENCO, *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120
    )


def _no_secret_in_argv_or_config(runner: BackupProcess) -> None:
    (pid,) = runner.litestream_pids()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert not any(SECRET.encode() in a or KEY_ID.encode() in a for a in argv)
    config = Path(argv[argv.index(b"-config") + 1].decode())
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    text = config.read_text()
    assert SECRET not in text and "$LITESTREAM_SECRET_ACCESS_KEY" in text
    assert runner.proc is not None
    assert SECRET.encode() not in Path(f"/proc/{runner.proc.pid}/cmdline").read_bytes()


@pytest.mark.parametrize("source", ["environment", "file"])
def test_replicate_to_s3_and_restore_from_it(s3: str, tmp_path: Path, source: str) -> None:
    data = seeded(tmp_path)
    url = f"s3://venue-backups/{source}/box1?endpoint={s3}&region=us-east-1"
    extra: tuple[str, ...] = ()
    if source == "environment":
        env, extra = _env(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET), ()
    else:
        file = tmp_path / "s3.credentials"
        fd = os.open(file, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, f"access_key_id = {KEY_ID}\nsecret_access_key = {SECRET}\n".encode())
        os.close(fd)
        env, extra = _env(), ("--credentials", str(file))

    runner = BackupProcess(data, url, *extra, env=env).start()
    try:
        _no_secret_in_argv_or_config(runner)
        add_staff(data, "S3 Staff")
        checked = ("appliance", "backup", "status", "--data", str(data), "--to", url, "--json", *extra)
        report = wait_synced(lambda: json.loads(_cli(*checked, env=env).stdout))
        assert by_name(report)["appliance"]["verdict"] == "OK"
    finally:
        runner.kill()

    new = tmp_path / "restored"
    done = _cli("appliance", "restore", "--from", url, "--data", str(new), *extra, env=env)
    assert done.returncode == 0, done.stderr
    assert "restored appliance" in done.stdout
    assert rows(new, "SELECT name FROM staff WHERE name = 'S3 Staff'") == [("S3 Staff",)]
    assert rows(new, "SELECT count(*) FROM attendee") == rows(data, "SELECT count(*) FROM attendee")
    assert (new / "secrets" / "peer-token.key").read_bytes() == (
        data / "secrets" / "peer-token.key"
    ).read_bytes()
    for text in (runner.log.read_text(), done.stdout, done.stderr):
        assert SECRET not in text and KEY_ID not in text


def test_an_unreachable_store_says_so_within_seconds(tmp_path: Path) -> None:
    data = seeded(tmp_path)
    url = f"s3://venue-backups/box1?endpoint=http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = _cli("appliance", "backup", "status", "--data", str(data), "--to", url,
                  env=_env(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET))  # fmt: skip
    assert result.returncode == 1
    assert "verdict: UNREACHABLE" in result.stdout
    assert "no answer from" in result.stdout
    assert time.monotonic() - started < 40
    assert SECRET not in result.stdout + result.stderr
