"""Desk work: find an attendee, register a walk-in, correct a name.

* Search is FTS5 over folded text (:func:`konferenco.text.fold`), in any
  script: every word a prefix from two characters on, ranked by BM25 with
  the name weighted highest.  "jur ode" finds "Jürgen Ødegård", "ив" finds
  "Иван".  Chinese, Japanese and Korean match anywhere in a name from one
  character on ("田" finds "田中 太郎"; see :mod:`appliance.catalog.roster`).
* A walk-in is a :class:`~sync.records.WalkIn` record in this device's log
  (so it syncs, and the hub folds it into the catalog), and its badge is
  signed by this device's key, which an event key certified (DESIGN.md §3).
  The projection adds the attendee to the roster in the same transaction.
* A correction is an :class:`~sync.records.Amendment` in the control
  document, which only organizer-capable devices may write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import aiosqlite
import msgspec

from appliance.catalog.roster import on_roster
from appliance.checkin.service import CheckinError
from appliance.config import DataDir
from konferenco.badges import BadgePayload, BadgeSigner, b64, device_certificate_message, raw_public_key
from konferenco.text import fold, split_cjk, words
from konferenco.types import new_id
from sync.documents import ControlDoc
from sync.names import DocName
from sync.records import DeviceKey, Revocation, TagLink, WalkIn
from sync.replica import Replica

#: Characters of a word that count, in any script but Chinese, Japanese and Korean (one is enough there).
MIN_QUERY = 2
MAX_WORDS = 8
_CJK_COLUMNS = "{name_cjk company_cjk}"


class SearchHit(msgspec.Struct, kw_only=True):
    id: str
    name: str
    company: str
    ticket_type_id: str
    ticket_type: str
    status: str
    source: str
    admitted_at: int | None = None
    email: str | None = None
    order_ref: str | None = None
    badge_code: str | None = None


def _terms(word: str) -> list[str]:
    """FTS5 terms of one folded word (letters and digits, so nothing to escape inside quotes)."""
    terms = []
    for part, cjk in split_cjk(word):
        if not cjk:
            if len(part) >= MIN_QUERY:  # characters, not bytes: "ив" is two
                terms.append(f'"{part}"*')
        else:  # the phrase of its characters: neighbours in one run, i.e. a substring
            terms.append(f'{_CJK_COLUMNS} : "{" ".join(part)}"')
    return terms


def match_expression(query: str) -> str:
    """The FTS5 query for what a person typed: every word, folded, as a prefix (CJK: a substring)."""
    terms = [term for word in words(fold(query)) for term in _terms(word)]
    if not terms:
        raise CheckinError(
            "query_too_short",
            f"type at least {MIN_QUERY} letters or digits of a name, company, e-mail or order"
            " (one character is enough in Chinese, Japanese or Korean)",
        )
    return " ".join(terms[:MAX_WORDS])


#: Above this many matches a search is not ranked: bm25 over every match costs about 1 ms per
#: 1,000 rows (140 ms for "ord", which every order code matches, at 180,000 attendees), and a
#: ranking of that many is no help anyway.  The first matches are returned, sorted by name, and
#: ``matches`` tells the desk to type more.
RANK_LIMIT = 10_000

_SELECT_HITS = """
SELECT a.id, a.name, a.company, a.ticket_type_id, coalesce(t.name, ''), a.status, a.source,
       (SELECT min(c.at) FROM checkin c INDEXED BY idx_checkin_event_id_attendee_id_list_id_at
        WHERE c.event_id = a.event_id AND c.attendee_id = a.id
          AND c.result = 'admitted' AND c.direction = 'entry'
          AND NOT EXISTS (SELECT 1 FROM checkin_annulment n WHERE n.scan_id = c.id)),
       a.email, a.order_ref, a.badge_code
FROM hit JOIN attendee a ON a.rowid = hit.rid
LEFT JOIN catalog_ticket_type t ON t.event_id = a.event_id AND t.id = a.ticket_type_id
ORDER BY hit.score, hit.name
"""

#: The index drives both queries (CROSS JOIN keeps SQLite from walking the event's attendees and
#: asking the index about each), and the first admission is read through the attendee's own
#: check-ins (INDEXED BY: otherwise min(at) walks every check-in of the event in time order).
#: Ranked: the matches of this event by bm25, then name; the extra columns only for the LIMIT kept.
_RANKED = (
    """
WITH hit AS (
    SELECT a.rowid AS rid, bm25(attendee_fts, 10.0, 3.0, 2.0, 5.0, 10.0, 3.0) AS score, a.name AS name
    FROM attendee_fts f CROSS JOIN attendee a ON a.rowid = f.rowid
    WHERE attendee_fts MATCH ?1 AND a.event_id = ?2
    ORDER BY score, name LIMIT ?3
)
"""
    + _SELECT_HITS
)

#: Unranked (a broad query): the first matches in the index's order, then sorted by name.
_FIRST = (
    """
