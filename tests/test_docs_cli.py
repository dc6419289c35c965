"""Every ``konferenco …`` example in the README and docs/ names a command and options that exist.

Examples are taken from ```sh/```console/```bash blocks and from inline code, parsed with
Click itself (``make_context`` with ``resilient_parsing``: nothing runs, nothing is prompted)
down the command chain, and every ``--option`` given is looked up on the command it was given
to.  Placeholders (``DIR``, ``ke1_…``), optional parts in ``[…]`` and ``…`` are fine.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import click
import pytest

from konferenco.cli import main
from tests.helpers import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHELL = {"sh", "console", "bash", "shell"}
INLINE = re.compile(r"`([^`\n]*(?:\n[^`\n]*)?)`")  # inline code, which may wrap one line
PROGRAM = re.compile(r"^(?:\S*/)?konferenco$")
OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&", "$(", ")"}


@dataclass(frozen=True)
class Example:
    where: str  # file:line, for the failure message
    text: str

    def __str__(self) -> str:
        return f"{self.where}: {self.text}"


def _commands(line: str) -> list[list[str]]:
    """The ``konferenco`` command lines in one shell line (after a prompt, in a pipe, …)."""
    line = re.sub(r"^\s*\$\s+", "", line)
    line = line.replace("…", " ").replace("...", " ").replace("[", " ").replace("]", " ")
    line = line.replace("$(", " $( ").replace(")", " ) ")  # a command substitution is a command too
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote in prose: not a command
        return []
    found, current = [], None
    for i, word in enumerate(words):
        if current is not None:
            if word in OPERATORS:
                found.append(current)
                current = None
            else:
                current.append(word)
        elif PROGRAM.match(word) and (i == 0 or words[i - 1] in OPERATORS or "=" in words[i - 1]):
            current = []
    if current is not None:
        found.append(current)
    return found


def examples(text: str, name: str = "text") -> list[tuple[Example, list[str]]]:
    """Every ``konferenco`` example in a Markdown TEXT, with its arguments."""
    found: list[tuple[Example, list[str]]] = []
    prose = text
    for block in FENCE.finditer(text):
        prose = prose.replace(block[0], "\n" * block[0].count("\n"))
        if block[1] not in SHELL:
            continue
        first_line = text.count("\n", 0, block.start(2)) + 1
        logical, start = "", first_line
        for offset, line in enumerate(block[2].splitlines()):
            if not logical:
                start = first_line + offset
            if line.rstrip().endswith("\\"):
                logical += line.rstrip()[:-1] + " "
                continue
            logical += line
            for args in _commands(logical):
                found.append((Example(f"{name}:{start}", logical.strip()), args))
            logical = ""
    for code in INLINE.finditer(prose):
        words = code[1].split()
        snippet = " ".join(words)
        if len(words) > 1 and PROGRAM.match(words[0]):  # a lone `konferenco` is a name (the database)
            line = prose.count("\n", 0, code.start()) + 1
            for args in _commands(snippet):
                found.append((Example(f"{name}:{line}", snippet), args))
    return found


def _option_names(command: click.Command) -> dict[str, click.Parameter]:
    names: dict[str, click.Parameter] = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in (*param.opts, *param.secondary_opts):
                names[name] = param
    for name in ("--help", "-h"):
        names.setdefault(name, click.Option([name], is_flag=True))
    return names


def _check_options(path: str, command: click.Command, words: list[str], stop_at_argument: bool) -> int:
    """Check the options in WORDS exist on COMMAND; how many words they took (for a group: up to
    the subcommand's name)."""
    known = _option_names(command)
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return len(words)
        if not word.startswith("-") or re.fullmatch(r"-\d.*", word):
            if stop_at_argument:
                return i
            i += 1
            continue
        name, has_value = (word.split("=", 1)[0], True) if "=" in word else (word, False)
        option = known.get(name)
        if option is None:
            raise AssertionError(f"'{path}' has no option {name}")
        takes_value = isinstance(option, click.Option) and not option.is_flag and not option.count
        i += 2 if takes_value and not has_value else 1
    return i


def check(args: list[str]) -> None:
    """Resolve ARGS from the root command and check every option; AssertionError says what is wrong."""
    command: click.Command = main
    path = "konferenco"
    ctx = main.make_context("konferenco", list(args), resilient_parsing=True)
    words = list(args)
    while True:
        if not isinstance(command, click.Group):
            _check_options(path, command, words, stop_at_argument=False)
            return
        used = _check_options(path, command, words, stop_at_argument=True)
        rest = words[used:]
        if not rest:
            return
        name = rest[0]
        sub = command.get_command(ctx, name)
        if sub is None:
            raise AssertionError(f"'{path}' has no command '{name}'")
        path, command, words = f"{path} {name}", sub, rest[1:]
        ctx = sub.make_context(name, list(words), parent=ctx, resilient_parsing=True)


ALL = [(example, args) for doc in DOCS for example, args in examples(doc.read_text(), doc.name)]


def test_the_docs_have_examples_to_check() -> None:
    assert len(ALL) >= 20
    assert {e.where.split(":")[0] for e, _ in ALL} >= {"README.md", "operations.md", "hub.md"}


@pytest.mark.parametrize(("example", "args"), ALL, ids=[str(e.where) for e, _ in ALL])
def test_a_documented_command_exists_with_its_options(example: Example, args: list[str]) -> None:
    try:
        check(args)
    except AssertionError as exc:
        raise AssertionError(f"{example}\n  {exc}") from None


# --- the check itself catches what it is for -------------------------------------------------

MADE_UP = """
Some prose, then:

```sh
konferenco appliance badges --data DIR --outfile badges.csv   # no such option
konferenco appliance serve --data DIR \\
    --port 8080 --upstream-tokens T                          # nor this one, on a continued line
.venv/bin/konferenco appliance frobnicate --data DIR         # no such command
```

Inline: `konferenco hub create-organization --name X --colour blue` and
`konferenco appliance devices add --data DIR --id x
--domain printer --wobble 3` (wrapped); not `make run` nor the database `konferenco`; and one
that is right: `konferenco appliance badges --data DIR`.

```python
konferenco("not", "a", "shell", "example")
```
"""


def test_made_up_commands_and_options_are_caught() -> None:
    found = examples(MADE_UP, "made-up.md")
    assert [e.where for e, _ in found] == [
        "made-up.md:5",
        "made-up.md:6",
        "made-up.md:8",
        "made-up.md:11",
        "made-up.md:12",
        "made-up.md:14",
    ]
    errors = []
    for _, args in found:
        try:
            check(args)
        except AssertionError as exc:
            errors.append(str(exc))
        else:
            errors.append("ok")
    assert errors == [
        "'konferenco appliance badges' has no option --outfile",
        "'konferenco appliance serve' has no option --upstream-tokens",
        "'konferenco appliance' has no command 'frobnicate'",
        "'konferenco hub create-organization' has no option --colour",
        "'konferenco appliance devices add' has no option --wobble",
        "ok",
    ]


def test_real_examples_with_placeholders_pass() -> None:
    for line in [
        "konferenco appliance devices add --data DIR --id ID --domain DOMAIN --kind KIND [--gate GATE] "
        "--set KEY=VALUE …",
        'konferenco appliance import --data DIR people.csv --map name="Full Name" --ticket-type full',
        "konferenco -v --log-format json appliance status --data var/demo",
        "export TOKEN=$(konferenco appliance issue-token --data DIR --role door)",
    ]:
        (_, args), *_ = examples(f"`{line}`") or examples(f"```sh\n{line}\n```\n")
        check(args)
