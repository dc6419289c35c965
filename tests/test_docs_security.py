"""docs/security.md cannot claim a proof that does not exist: every test and file it names is there.

The page maps each defence to the test that proves it; a test renamed or
removed without the page following would leave a defence claimed and
unproven.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "security.md"
_CODE = re.compile(r"`([^`\n]+)`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}


def _claims() -> list[tuple[str, str | None]]:
    """(test file, test name or None) for each reference; ``::name`` alone refers to the last file named."""
    out: list[tuple[str, str | None]] = []
    last: str | None = None
    for code in _CODE.findall(PAGE.read_text(encoding="utf-8")):
        file, _, name = code.partition("::")
        if file.endswith(".py") and _FILE.match(file):
            last = _resolve(file)
            out.append((last, name or None))
        elif code.startswith("::") and last is not None:
            out.append((last, code[2:]))
    return out


_FILE = re.compile(r"^(?:tests/[\w/]+|(?:[\w/]+/)?test_\w+)\.py$")


def _resolve(file: str) -> str:
    """``tests/…/x.py`` as is; a short ``x.py`` or ``hub/x.py`` names the one test file ending so."""
    if file.startswith("tests/"):
        return file
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob(Path(file).name))
    found = [f for f in found if f.endswith("/" + file)]
    assert len(found) == 1, f"docs/security.md: {file!r} names {len(found)} test files: {found}"
    return found[0]


def test_every_test_the_security_page_names_exists() -> None:
    claims = _claims()
    assert len(claims) > 30, "the page should name the tests that prove its defences"
    missing = []
    for file, name in claims:
        path = ROOT / file
        if not path.exists():
            missing.append(file)
        elif name is not None and name not in _tests_in(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"docs/security.md names tests that do not exist: {missing}"