WITH hit AS (
    SELECT a.rowid AS rid, 0 AS score, a.name AS name
    FROM attendee_fts f CROSS JOIN attendee a ON a.rowid = f.rowid
    WHERE attendee_fts MATCH ?1 AND a.event_id = ?2
    LIMIT ?3
)
"""
    + _SELECT_HITS
)


class SearchAnswer(msgspec.Struct, kw_only=True):
    hits: list[SearchHit]
    matches: int  # every match in the index (all events on the box), not only those returned
    ranked: bool


async def find_attendees(
    conn: aiosqlite.Connection,
    event_id: str,
    query: str,
    *,
    limit: int = 20,
    private: bool = True,
    rank_limit: int = RANK_LIMIT,
) -> SearchAnswer:
    """Ranked matches; ``private=False`` (kiosk) leaves out e-mail, order and badge code.

    ``private=False`` also matches names and companies only: a kiosk's masked results would
    otherwise tell anyone who types an e-mail address or an order code that its owner is registered.
    A query matching more than RANK_LIMIT is answered unranked (see :data:`RANK_LIMIT`).
    """
    expression = match_expression(query)
    if not private:
        expression = f"{{name company name_cjk company_cjk}} : ({expression})"
    counted = await conn.execute_fetchall(
        "SELECT count(*) FROM attendee_fts WHERE attendee_fts MATCH ?", (expression,)
    )
    matches = int(next(iter(counted))[0])
    ranked = matches <= rank_limit
    rows = await conn.execute_fetchall(_RANKED if ranked else _FIRST, (expression, event_id, limit))
    hits = []
    for r in rows:
        hit = SearchHit(
            id=r[0], name=r[1], company=r[2] or "", ticket_type_id=r[3], ticket_type=r[4],
            status=r[5], source=r[6], admitted_at=r[7],
        )  # fmt: skip
        if private:
            hit.email, hit.order_ref, hit.badge_code = r[8] or "", r[9] or "", r[10]
        hits.append(hit)
    return SearchAnswer(hits=hits, matches=matches, ranked=ranked)


async def search(
    conn: aiosqlite.Connection, event_id: str, query: str, *, limit: int = 20, private: bool = True
) -> list[SearchHit]:
    """The hits of :func:`find_attendees` alone (the kiosk's lookup needs no more)."""
    return (await find_attendees(conn, event_id, query, limit=limit, private=private)).hits


Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class WalkInRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Name
    ticket_type_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    company: Annotated[str, msgspec.Meta(max_length=200)] = ""
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+\.[^@\s]+\Z")] = ""
    nfc_uid: Annotated[str, msgspec.Meta(pattern=r"^$|^([0-9A-F]{2}){4,10}\Z")] = ""
    event: str | None = None


class WalkInAnswer(msgspec.Struct, kw_only=True):
    attendee_id: str
    name: str
    ticket_type_id: str
    badge_code: str


class Amend(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    field: Literal["name", "company", "email"]
    value: Annotated[str, msgspec.Meta(max_length=200)]


class RevokeRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``badge``: ``attendee:serial`` of one printed badge; ``attendee``: every badge; ``key``: a key id;
    ``device``: a box or scanner (lost, stolen) that no peer may sync with any more."""

    target: Literal["badge", "attendee", "key", "device"]
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+\Z")]
    reason: Annotated[str, msgspec.Meta(max_length=200)] = ""
    event: str | None = None


class LinkTag(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    nfc_uid: Annotated[str, msgspec.Meta(pattern=r"^([0-9A-F]{2}){4,10}\Z")]
    replace: bool = False


def require_attendee(conn: Any, event: str, attendee_id: str) -> None:
    """Refuse with 404 ``unknown_attendee`` unless the attendee is on this event's roster."""
    if not on_roster(conn, event, attendee_id):
        raise CheckinError("unknown_attendee", f"no attendee '{attendee_id}' in this event")


def tag_owner(conn: Any, event: str, nfc_uid: str) -> str | None:
    """Who an NFC tag belongs to: a tag handed out on site wins over the catalog's."""
    row = conn.execute(
        "SELECT coalesce((SELECT attendee_id FROM tag_link WHERE event_id = ?1 AND nfc_uid = ?2),"
        " (SELECT id FROM attendee WHERE event_id = ?1 AND nfc_uid = ?2))",
        (event, nfc_uid),
    ).fetchone()
    return None if row is None else row[0]


class Desk:
    def __init__(
        self,
        data: DataDir,
        replica: Replica,
        device_id: str,
        organizer: bool,
        keys_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.data = data
        self.replica = replica
        self.device_id = device_id
        self.organizer = organizer
        self._keys_changed = keys_changed  # so our own walk-in badges verify at once

    async def walk_in(self, conn: Any, event: str, req: WalkInRequest, staff: str) -> WalkInAnswer:
        """Register someone at the desk; durable (and searchable) when this returns."""
        if not req.name.strip():
            raise CheckinError("invalid", "a walk-in needs a name", field="name")
        known = conn.execute(
            "SELECT 1 FROM catalog_ticket_type WHERE event_id = ? AND id = ?", (event, req.ticket_type_id)
        ).fetchone()
        if known is None:
            raise CheckinError(
                "invalid", f"ticket type '{req.ticket_type_id}' is not in the catalog", field="ticket_type_id"
            )
        if req.nfc_uid and tag_owner(conn, event, req.nfc_uid) is not None:
            raise CheckinError("nfc_in_use", f"tag {req.nfc_uid} already belongs to another attendee")
        certificate = self.data.device_certificate(event)
        if certificate is None:
            raise CheckinError(
                "no_device_key",
                "this appliance has no certified badge key for walk-ins; enrol it with the hub",
            )
        published = conn.execute(
            "SELECT 1 FROM device_key WHERE event_id = ? AND device_id = ?", (event, self.device_id)
        ).fetchone()
        if published is None:  # peers learn the key from our log before they see its first badge
            await self.replica.log(event, self.device_id, certificate)
            self._keys_changed()
        attendee_id = f"w-{new_id().lower()}"
        code = BadgeSigner(self.data.device_key()).sign(BadgePayload(event, attendee_id, req.ticket_type_id))
        record = WalkIn(
            attendee_id=attendee_id,
            name=req.name.strip(),
            company=req.company.strip(),
            email=req.email.strip(),
            ticket_type_id=req.ticket_type_id,
            badge_code=code,
            nfc_uid=req.nfc_uid or None,
            staff=staff,
        )
        await self.replica.log(event, self.device_id, record)
        return WalkInAnswer(
            attendee_id=attendee_id, name=record.name, ticket_type_id=req.ticket_type_id, badge_code=code
        )

    async def link_tag(self, conn: Any, event: str, attendee_id: str, req: LinkTag, staff: str) -> None:
        """Hand an NFC tag to an attendee (recorded in this device's log, so it syncs)."""
        require_attendee(conn, event, attendee_id)
        owner = tag_owner(conn, event, req.nfc_uid)
        if owner is not None and owner != attendee_id and not req.replace:
            raise CheckinError(
                "nfc_in_use",
                f"tag {req.nfc_uid} belongs to attendee {owner}; send replace=true to move it",
            )
        await self.replica.log(
            event, self.device_id, TagLink(attendee_id=attendee_id, nfc_uid=req.nfc_uid, staff=staff)
        )

    def _require_organizer_device(self, what: str) -> None:
        if not self.organizer:
            raise CheckinError(
                "forbidden",
                f"{what} need an appliance enrolled with the organizer capability",
                capability="organizer",
            )

    async def revoke(self, event: str, req: RevokeRequest, staff: str) -> Revocation:
        """Revoke a badge, an attendee or a key for every appliance (via the control document)."""
        self._require_organizer_device("revocations")
        return await self.replica.write(
            DocName.control(event),
            lambda doc: ControlDoc(doc).revoke(req.target, req.value, req.reason, by=staff),
        )

    async def amend(self, conn: Any, event: str, attendee_id: str, change: Amend, staff: str) -> None:
        self._require_organizer_device("roster corrections")
        require_attendee(conn, event, attendee_id)
        if change.field == "name" and not change.value.strip():
            raise CheckinError("invalid", "a name cannot be empty", field="value")
        await self.replica.write(
            DocName.control(event),
            lambda doc: ControlDoc(doc).amend(attendee_id, change.field, change.value.strip(), by=staff),
        )


def certify_device(data: DataDir, event: str, device_id: str, not_after: int = 0) -> DeviceKey:
    """Certify this device's walk-in key with the event key held here (standalone or demo).

    With a hub, the hub does this at enrolment and hands over the certificate.
    """
    event_key = data.event_key(event)
    if event_key is None:
        raise CheckinError("no_event_key", f"this appliance does not hold the key of event '{event}'")
    public = raw_public_key(data.device_key().public_key())
    capabilities = sorted(str(c) for c in data.load().capabilities)
    signature = event_key.sign(device_certificate_message(event, device_id, public, not_after, capabilities))
    certificate = DeviceKey(
        public_key=b64(public), not_after=not_after, signature=b64(signature), capabilities=capabilities
    )
    data.save_device_certificate(event, certificate)
    return certificate
