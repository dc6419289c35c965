"""What an import computes for each row before writing it: the badge code and the search text.

These are pure functions of the rows and the event key, so they can run anywhere: in a thread of
the hub worker for a small file, or in the worker processes of :mod:`hub.catalog.import_pool` for
a big one (signing 180,000 badges is ~8 s of one core).  This module therefore imports nothing but
what that work needs (no database, no web framework), so a worker process starts in ~0.1 s.

How a badge stays correct wherever it is signed:

- one key: the event's current key, unsealed in the hub worker (:func:`hub.catalog.keys.signer`);
  a worker process receives its 32 private bytes with the rows it signs, keeps them in memory for
  the next chunk, and never logs or stores them;
- one format: every code is made by :meth:`konferenco.badges.BadgeSigner.sign`, the only owner of
  the ``KB1:`` layout, from the same :class:`~konferenco.badges.BadgePayload` as before;
- one result: Ed25519 signatures are deterministic (RFC 8032 §5.1.6), so the same key and payload
  give the same code byte for byte, whichever process or thread signs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from konferenco.badges import BadgePayload, BadgeSigner
from konferenco.text import search_text


class Pending(NamedTuple):
    """The fields of one imported row that its badge code and search text are made of."""

    id: str
    ticket_type_id: str
    needs_code: bool  # a new attendee whose file row carries no code
    name: str
    company: str
    email: str
    order_ref: str
    external_ref: str


class Prepared(NamedTuple):
    """Per row, in the rows' order: the new badge code ("" when none is made) and the search text."""

    codes: list[str]
    search_texts: list[str]


def attendee_search_text(
    name: str, company: str, email: str, order_ref: str, external_ref: str | None
) -> str:
    """The ``search_text`` of an attendee row (see :mod:`hub.catalog.search`)."""
    return search_text(name, company, email, order_ref, external_ref or "")


def prepare(signer: BadgeSigner | None, event_id: str, rows: Sequence[Pending]) -> Prepared:
    """Sign the rows that need a code and fold every row's search text."""
    if signer is None and any(r.needs_code for r in rows):
        raise ValueError("rows need badge codes but no signing key was given")
    codes = [
        signer.sign(BadgePayload(event_id, r.id, r.ticket_type_id)) if signer and r.needs_code else ""
        for r in rows
    ]
    texts = [attendee_search_text(r.name, r.company, r.email, r.order_ref, r.external_ref) for r in rows]
    return Prepared(codes, texts)


def private_bytes(signer: BadgeSigner) -> bytes:
    """The signer's raw private key, to hand to a worker process (in memory only)."""
    return signer.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


#: The key of the chunk a worker process signed last: the next chunk of the same import reuses it.
_last_signer: tuple[bytes, BadgeSigner] | None = None


def prepare_with_key(private: bytes | None, event_id: str, rows: Sequence[Pending]) -> Prepared:
    """:func:`prepare` in a worker process, from the raw key bytes the hub worker sent."""
    global _last_signer
    signer = None
    if private is not None:
        if _last_signer is None or _last_signer[0] != private:
            _last_signer = (private, BadgeSigner(Ed25519PrivateKey.from_private_bytes(private)))
        signer = _last_signer[1]
    return prepare(signer, event_id, rows)


def ready() -> bool:
    """A no-op task: sent once per process when a big file arrives, so the processes start early."""
    return True
