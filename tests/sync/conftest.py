from collections.abc import Iterator

import pytest

from tests.helpers import ApplianceProcess, konferenco


@pytest.fixture(scope="module")
def appliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApplianceProcess]:
    """A real ``konferenco appliance serve`` for event e1 (device box1), one per test module."""
    data = tmp_path_factory.mktemp("appliance") / "data"
    konferenco("appliance", "init", "--data", str(data), "--event", "e1", "--device-id", "box1")
    with ApplianceProcess(data) as proc:
        yield proc
