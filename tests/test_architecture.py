"""The house's shape: imports run one way, and the two apps do not load each other.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are
checked by import-linter itself; these tests make a broken contract fail
the suite, not only ``make lint``, and check what the contracts cannot see:
which modules a process really loads.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _loaded_by(module: str) -> set[str]:
    """Top-level packages of ours that importing ``module`` loads, in a fresh interpreter."""
    code = f"import sys, {module}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    return set(out) & {"konferenco", "sync", "drivers", "appliance", "hub", "kiosk_ui", "talos", "images"}


def test_every_import_contract_is_kept() -> None:
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout or " broken" not in result.stdout


def test_the_contracts_name_the_layers_of_the_design() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    contracts = {c["id"]: c for c in config["contracts"]}
    assert contracts["layers"]["layers"] == [
        "kiosk_ui",
        "appliance | hub | talos | images",
        "sync | drivers",
        "konferenco",
    ]
    assert set(contracts["kiosk-over-http"]["forbidden_modules"]) >= {"appliance", "hub"}
    assert contracts["no-circles"]["type"] == "acyclic_siblings"


def test_the_hub_does_not_load_the_appliance_and_the_appliance_not_the_hub() -> None:
    assert "appliance" not in _loaded_by("hub.app")
    assert "hub" not in _loaded_by("appliance.app")


def test_the_shared_core_loads_nothing_of_the_parts() -> None:
    for module in ("konferenco.badges", "konferenco.catalog.bundle", "konferenco.errors", "konferenco.cli"):
        assert _loaded_by(module) == {"konferenco"}, module
