"""Importing the roster: signed bundles, deltas, CSV files (good, bad and odd), folding and search.

Every test works on a real appliance data directory and its SQLite database, through
``import_file`` (what ``konferenco appliance import`` runs).  An import lands whole or not at
all: after a rejected one the attendee table is exactly what it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.catalog.importer import ImportRejected, ImportReport
from appliance.catalog.roster import CatalogConflict
from appliance.checkin.service import CheckinError
from appliance.config import DataDir
from appliance.desk.service import search
from appliance.storage import import_file
from konferenco.badges import BadgePayload, BadgeSigner, KeyRing, TrustedKey, b64, raw_public_key, verify
from konferenco.catalog.bundle import (
    Attendee,
    BundleError,
    Catalog,
    EventInfo,
    Gate,
    PublicKey,
    TicketType,
    sign_catalog,
)
from konferenco.catalog.csv_reader import CsvOptions, Problem
from konferenco.rules import CheckinList
from konferenco.text import fold

EVENT = "demo"
CATALOG_KEY = Ed25519PrivateKey.generate()
BADGE_SIGNER = BadgeSigner(Ed25519PrivateKey.generate())

ATTENDEES = [
    Attendee(
        id="a1", name="Łucja Łódź", ticket_type_id="full", company="Łąka Systems", email="lucja@example.org"
    ),
    Attendee(id="a2", name="Søren Østergaard", ticket_type_id="speaker", company="Nørrebro Robotics"),
    Attendee(
        id="a3", name="Anna Berger", ticket_type_id="expo", company="Ostrava Steel", order_ref="ORD-7Q2X"
    ),
    Attendee(id="a4", name="Jürgen Ødegård", ticket_type_id="full", company="Straßenbahn AG"),
]


def catalog(attendees: list[Attendee] = ATTENDEES, revision: int = 1, **kw: object) -> Catalog:
    return Catalog(
        event=EventInfo(id=EVENT, name="Demo Days", timezone="Europe/Vienna"),
        revision=revision,
        ticket_types=[
            TicketType("full", "Full pass"),
            TicketType("expo", "Expo pass"),
            TicketType("speaker", "Speaker"),
        ],
        lists=[CheckinList(id="main", name="Main entrance")],
        gates=[Gate(id="north", name="North entrance", default_list="main")],
        keys=[PublicKey(kid=BADGE_SIGNER.kid, public_key=b64(BADGE_SIGNER.public))],
        attendees=attendees,
        **kw,  # type: ignore[arg-type]
    )


@dataclass
class Box:
    """An appliance data directory, with helpers to import into it and look inside."""

    data: DataDir
    tmp: Path

    def write(self, name: str, content: bytes | str) -> Path:
        path = self.tmp / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    async def bundle(
        self, cat: Catalog, key: Ed25519PrivateKey = CATALOG_KEY, name: str = "c.json"
    ) -> ImportReport:
        return await import_file(self.data, self.write(name, sign_catalog(cat, key)))

    async def csv(self, text: str, **kw: object) -> ImportReport:
        return await import_file(self.data, self.write("people.csv", text), **kw)  # type: ignore[arg-type]

    def rows(self) -> list[tuple[str, ...]]:
        conn = sqlite3.connect(self.data.database)
        try:
            return conn.execute(
                "SELECT id, name, company, email, ticket_type_id, source FROM attendee ORDER BY id"
            ).fetchall()
        finally:
            conn.close()

    def count(self) -> int:
        conn = sqlite3.connect(self.data.database)
        try:
            return int(conn.execute("SELECT count(*) FROM attendee").fetchone()[0])
        finally:
            conn.close()

    def names(self) -> set[str]:
        return {r[1] for r in self.rows()}

    def revision(self) -> int | None:
        conn = sqlite3.connect(self.data.database)
        try:
            row = conn.execute("SELECT revision FROM catalog_event WHERE id = ?", (EVENT,)).fetchone()
            return None if row is None else int(row[0])
        finally:
            conn.close()

    async def search(self, query: str) -> list[str]:
        async with aiosqlite.connect(self.data.database) as conn:
            return [hit.name for hit in await search(conn, EVENT, query)]


@pytest.fixture
def box(tmp_path: Path) -> Box:
    data = DataDir(tmp_path / "box")
    data.init([EVENT], "box1", [b64(raw_public_key(CATALOG_KEY.public_key()))])
    return Box(data, tmp_path)


@pytest.fixture
async def loaded(box: Box) -> AsyncIterator[Box]:
    """An appliance holding revision 1 of the catalog (four attendees)."""
    await box.bundle(catalog())
    yield box


# --- bundles ---------------------------------------------------------------------------------


async def test_a_signed_bundle_imports(box: Box) -> None:
    report = await box.bundle(catalog())
    assert report.problems == []
    assert report.rows == 4
    assert report.result is not None
    assert (report.result.revision, report.result.added, report.result.updated) == (1, 4, 0)
    assert box.names() == {a.name for a in ATTENDEES}
    assert {r[5] for r in box.rows()} == {"catalog"}
    assert box.revision() == 1


async def test_a_tampered_bundle_is_refused_and_changes_nothing(loaded: Box) -> None:
    before = loaded.rows()
    data = sign_catalog(
        catalog([*ATTENDEES, Attendee(id="a5", name="Mallory", ticket_type_id="full")], 2), CATALOG_KEY
    )
    assert b"Anna Berger" in data
    path = loaded.write("tampered.json", data.replace(b"Anna Berger", b"Anna Bergen"))
    with pytest.raises(BundleError, match="altered"):
        await import_file(loaded.data, path)
    assert loaded.rows() == before
    assert loaded.revision() == 1


async def test_a_bundle_signed_by_an_untrusted_key_is_refused(box: Box) -> None:
    with pytest.raises(BundleError, match="does not trust"):
        await box.bundle(catalog(), key=Ed25519PrivateKey.generate())
    assert box.count() == 0
    assert box.revision() is None


async def test_a_bundle_that_is_not_json_is_refused(box: Box) -> None:
    with pytest.raises(BundleError, match="not JSON"):
        await import_file(box.data, box.write("c.json", b"\x00not json"))


async def test_a_bundle_of_another_event_is_refused(box: Box) -> None:
    other = msgspec.structs.replace(catalog(), event=EventInfo(id="other", name="Other"))
    with pytest.raises(BundleError, match="for event 'other'"):
        await box.bundle(other)
    assert box.count() == 0


async def test_an_attendee_with_an_unknown_ticket_type_rejects_the_bundle(box: Box) -> None:
    bad = [*ATTENDEES[:2], Attendee(id="a9", name="Zoë Ångström", ticket_type_id="vip"), *ATTENDEES[2:]]
    with pytest.raises(ImportRejected) as info:
        await box.bundle(catalog(bad))
    problems = info.value.report.problems
    assert len(problems) == 1
    assert problems[0].line == 3  # the attendee's position in the bundle
    assert problems[0].field == "ticket_type_id"
    assert "vip" in problems[0].message
    assert "line 3" in str(problems[0])
    assert box.count() == 0


async def test_duplicate_attendee_ids_reject_the_bundle(box: Box) -> None:
    bad = [*ATTENDEES, Attendee(id="a2", name="Søren Again", ticket_type_id="full")]
    with pytest.raises(ImportRejected) as info:
        await box.bundle(catalog(bad))
    assert [(p.line, p.field) for p in info.value.report.problems] == [(5, "id")]
    assert box.count() == 0


async def test_a_delta_on_the_wrong_base_is_a_conflict(loaded: Box) -> None:
    before = loaded.rows()
    delta = catalog(
        [Attendee(id="a5", name="Ramón Núñez", ticket_type_id="full")], revision=4, base_revision=3
    )
    with pytest.raises(CatalogConflict, match="revision 3"):
        await loaded.bundle(delta)
    assert loaded.rows() == before
    assert loaded.revision() == 1


async def test_a_delta_on_an_empty_appliance_is_a_conflict(box: Box) -> None:
    with pytest.raises(CatalogConflict, match="no catalog"):
        await box.bundle(catalog([], revision=2, base_revision=1))
    assert box.count() == 0


async def test_an_older_snapshot_is_a_conflict(loaded: Box) -> None:
    await loaded.bundle(catalog(revision=5))
    with pytest.raises(CatalogConflict, match="older"):
        await loaded.bundle(catalog(ATTENDEES[:1], revision=4))
    assert loaded.count() == 4
    assert loaded.revision() == 5


async def test_a_delta_adds_updates_and_removes(loaded: Box) -> None:
    assert await loaded.search("berger") == ["Anna Berger"]
    delta = catalog(
        [
            Attendee(id="a5", name="Ramón Núñez", ticket_type_id="speaker"),
            Attendee(id="a1", name="Łucja Łódź-Wąsowska", ticket_type_id="full", company="Łąka Systems"),
        ],
        revision=2,
        base_revision=1,
        removed=["a3", "does-not-exist"],
    )
    report = await loaded.bundle(delta)
    assert report.result is not None
    assert (report.result.revision, report.result.added, report.result.updated, report.result.removed) == (
        2,
        1,
        1,
        1,
    )
    assert loaded.names() == {"Łucja Łódź-Wąsowska", "Søren Østergaard", "Jürgen Ødegård", "Ramón Núñez"}
    assert loaded.revision() == 2
    # The search index follows: the removed attendee is gone, the renamed one found by the new name.
    assert await loaded.search("berger") == []
    assert await loaded.search("ostrava") == []
    assert await loaded.search("wasowska") == ["Łucja Łódź-Wąsowska"]
    assert await loaded.search("nunez") == ["Ramón Núñez"]


async def test_a_new_snapshot_drops_attendees_it_no_longer_lists(loaded: Box) -> None:
    report = await loaded.bundle(catalog(ATTENDEES[:2], revision=2))
    assert report.result is not None and report.result.removed == 2
    assert loaded.names() == {"Łucja Łódź", "Søren Østergaard"}
    assert await loaded.search("odegard") == []


# --- CSV: malformed files ----------------------------------------------------------------------

MALFORMED = """\
name,email,company,ticket_type
Chloé Dupont,chloe@example.org,Café Façade SARL,full
,nobody@example.org,ACME,full
Björn Björklund,bjorn@example.org,Nørrebro Robotics,platinum
Émile Lefèvre,not-an-email,Ñandú Labs,expo
Mei Tanaka,mei@example.org,full
Chloé Dupont,chloe@example.org,Café Façade SARL,full
Þóra Jónsdóttir,thora@example.org,,Expo pass
"""
BAD_LINES = {3: "name", 4: "ticket_type", 5: "email", 6: "row", 7: "id"}


def by_line(problems: list[Problem]) -> dict[int, Problem]:
    return {p.line: p for p in problems}


async def test_a_malformed_csv_is_rejected_with_every_bad_line_and_nothing_imported(loaded: Box) -> None:
    before = loaded.rows()
    with pytest.raises(ImportRejected) as info:
        await loaded.csv(MALFORMED)
    report = info.value.report
    problems = by_line(report.problems)
    assert report.rejected_lines == set(BAD_LINES)
    assert {line: p.field for line, p in problems.items()} == BAD_LINES
    assert "must not be empty" in problems[3].message
    assert "unknown ticket type 'platinum'" in problems[4].message
    assert "full (Full pass)" in problems[4].message  # the organizer learns what is known
    assert "invalid format" in problems[5].message
    assert "3 cells, the header has 4" in problems[6].message
    assert "same attendee as line 2" in problems[7].message
    assert "nothing was imported" in str(info.value)
    assert loaded.rows() == before


async def test_skip_invalid_imports_the_valid_rows_and_reports_the_others(loaded: Box) -> None:
    report = await loaded.csv(MALFORMED, skip_invalid=True)
    assert report.rejected_lines == set(BAD_LINES)
    assert report.rows == 7
    assert report.result is not None
    assert (report.result.added, report.result.updated) == (2, 0)
    assert loaded.count() == 6
    imported = {r[1]: r for r in loaded.rows() if r[5] == "import"}
    assert set(imported) == {"Chloé Dupont", "Þóra Jónsdóttir"}
    assert imported["Þóra Jónsdóttir"][4] == "expo"  # ticket type given by its name
    assert imported["Chloé Dupont"][2] == "Café Façade SARL"


async def test_skip_invalid_with_no_valid_row_still_rejects(loaded: Box) -> None:
    with pytest.raises(ImportRejected):
        await loaded.csv("name,ticket_type\nSomeone,platinum\n", skip_invalid=True)
    assert loaded.count() == 4


async def test_line_numbers_count_lines_of_the_file_even_after_a_quoted_newline(loaded: Box) -> None:
    text = (
        "name,company,ticket_type\n"
        'Ana Gonçalves,"Ålesund Analytics\nBranch office",full\n'
        "Tomasz Kowalczyk,Łąka Systems,gold\n"
    )
    with pytest.raises(ImportRejected) as info:
        await loaded.csv(text)
    assert info.value.report.rejected_lines == {4}


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("email,company\nx@example.org,ACME\n", "name", "no name column"),
        ("name,company\nAna,ACME\n", "ticket_type", "--ticket-type"),
        ("", "file", "empty"),
    ],
)
async def test_a_csv_without_the_needed_columns_is_rejected(
    loaded: Box, text: str, field: str, words: str
) -> None:
    with pytest.raises(ImportRejected) as info:
        await loaded.csv(text)
    assert any(p.field == field and words in p.message for p in info.value.report.problems)
    assert loaded.count() == 4


async def test_a_csv_before_any_catalog_is_refused(box: Box) -> None:
    with pytest.raises(BundleError, match="no ticket types"):
        await box.csv("name,ticket_type\nAna,full\n")


async def test_a_csv_that_is_not_utf8_is_refused(loaded: Box) -> None:
    path = loaded.write("latin1.csv", "name,ticket_type\nJürgen,full\n".encode("latin-1"))
    with pytest.raises(BundleError, match="not UTF-8"):
        await import_file(loaded.data, path)
    assert loaded.count() == 4


# --- CSV: shapes that must work --------------------------------------------------------------


async def test_a_mapping_names_the_column(loaded: Box) -> None:
    text = "Teilnehmer,Firma,Kategorie\nMałgorzata Świątek,Česká Data s.r.o.,Speaker\n"
    report = await loaded.csv(
        text,
        options=CsvOptions(mapping={"name": "Teilnehmer", "company": "Firma", "ticket_type": "Kategorie"}),
    )
    assert report.result is not None and report.result.added == 1
    row = next(r for r in loaded.rows() if r[1] == "Małgorzata Świątek")
    assert (row[2], row[4]) == ("Česká Data s.r.o.", "speaker")


async def test_a_mapping_wins_over_a_recognised_header(loaded: Box) -> None:
    text = "Name,Full Name,Ticket\nGosia,Małgorzata Świątek,full\n"
    await loaded.csv(text, options=CsvOptions(mapping={"name": "Full Name"}))
    assert "Małgorzata Świątek" in loaded.names()
    assert "Gosia" not in loaded.names()


async def test_a_mapping_to_a_missing_column_is_reported(loaded: Box) -> None:
    with pytest.raises(ImportRejected) as info:
        await loaded.csv("name,ticket\nAna,full\n", options=CsvOptions(mapping={"company": "Organisation X"}))
    assert [(p.line, p.field) for p in info.value.report.problems] == [(1, "company")]
    assert "Organisation X" in info.value.report.problems[0].message


async def test_a_default_ticket_type_fills_a_file_without_one(loaded: Box) -> None:
    report = await loaded.csv(
        "first name,last name\nKwame,Mbeki\n", options=CsvOptions(default_ticket_type="expo")
    )
    assert report.result is not None and report.result.added == 1
    assert ("Kwame Mbeki", "expo") in {(r[1], r[4]) for r in loaded.rows()}


async def test_a_semicolon_separated_file_is_detected(loaded: Box) -> None:
    text = (
        "Name;Company;E-Mail;Ticket\n"
        "García Márquez, Gabriel;Brötchen & Bytes GmbH;gabo@example.org;full\n"
        "Kateřina Novák;Zürich Cloud AG, Prague office;katka@example.org;expo\n"
    )
    report = await loaded.csv(text)
    assert report.problems == []
    assert report.result is not None and report.result.added == 2
    rows = {r[1]: r for r in loaded.rows()}
    assert rows["García Márquez, Gabriel"][2] == "Brötchen & Bytes GmbH"
    assert rows["Kateřina Novák"][3] == "katka@example.org"


async def test_a_utf8_bom_is_handled(loaded: Box) -> None:
    path = loaded.write("excel.csv", "\ufeffname,ticket_type\nÆrin Häkkinen,full\n".encode())
    report = await import_file(loaded.data, path)
    assert report.result is not None and report.result.added == 1
    assert "Ærin Häkkinen" in loaded.names()


async def test_reimporting_the_same_csv_adds_no_duplicates(loaded: Box) -> None:
    text = (
        "name,email,ticket_type\n"
        "Radosław Wąsowska,radek@example.org,full\n"
        "Ingrid Björklund,ingrid@example.org,expo\n"
    )
    first = await loaded.csv(text)
    second = await loaded.csv(text)
    assert first.result is not None and (first.result.added, first.result.updated) == (2, 0)
    assert second.result is not None and (second.result.added, second.result.updated) == (0, 2)
    assert loaded.count() == 6
    assert await loaded.search("radoslaw") == ["Radosław Wąsowska"]  # one search row, not two


async def test_csv_rows_get_badges_signed_by_the_event_key_held_here(loaded: Box) -> None:
    key = loaded.data.event_key(EVENT, create=True)
    assert key is not None
    await loaded.csv("name,ticket_type\nOğuz Çelik,speaker\n")
    conn = sqlite3.connect(loaded.data.database)
    try:
        attendee_id, code = conn.execute(
            "SELECT id, badge_code FROM attendee WHERE name = 'Oğuz Çelik'"
        ).fetchone()
    finally:
        conn.close()
    signer = BadgeSigner(key)
    badge = verify(code, KeyRing([TrustedKey(signer.kid, signer.public, EVENT)]), EVENT)
    assert badge.payload == BadgePayload(EVENT, attendee_id, "speaker")


async def test_nfc_uids_are_normalised(loaded: Box) -> None:
    await loaded.csv("name,ticket_type,nfc_uid\nAna Gonçalves,full,04:a2:3b:4c\n")
    conn = sqlite3.connect(loaded.data.database)
    try:
        assert conn.execute("SELECT nfc_uid FROM attendee WHERE name = 'Ana Gonçalves'").fetchone() == (
            "04A23B4C",
        )
    finally:
        conn.close()


async def test_two_csv_rows_with_the_same_nfc_tag_are_rejected(loaded: Box) -> None:
    text = "name,ticket_type,nfc_uid\nAna Gonçalves,full,04:a2:3b:4c\nBen Smith,expo,04A23B4C\n"
    with pytest.raises(ImportRejected) as info:
        await loaded.csv(text)
    assert [(p.line, p.field) for p in info.value.report.problems] == [(3, "nfc_uid")]
    assert loaded.count() == 4


# --- folding and search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Łódź", "lodz"),
        ("Østergaard", "ostergaard"),
        ("Straße", "strasse"),
        ("Jürgen Ødegård", "jurgen odegard"),
        ("Đorđević", "dordevic"),
        ("Y\u0131lmaz", "yilmaz"),
        ("Þóra", "thora"),
        ("Æ Œ", "ae oe"),
        ("\uff21\uff22\uff23", "abc"),  # full-width letters from a Japanese keyboard
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


async def test_search_folds_diacritics_and_special_letters(loaded: Box) -> None:
    assert await loaded.search("lodz") == ["Łucja Łódź"]
    assert await loaded.search("ŁÓDŹ") == ["Łucja Łódź"]
    assert await loaded.search("strassenbahn") == ["Jürgen Ødegård"]
    assert await loaded.search("jur ode") == ["Jürgen Ødegård"]


async def test_search_matches_prefixes_from_two_characters(loaded: Box) -> None:
    assert "Søren Østergaard" in await loaded.search("ost")
    assert "Søren Østergaard" in await loaded.search("os")


async def test_search_covers_email_and_order(loaded: Box) -> None:
    assert await loaded.search("lucja@example") == ["Łucja Łódź"]
    assert await loaded.search("ORD-7Q2X") == ["Anna Berger"]


async def test_name_matches_rank_before_company_only_matches(loaded: Box) -> None:
    # "ost": Søren Østergaard by name, Anna Berger only by her company "Ostrava Steel".
    assert await loaded.search("ost") == ["Søren Østergaard", "Anna Berger"]


@pytest.mark.parametrize("query", ["ł", "a", " ", "", "!!", "a b"])
async def test_a_query_too_short_is_refused(loaded: Box, query: str) -> None:
    with pytest.raises(CheckinError) as info:
        await loaded.search(query)
    assert info.value.code == "query_too_short"


async def test_a_large_csv_reports_progress_while_checking_and_writing(loaded: Box) -> None:
    rows = "\n".join(f"Person {i},full,p{i}@example.org" for i in range(25_000))
    calls: list[tuple[str, int, int]] = []
    report = await loaded.csv(f"name,ticket_type,email\n{rows}\n", progress=lambda *a: calls.append(a))
    assert report.result is not None and report.result.added == 25_000
    phases = [phase for phase, _, _ in calls]
    assert phases.index("writing") > phases.index("checking"), "rows are checked before anything is written"
    writing = [(done, total) for phase, done, total in calls if phase == "writing"]
    assert writing[-1] == (50_000, 50_000), "rows and their search rows, all written"
    assert [done for done, _ in writing] == sorted(done for done, _ in writing)
    assert len(writing) >= 5, "a bar that moves, not one jump at the end"


async def test_a_bundle_with_an_unknown_time_zone_is_refused_whole(box: Box) -> None:
    """Day lists and the times read out at the door depend on it: no silent fallback to UTC."""
    cat = msgspec.structs.replace(
        catalog(), event=EventInfo(id=EVENT, name="Demo Days", timezone="Mars/Olympus")
    )
    with pytest.raises(ImportRejected) as info:
        await box.bundle(cat)
    assert [(p.field, p.message) for p in info.value.report.problems] == [
        ("event.timezone", "unknown time zone 'Mars/Olympus'")
    ]
    assert box.rows() == []
