"""docs/architecture.md cannot rot: every path, class and ``Class.attribute`` it names must exist.

A newcomer reads that page to learn where a behaviour lives; a module moved
or a class renamed without the page following would send them to a place
that is not there.  (The page's ``konferenco …`` commands are checked with
the other docs' by ``tests/test_docs_cli.py``.)
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "architecture.md"
PACKAGES = ("konferenco", "sync", "drivers", "appliance", "hub", "kiosk_ui", "talos", "images", "tests")
_CODE = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(
    r"^(?:konferenco|sync|drivers|appliance|hub|kiosk_ui|talos|images|tests|docs|bench)/[\w/.-]*$"
)
_CLASS = re.compile(r"^[A-Z][A-Za-z0-9]+$")
_MEMBER = re.compile(r"^([A-Z][A-Za-z0-9]+)\.([a-z_][a-z0-9_]*)(?:\(\))?$")
_CALL = re.compile(r"^([a-z_][a-z0-9_]*)\(")
#: Names of libraries we build on (pycrdt, Litestar) that the page explains our code with.
_THEIRS = {"Array", "WebSocket", "Doc"}


@cache
def _definitions() -> tuple[dict[str, set[str]], set[str]]:
    """Classes with their members, and top-level functions, of every package of ours."""
    classes: dict[str, set[str]] = {}
    functions: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    members = classes.setdefault(node.name, set())
                    for item in ast.walk(node):
                        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                            members.add(item.name)
                        elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name):
                            members.add(item.attr)  # self.x = … in a method
                        elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                            members.add(item.target.id)
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    functions.add(node.name)
                elif isinstance(node, ast.Assign):
                    functions.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return classes, functions


def _row_folder(line: str) -> Path | None:
    """The folder a table row is about: bare ``x.py`` names in the row are inside it."""
    for token in _CODE.findall(line):
        if _PATH.match(token):
            path = ROOT / token
            return path if token.endswith("/") else path.parent
    return None


def missing_names(text: str) -> list[str]:
    """What the page names that the code does not have, one line per problem."""
    classes, functions = _definitions()
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        folder = _row_folder(line) if line.startswith("|") else None
        for token in _CODE.findall(line):
            token = token.strip()
            if "{" in token or " " in token.split("(")[0]:
                continue  # document names with placeholders, commands, prose in code
            if _PATH.match(token):
                if not (ROOT / token.rstrip("/")).exists():
                    problems.append(f"line {number}: no path {token}")
            elif token.endswith(".py") and "/" not in token and folder is not None:
                if not (folder / token).exists():
                    problems.append(f"line {number}: no {token} in {folder.relative_to(ROOT)}")
            elif match := _MEMBER.match(token):
                cls, member = match.groups()
                if cls not in _THEIRS and member not in classes.get(cls, set()):
                    problems.append(f"line {number}: no {cls}.{member}")
            elif _CLASS.match(token) and not token.isupper():
                if token not in classes and token not in functions and token not in _THEIRS:
                    problems.append(f"line {number}: no class {token}")
            elif (
                (match := _CALL.match(token))
                and match.group(1) not in functions
                and not any(match.group(1) in members for members in classes.values())
            ):
                problems.append(f"line {number}: no function {match.group(1)}")
    return problems


def test_the_architecture_page_names_only_what_exists() -> None:
    assert missing_names(PAGE.read_text(encoding="utf-8")) == []


def test_the_page_is_checked_at_all() -> None:
    """The check must see the page's names, or an empty page would pass."""
    text = PAGE.read_text(encoding="utf-8")
    named = set(_CODE.findall(text))
    assert {"appliance/box.py", "Box", "CheckinService", "konferenco/errors.py"} <= named


def test_a_moved_module_or_renamed_class_is_reported() -> None:
    stale = (
        "| `appliance/readers.py` | gone |\n"
        "| `appliance/checkin/` | the scan path (`services.py`) |\n"
        "The `Catalogue` caches, `Replica.no_such_method` and `open_the_box()` do not exist.\n"
    )
    assert missing_names(stale) == [
        "line 1: no path appliance/readers.py",
        "line 2: no services.py in appliance/checkin",
        "line 3: no class Catalogue",
        "line 3: no Replica.no_such_method",
        "line 3: no function open_the_box",
    ]
