"""Secrets at rest and in logs: a stolen login on the box, or a log shipped off it, gives nothing away.

The appliance's data directory holds the device credential, signing keys and
staff PINs; it is created private (0700, files in ``secrets/`` 0600) and
checked at every ``appliance serve``: modes others could read are repaired,
with a warning naming each path (see :func:`appliance.cli.serve.secure_data_dir`
for why repair rather than refuse); a path it cannot repair stops the start.

The logs: a server process given tokens on its command line, in headers and
in URLs, and staff typing PINs, must log none of them.  ``tests/conftest.py``
applies the same check (:func:`find_secrets`) to every log of the session.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.drills.fs import needs_root
from tests.drills.log_secrets import find_secrets
from tests.helpers import KONFERENCO, ROOT, ApplianceProcess, free_port, konferenco


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def secret_files(data: Path) -> list[Path]:
    return sorted(p for p in (data / "secrets").iterdir() if p.is_file())


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    data = tmp_path / "box"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "20")
    return data


def test_a_new_appliance_keeps_its_data_directory_and_secrets_to_itself(demo: Path, tmp_path: Path) -> None:
    assert mode(demo) == 0o700
    assert mode(demo / "secrets") == 0o700
    files = secret_files(demo)
    names = {p.name for p in files}
    assert {"demo-staff.json", "catalog.key", "peer-token.key", "device-badge.key"} <= names, names
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}

    plain = tmp_path / "plain"
    konferenco("appliance", "init", "--data", str(plain), "--event", "e1")
    assert (mode(plain), mode(plain / "secrets")) == (0o700, 0o700)


def test_serve_repairs_a_data_directory_others_can_read_and_says_which_paths(demo: Path) -> None:
    loose = [demo, demo / "secrets", *secret_files(demo)]
    for path in loose:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)

    server = ApplianceProcess(demo).start()
    try:
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200  # the doors open
        assert mode(demo) == mode(demo / "secrets") == 0o700
        assert {p.name: mode(p) for p in secret_files(demo)} == {p.name: 0o600 for p in secret_files(demo)}
        log = server.log.read_text()
        warned = [line for line in log.splitlines() if "readable by other accounts, repaired" in line]
        for path in loose:
            assert any(f"{path}: " in line for line in warned), f"no warning names {path}:\n{log}"
        assert all(" WARNING " in line for line in warned)
    finally:
        server.stop()

    # Private already: the next start repairs nothing and says nothing.
    again = ApplianceProcess(demo)
    again.log = demo.parent / "second-start.log"
    again.start()
    again.stop()
    assert "repaired" not in again.log.read_text()


@pytest.fixture
def read_only(demo: Path) -> Iterator[Path]:
    """The demo box's folder, loosened and then bind-mounted read-only: its modes cannot be fixed."""
    needs_root()
    os.chmod(demo / "secrets" / "catalog.key", 0o644)
    subprocess.run(["mount", "--bind", str(demo), str(demo)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(demo)], check=True)
        yield demo
    finally:
        subprocess.run(["umount", str(demo)], check=False)


def test_serve_refuses_to_start_when_it_cannot_make_a_secret_private(read_only: Path) -> None:
    done = subprocess.run(
        [*KONFERENCO, "appliance", "serve", "--data", str(read_only), "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    key = read_only / "secrets" / "catalog.key"
    assert f"{key} is readable by other accounts (mode 0644)" in done.stderr, done.stderr
    assert f"chmod 600 {key}" in done.stderr, done.stderr


def test_tokens_and_pins_given_to_a_server_never_reach_its_log(demo: Path, tmp_path: Path) -> None:
    peer_token = konferenco(
        "appliance", "peer-token", "--data", str(demo), "--role", "device",
        "--peer-id", "other", "--device-id", "other",
    ).stdout.strip()  # fmt: skip
    door = konferenco("appliance", "issue-token", "--data", str(demo), "--role", "door").stdout.strip()
    pins = json.loads((demo / "secrets" / "demo-staff.json").read_text())
    dead_upstream = f"http://127.0.0.1:{free_port()}"  # its failures are logged, with the URL
    server = ApplianceProcess(
        demo, None, "--upstream", dead_upstream, "--upstream-token", peer_token, "--access-log",
        options=("--verbose",),
    ).start()  # fmt: skip
    try:
        url = server.url
        httpx.get(f"{url}/api/v1/stats?token={door}", timeout=10)  # a token in the URL, logged by access
        httpx.get(f"{url}/api/v1/stats", headers={"Authorization": f"Bearer {door}"}, timeout=10)
        httpx.get(f"{url}/api/v1/stats", headers={"Authorization": "Bearer kd1_notarealbutlonglooking"})
        for name, row in pins.items():
            ok = httpx.post(f"{url}/api/v1/auth/login", json={"name": name, "secret": row["pin"]}, timeout=10)
            assert ok.status_code == 200, ok.text
            staff = ok.json()["token"]
            httpx.get(f"{url}/api/v1/auth/me?token={staff}", timeout=10)
        wrong = httpx.post(f"{url}/api/v1/auth/login", json={"name": "Door", "secret": "000000"}, timeout=10)
        assert wrong.status_code == 401
        with pytest.raises(Exception):  # noqa: B017 - refused either way; what matters is the log
            from websockets.sync.client import connect

            with connect(f"ws://127.0.0.1:{server.port}/sync/event/demo/control?token={door}x") as ws:
                ws.recv(timeout=5)
    finally:
        server.stop()
    log = server.log.read_text()
    assert "GET /api/v1/stats" in log, "the access log was on: the requests must be in it"
    assert find_secrets([server.log], [demo]) == [], log[-3000:]


def test_the_log_check_finds_what_it_must_and_only_that(tmp_path: Path, demo: Path) -> None:
    pin = next(iter(json.loads((demo / "secrets" / "demo-staff.json").read_text()).values()))["pin"]
    log = tmp_path / "leaky.log"
    log.write_text(
        "\n".join(
            [
                f"INFO uvicorn.error: Started server process [{pin}]",  # a pid, not a PIN
                "INFO: GET /sync/x?token=kp1.*** and Bearer *** and kt1_*** and send Bearer kd1_…",
                "WARNING sync.client: refused with kp1.eyJzdWIiOiJvdGhlciJ9.c2lnbmF0dXJl",
                f"INFO: sign in Door with {pin}",
                "DEBUG: POST /api/v1/auth/token password=correct horse battery",
                "INFO: GET /api/v1/stats?access_token=abcdefgh12345678",
            ]
        )
    )
    found = find_secrets([log], [demo])
    assert [line.rsplit(":", 2)[1] for line in found] == ["3", "4", "5", "6"], found
    assert all("eyJzdWIi" not in line and pin not in line for line in found), "the report repeats a secret"
