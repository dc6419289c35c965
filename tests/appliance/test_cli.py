"""The appliance's command line as an operator meets it: what ``make run`` prints and does,
where files land, and how a bad import reads.  Every command runs in-process (Click's runner)."""

from __future__ import annotations

import csv
import json
import re
import select
import shlex
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from konferenco.catalog.badge_csv import COLUMNS
from tests.helpers import ROOT, konferenco


@pytest.fixture(scope="module")
def demo_box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("cli") / "box"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "12", "--seed", "2")
    return data


@pytest.fixture
def taken_port() -> Iterator[tuple[socket.socket, int]]:
    """A port something else listens on (as another appliance would)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener, listener.getsockname()[1]


def _attendees(data: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(data / "appliance.db")
    try:
        return int(conn.execute("SELECT count(*) FROM attendee").fetchone()[0])
    finally:
        conn.close()


# --- make run: the port is checked before the enrolment token is spent ------------------------


def test_enrolling_onto_a_taken_port_stops_before_the_token_is_sent(
    tmp_path: Path, taken_port: tuple[socket.socket, int]
) -> None:
    listener, port = taken_port
    box = tmp_path / "box"
    # The "hub" is the listener itself: had the token been sent, it would have a connection waiting.
    done = konferenco(
        "appliance", "enroll", "--data", str(box), "--hub", f"http://127.0.0.1:{port}",
        "--token", "ke1_once", "--port", str(port), check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot serve on 127.0.0.1:{port}: address already in use" in done.stderr
    assert re.search(r"make run PORT=\d+", done.stderr), done.stderr
    assert "--port" in done.stderr
    assert select.select([listener], [], [], 0.2)[0] == [], "nothing reached the hub: the token is unspent"
    assert not (box / "appliance.json").exists()


def test_serving_on_a_taken_port_says_how_to_choose_another(
    demo_box: Path, taken_port: tuple[socket.socket, int]
) -> None:
    _, port = taken_port
    done = konferenco("appliance", "serve", "--data", str(demo_box), "--port", str(port), check=False)
    assert done.returncode == 1
    suggested = re.search(r"make run PORT=(\d+)", done.stderr)
    assert suggested, done.stderr
    with socket.socket() as s:  # the suggestion is a port that is free
        s.bind(("127.0.0.1", int(suggested[1])))


def test_upstream_tokens_must_match_the_upstreams_or_be_left_out(demo_box: Path) -> None:
    """Two upstreams and one token is a typo to catch, not a token to give the wrong box."""
    done = konferenco(
        "appliance", "serve", "--data", str(demo_box), "--upstream", "http://10.0.0.2:8080",
        "--upstream", "http://10.0.0.3:8080", "--upstream-token", "kp1.x", check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "give one --upstream-token for each --upstream, or none" in done.stderr


def test_make_run_hands_its_port_to_the_enrolment() -> None:
    plan = subprocess.run(
        ["make", "-n", "-o", "setup", "run", "HUB=http://hub", "ENROL_TOKEN=ke1_x", "DATA=/nonexistent/box",
         "PORT=8091"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    enrol = next(line for line in plan.stdout.splitlines() if "appliance enroll" in line)
    assert "--port 8091" in enrol


def test_make_setup_says_what_it_installs_and_shows_pip_progress() -> None:
    plan = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", ".venv/.installed"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    install = next(
        line for line in plan.stdout.splitlines() if 'pip install --progress-bar on -e ".[' in line
    )
    assert " -q " not in install
    assert "a minute the first time" in plan.stdout


# --- demo credentials: demo secrets on a demo box only ----------------------------------------


def test_an_enrolled_box_prints_what_an_operator_needs_and_no_demo_secrets(
    tmp_path: Path, demo_box: Path
) -> None:
    box = tmp_path / "enrolled"
    konferenco("demo", "seed", "--data", str(box), "--attendees", "3")
    config = json.loads((box / "appliance.json").read_text())
    config["hub_url"] = "http://hub.example:8000"
    (box / "appliance.json").write_text(json.dumps(config))
    pins = [a["pin"] for a in json.loads((box / "secrets" / "demo-staff.json").read_text()).values()]

    shown = konferenco("demo", "credentials", "--data", str(box), "--port", "8123").stdout
    assert "Demo credentials" not in shown and "Demo staff" not in shown
    assert "kp1." not in shown and "ks1." not in shown, "no token at all in the output"
    assert not any(pin in shown for pin in pins)
    assert "http://127.0.0.1:8123/healthz" in shown
    assert "hub's dashboard (http://hub.example:8000/console)" in shown
    issue = re.search(r"export TOKEN=\$\((.+ appliance issue-token .+)\)", shown)
    assert issue, shown
    token = konferenco(*shlex.split(issue[1])[1:]).stdout.strip()
    assert token.startswith("ks1.")

    demo = konferenco("demo", "credentials", "--data", str(demo_box)).stdout
    assert "Demo credentials" in demo and "kp1." in demo and "Demo staff" in demo


# --- badges: into the data directory, in the shared format, read by the printed quick start ----


def test_badges_land_in_the_data_directory_and_the_printed_quick_start_reads_them(
    demo_box: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shown = konferenco("demo", "credentials", "--data", str(demo_box)).stdout
    lines = [line.strip() for line in shown.splitlines()]
    export = next(line for line in lines if " appliance badges " in line)
    read_code = next(line for line in lines if line.startswith("CODE="))

    written = konferenco(*shlex.split(export)[1:]).stdout
    out = demo_box / "badges.csv"
    assert written.strip() == f"12 badges written to {out}"
    assert list(tmp_path.iterdir()) == [], "nothing written where the command was run"
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == COLUMNS and rows[0][1] == "badge_code"
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["status"] == "valid" and first["order_ref"]

    code = subprocess.run(
        ["bash", "-c", f'{read_code}; printf %s "$CODE"'],
        cwd=tmp_path, capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    assert code == first["badge_code"] and code.startswith("KB1:")


def test_badges_still_go_where_out_says(demo_box: Path, tmp_path: Path) -> None:
    out = tmp_path / "print-shop.csv"
    done = konferenco("appliance", "badges", "--data", str(demo_box), "--out", str(out))
    assert done.stdout.strip() == f"12 badges written to {out}"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 13


# --- import: a file with one mistake on every row reads as one mistake ----------------------


def _bad_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["Name", "E-mail", "Ticket type"])
        for i in range(rows):
            writer.writerow([f"Person {i}", f"p{i}@example.com", "vip-gold"])
    return path


def test_identical_import_problems_are_said_once_with_a_few_lines(demo_box: Path, tmp_path: Path) -> None:
    before = _attendees(demo_box)
    bad = _bad_csv(tmp_path / "people.csv", 1204)
    done = konferenco("appliance", "import", "--data", str(demo_box), str(bad), check=False)
    assert done.returncode == 1
    said = [line for line in done.stderr.splitlines() if line.startswith("rejected:")]
    assert len(said) == 1, done.stderr
    assert "1,204 rows: ticket_type:" in said[0]
    assert "vip-gold" in said[0]
    assert "[lines 2, 3, 4, 5, 6 and 1,199 more]" in said[0]
    assert "1204 rows rejected; nothing was imported" in done.stderr
    assert _attendees(demo_box) == before

    every = konferenco(
        "appliance", "import", "--data", str(demo_box), str(bad), "--all-problems", check=False
    )
    listed = [line for line in every.stderr.splitlines() if line.startswith("rejected:")]
    assert len(listed) == 1204
    assert listed[0].startswith("rejected: line 2: ticket_type:")
    assert listed[-1].startswith("rejected: line 1205: ")


def test_skipped_rows_are_grouped_too(demo_box: Path, tmp_path: Path) -> None:
    path = _bad_csv(tmp_path / "mixed.csv", 30)
    with path.open("a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow(["Good Person", "good@example.com", "full"])
    done = konferenco("appliance", "import", "--data", str(demo_box), str(path), "--skip-invalid")
    skipped = [line for line in done.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1 and "30 rows" in skipped[0], done.stderr
    assert "1 added" in done.stdout and "30 skipped" in done.stdout


# --- staff accounts ---------------------------------------------------------------------------


def test_staff_add_asks_for_the_pin_twice_and_refuses_a_short_one(demo_box: Path) -> None:
    made = konferenco(
        "appliance", "staff", "add", "--data", str(demo_box), "--name", "Anna", "--role", "door",
        input="2468\n2468\n",
    )  # fmt: skip
    assert "staff account Anna (door) created" in made.stdout
    assert "2468" not in made.stdout, "the PIN is not echoed"
    short = konferenco(
        "appliance", "staff", "add", "--data", str(demo_box), "--name", "Ben", "--role", "door",
        input="12\n12\n", check=False,
    )  # fmt: skip
    assert short.returncode == 1
    assert "at least 4" in short.stderr and "Traceback" not in short.stderr


def test_a_command_on_an_empty_directory_says_how_to_make_an_appliance(tmp_path: Path) -> None:
    done = konferenco("appliance", "badges", "--data", str(tmp_path / "nothing"), check=False)
    assert done.returncode == 1
    assert "holds no appliance: run 'konferenco demo seed" in done.stderr
