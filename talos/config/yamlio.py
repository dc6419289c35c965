"""YAML 1.2 in and out, the way Talos (Go yaml.v3) reads it.

PyYAML is YAML 1.1: it loads ``auto: off`` as ``False`` and ``0o644`` as a string, so valid Talos
configs would fail validation (research section 1). Everything here goes through ruamel.yaml in
YAML 1.2 mode instead.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

__all__ = ["YAMLError", "dump_documents", "dump_one", "literal", "load_documents", "load_one"]


def _loader() -> YAML:
    yaml = YAML(typ="safe", pure=True)
    yaml.version = (1, 2)
    return yaml


def _dumper() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def load_documents(text: str) -> list[Any]:
    """Every document of a ``---`` separated stream, empty ones dropped (as Talos does)."""
    return [doc for doc in _loader().load_all(text) if doc is not None]


def load_one(text: str) -> Any:
    """A single-document YAML file (a venue file, secrets.yaml, a schematic)."""
    return _loader().load(text)


def literal(text: str) -> LiteralScalarString:
    """A multi-line string written as a ``|`` block, so manifests stay readable in the config."""
    result: LiteralScalarString = LiteralScalarString(text)
    return result


def dump_one(data: Any) -> str:
    out = io.StringIO()
    _dumper().dump(data, out)
    return out.getvalue()


def dump_documents(docs: Iterable[Any]) -> str:
    """A multi-document stream, one ``---`` between documents."""
    return "---\n".join(dump_one(doc) for doc in docs)
