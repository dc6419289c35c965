"""Finding an appliance and starting the TUI from the command line, as a technician does."""

from __future__ import annotations

from pathlib import Path

from kiosk_ui.tui.discovery import browse
from tests.helpers import ApplianceProcess, free_port, konferenco


async def test_an_appliance_on_the_lan_is_found_with_its_api_address(tmp_path: Path) -> None:
    data = tmp_path / "box"
    api = free_port()  # the discovery device advertises the API's port
    konferenco("appliance", "init", "--data", str(data), "--event", "expo", "--device-id", "hall-b-desk")
    konferenco(
        "appliance", "devices", "add", "--data", str(data), "--id", "lan", "--domain", "discovery",
        "--set", "interfaces=127.0.0.1", "--set", f"port={api}",
    )  # fmt: skip
    with ApplianceProcess(data, api) as box:
        found = []
        for _ in range(3):  # multicast on a busy machine: a second look before giving up
            found = [f for f in await browse(3.0, interfaces=["127.0.0.1"]) if f.device_id == "hall-b-desk"]
            if found:
                break
        assert found, "the appliance was not heard on the LAN"
        (heard,) = found
        assert heard.event == "expo"
        assert heard.url == f"http://127.0.0.1:{box.port}"


def test_the_command_refuses_an_address_without_a_scheme_and_a_broken_keymap(tmp_path: Path) -> None:
    bad_url = konferenco("tui", "--appliance", "10.0.0.5:8080", check=False)
    assert bad_url.returncode == 2
    assert "give the URL with its scheme" in bad_url.stderr
    keymap = tmp_path / "keys.toml"
    keymap.write_text('section.desk = ["ctrl+d"]\n', encoding="utf-8")
    bad_keys = konferenco("tui", "--appliance", "http://127.0.0.1:1", "--keymap", str(keymap), check=False)
    assert bad_keys.returncode == 2
    assert "expected binding ids with keys as text" in bad_keys.stderr
    keymap.write_text("section.desk = \n", encoding="utf-8")
    broken = konferenco("tui", "--appliance", "http://127.0.0.1:1", "--keymap", str(keymap), check=False)
    assert broken.returncode == 2
    assert "cannot read" in broken.stderr


def test_help_names_the_sections_and_the_keys() -> None:
    shown = konferenco("tui", "--help").stdout
    assert "--appliance URL" in shown
    assert "--keymap" in shown
    assert "Ctrl+P" in shown
