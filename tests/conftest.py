from collections.abc import Iterator

import pytest

from tests.drills.log_secrets import find_secrets
from tests.helpers import SESSION_DATA_DIRS, SESSION_LOGS


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_log() -> Iterator[None]:
    """Once every test ran, no log a server of this session wrote may hold a secret (issue 18).

    Fails the session (an error in the last test's teardown) naming each file and line;
    the secret itself is cut short in the report, which pytest prints and CI keeps.
    """
    yield
    leaks = find_secrets(SESSION_LOGS, SESSION_DATA_DIRS)
    if leaks:
        pytest.fail(
            f"{len(leaks)} log lines hold a credential, token, PIN or password:\n" + "\n".join(leaks[:50]),
            pytrace=False,
        )
