"""Validate a Talos machine config: every document against its release's schema, then Talos's own rules.

The schema (JSON Schema 2020-12, top-level ``oneOf`` over document kinds) checks one document, so the
stream is split on ``---`` and each document is checked against the definition of its kind: the
error then names the field instead of "not valid under any of the given schemas". Semantic checks
re-implement the few rules of Talos's ``v1alpha1_validation.go`` we rely on (research section 1);
``talosctl validate --mode metal`` remains the final word where the binary exists.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema  # type: ignore[import-untyped]

from talos.config import yamlio

_USER_VOLUME_NAME = re.compile(r"^[a-z0-9-]{1,34}$")
_SINGLETONS = ("HostnameConfig", "ResolverConfig", "TimeSyncConfig")
_VOLUME_NAMES = ("STATE", "EPHEMERAL", "IMAGECACHE")


@dataclass(frozen=True)
class Problem:
    document: int  # 1-based position in the stream
    kind: str
    path: str  # dotted path inside the document ("" for the whole document)
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"document {self.document} ({self.kind}): {where}{self.message}"


@functools.cache
def _schema(path: Path) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """The schema and a map (apiVersion or version, kind) -> definition name."""
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    kinds: dict[tuple[str, str], str] = {}
    for option in schema["oneOf"]:
        name = option["$ref"].removeprefix("#/$defs/")
        props = schema["$defs"][name].get("properties", {})
        if "kind" in props:
            for api in props["apiVersion"]["enum"]:
                for kind in props["kind"]["enum"]:
                    kinds[(api, kind)] = name
        else:  # v1alpha1.Config has no kind, only version
            kinds[("v1alpha1", "")] = name
    return schema, kinds


@functools.cache
def _validator(path: Path, definition: str) -> Any:
    schema, _ = _schema(path)
    sub = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(sub)


def _kind(doc: dict[str, Any]) -> str:
    return str(doc.get("kind") or ("v1alpha1.Config" if "version" in doc else "?"))


def schema_problems(docs: list[Any], schema_path: Path) -> list[Problem]:
    _, kinds = _schema(schema_path)
    problems: list[Problem] = []
    for index, doc in enumerate(docs, start=1):
        if not isinstance(doc, dict):
            problems.append(Problem(index, "?", "", "a document must be a mapping"))
            continue
        key = (
            (str(doc.get("apiVersion", "")), str(doc["kind"]))
            if "kind" in doc
            else (str(doc.get("version", "")), "")
        )
        definition = kinds.get(key)
        if definition is None:
            problems.append(
                Problem(index, _kind(doc), "", f"unknown document kind/version {key} for this Talos release")
            )
            continue
        for err in sorted(
            _validator(schema_path, definition).iter_errors(doc), key=lambda e: list(e.absolute_path)
        ):
            path = ".".join(str(p) for p in err.absolute_path)
            problems.append(Problem(index, _kind(doc), path, err.message))
    return problems


def _add(problems: list[Problem], index: int, kind: str, path: str, message: str) -> None:
    problems.append(Problem(index, kind, path, message))


def semantic_problems(docs: list[Any], *, installed: bool) -> list[Problem]:
    """Rules Talos enforces that the schema cannot express.

    ``installed`` is False for a box that boots the ISO (NUC): it then needs an install disk.
    """
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    volume_names: set[str] = set()
    user_volumes: set[str] = set()
    link_names: set[str] = set()
    mains = [
        (i, d)
        for i, d in enumerate(docs, start=1)
        if isinstance(d, dict) and "version" in d and "kind" not in d
    ]
    if len(mains) != 1:
        _add(
            problems, 0, "v1alpha1.Config", "", f"exactly one v1alpha1 document is needed, found {len(mains)}"
        )
    for index, doc in enumerate(docs, start=1):
        if not isinstance(doc, dict):
            continue
        kind = doc.get("kind", "")
        if kind in _SINGLETONS:
            if kind in seen:
                _add(problems, index, kind, "", f"a second {kind} (the first is document {seen[kind]})")
            seen[kind] = index
        if kind == "HostnameConfig" and doc.get("auto") == "stable" and doc.get("hostname"):
            _add(problems, index, kind, "auto", "auto: stable conflicts with hostname")
        if kind == "VolumeConfig":
            name = doc.get("name", "")
            if name not in _VOLUME_NAMES:
                _add(
                    problems,
                    index,
                    kind,
                    "name",
                    f"{name!r} is not a system volume ({', '.join(_VOLUME_NAMES)})",
                )
            if name in volume_names:
                _add(problems, index, kind, "name", f"a second VolumeConfig for {name}")
            volume_names.add(name)
            if name == "STATE" and "provisioning" in doc:
                _add(problems, index, kind, "provisioning", "the STATE volume's size cannot be configured")
        if kind == "UserVolumeConfig":
            name = doc.get("name", "")
            if not _USER_VOLUME_NAME.match(str(name)):
                _add(
                    problems, index, kind, "name", f"{name!r}: lowercase letters, digits and '-', at most 34"
                )
            if name in user_volumes:
                _add(problems, index, kind, "name", f"a second user volume {name!r}")
            user_volumes.add(name)
        if kind in ("VolumeConfig", "UserVolumeConfig"):
            _check_encryption(problems, index, kind, doc.get("encryption"), state=doc.get("name") == "STATE")
        if kind in ("LinkConfig", "VLANConfig"):
            name = doc.get("name", "")
            if name in link_names:
                _add(problems, index, kind, "name", f"link {name!r} is configured twice")
            link_names.add(name)
            _check_routes(problems, index, kind, doc)
    for index, main in mains:
        _check_main(problems, index, main, installed=installed)
    return problems


def _check_encryption(problems: list[Problem], index: int, kind: str, enc: Any, *, state: bool) -> None:
    if not isinstance(enc, dict):
        return
    keys = enc.get("keys") or []
    if not keys:
        _add(problems, index, kind, "encryption.keys", "encryption needs at least one key")
    slots = [k.get("slot", 0) for k in keys if isinstance(k, dict)]
    if len(slots) != len(set(slots)):
        _add(problems, index, kind, "encryption.keys", "two keys use the same slot")
    for n, key in enumerate(keys):
        if not isinstance(key, dict):
            continue
        methods = [m for m in ("static", "nodeID", "kms", "tpm") if m in key]
        if len(methods) != 1:
            _add(
                problems,
                index,
                kind,
                f"encryption.keys.{n}",
                f"exactly one key method is needed, found {methods}",
            )
        if key.get("lockToState") and state:
            _add(
                problems, index, kind, f"encryption.keys.{n}.lockToState", "STATE cannot be locked to itself"
            )


def _check_routes(problems: list[Problem], index: int, kind: str, doc: dict[str, Any]) -> None:
    networks = []
    for addr in doc.get("addresses") or []:
        try:
            networks.append(ipaddress.ip_interface(addr.get("address", "")).network)
        except ValueError:
            _add(problems, index, kind, "addresses", f"{addr.get('address')!r} is not an address with prefix")
    for n, route in enumerate(doc.get("routes") or []):
        gateway = route.get("gateway")
        if gateway and networks and "destination" not in route:
            try:
                gw = ipaddress.ip_address(gateway)
            except ValueError:
                _add(problems, index, kind, f"routes.{n}.gateway", f"{gateway!r} is not an IP address")
                continue
            if not any(gw in net for net in networks):
                _add(problems, index, kind, f"routes.{n}.gateway", f"{gateway} is not on the link's networks")


def _check_main(problems: list[Problem], index: int, main: dict[str, Any], *, installed: bool) -> None:
    kind = "v1alpha1.Config"
    machine = main.get("machine") or {}
    cluster = main.get("cluster") or {}
    if machine.get("type") == "controlplane":
        ca = machine.get("ca") or {}
        if not ca.get("crt") or not ca.get("key"):
            _add(
                problems,
                index,
                kind,
                "machine.ca",
                "a controlplane needs the Talos API CA certificate and key",
            )
        for field in ("ca", "etcd.ca"):
            node = cluster
            for part in field.split("."):
                node = node.get(part) or {}
            if not node.get("key"):
                _add(problems, index, kind, f"cluster.{field}.key", "a controlplane needs this CA key")
        if not (cluster.get("serviceAccount") or {}).get("key"):
            _add(
                problems,
                index,
                kind,
                "cluster.serviceAccount.key",
                "a controlplane needs the service account key",
            )
    if not machine.get("token"):
        _add(problems, index, kind, "machine.token", "is required")
    token = cluster.get("token", "")
    if not re.match(r"^[a-z0-9]{6}\.[a-z0-9]{16}$", str(token)):
        _add(problems, index, kind, "cluster.token", "must look like abcdef.0123456789abcdef")
    endpoint = (cluster.get("controlPlane") or {}).get("endpoint", "")
    if not urlparse(str(endpoint)).hostname:
        _add(problems, index, kind, "cluster.controlPlane.endpoint", f"{endpoint!r} has no host")
    install = machine.get("install") or {}
    if not installed and not install.get("disk") and not install.get("diskSelector"):
        _add(
            problems,
            index,
            kind,
            "machine.install",
            "a box booted from the ISO needs install.disk or install.diskSelector",
        )
    names = [m.get("name") for m in cluster.get("inlineManifests") or []]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        _add(problems, index, kind, "cluster.inlineManifests", f"manifest name {dup!r} is used twice")
    for n, manifest in enumerate(cluster.get("inlineManifests") or []):
        try:
            yamlio.load_documents(str(manifest.get("contents", "")))
        except yamlio.YAMLError as exc:
            _add(problems, index, kind, f"cluster.inlineManifests.{n}.contents", f"not valid YAML: {exc}")


def validate_text(text: str, schema_path: Path, *, installed: bool) -> list[Problem]:
    """All problems of a config file's text; an empty list means it passed."""
    try:
        docs = yamlio.load_documents(text)
    except yamlio.YAMLError as exc:
        return [Problem(0, "?", "", f"not valid YAML: {exc}")]
    if not docs:
        return [Problem(0, "?", "", "the file holds no document")]
    return schema_problems(docs, schema_path) + semantic_problems(docs, installed=installed)
