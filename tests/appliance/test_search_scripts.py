# ruff: noqa: RUF001, RUF003  (Cyrillic and Greek letters that look Latin are the point here)
"""Name search in any script: Cyrillic, Greek, Chinese, Japanese, Korean and accented Latin.

The in-process tests import a signed catalog into a real appliance data
directory (``import_file``, what ``konferenco appliance import`` runs) and
search it with the desk's own function; the HTTP tests register walk-ins
on a running demo appliance and search them through ``/api/v1/attendees``;
the migration test opens a database written by the previous schema.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
import pytest
import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from appliance.catalog import schema
from appliance.catalog.roster import amend
from appliance.checkin.service import CheckinError
from appliance.config import DataDir
from appliance.desk.service import search
from appliance.storage import import_file
from konferenco.badges import b64, raw_public_key
from konferenco.catalog.bundle import Attendee, Catalog, EventInfo, Gate, TicketType, sign_catalog
from konferenco.rules import CheckinList
from tests.appliance.conftest import DemoAppliance

EVENT = "demo"
CATALOG_KEY = Ed25519PrivateKey.generate()

PEOPLE = {
    "ru": Attendee(id="ru", name="Иван Петров", ticket_type_id="full", company="Газпром нефть"),
    "ru2": Attendee(id="ru2", name="Йоханнес Ёлкин", ticket_type_id="full"),
    "gr": Attendee(id="gr", name="Γιώργος Παπαδόπουλος", ticket_type_id="full"),
    "jp": Attendee(id="jp", name="田中 太郎", ticket_type_id="full", company="株式会社サンプル"),
    "jp2": Attendee(id="jp2", name="田村 花子", ticket_type_id="full"),
    "jp3": Attendee(id="jp3", name="山田太郎", ticket_type_id="full"),
    "kana": Attendee(id="kana", name="ガルシア マリア", ticket_type_id="full"),
    "zh": Attendee(id="zh", name="王小明", ticket_type_id="full", order_ref="ORD-88A1"),
    "ko": Attendee(id="ko", name="김민수", ticket_type_id="full"),
    "es": Attendee(id="es", name="Ramón Núñez", ticket_type_id="full"),
    "de": Attendee(id="de", name="Jürgen Müller", ticket_type_id="full"),
}


def _catalog(attendees: list[Attendee]) -> Catalog:
    return Catalog(
        event=EventInfo(id=EVENT, name="Demo Days", timezone="Asia/Tokyo"),
        revision=1,
        issued_at=0,
        ticket_types=[TicketType("full", "Full pass")],
        lists=[CheckinList(id="main", name="Main entrance")],
        gates=[Gate(id="north", name="North entrance", default_list="main")],
        attendees=attendees,
    )


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[DataDir]:
    data = DataDir(tmp_path / "box")
    data.init([EVENT], "box1", [b64(raw_public_key(CATALOG_KEY.public_key()))])
    bundle = tmp_path / "catalog.json"
    bundle.write_bytes(sign_catalog(_catalog(list(PEOPLE.values())), CATALOG_KEY))
    await import_file(data, bundle)
    yield data


async def _found(database: Path, query: str) -> list[str]:
    async with aiosqlite.connect(database) as conn:
        return [hit.id for hit in await search(conn, EVENT, query)]


# --- alphabets with spaces between words: prefixes, counted in characters -------------------


@pytest.mark.parametrize("query", ["Иван", "иван", "Ив", "ив", "петров", "Пет", "газпром", "иван пет"])
async def test_cyrillic_names_are_found(box: DataDir, query: str) -> None:
    assert await _found(box.database, query) == ["ru"]


async def test_cyrillic_letters_with_marks_fold_like_latin_accents(box: DataDir) -> None:
    # Russians often type е for ё and и for й.
    assert await _found(box.database, "елкин") == ["ru2"]
    assert await _found(box.database, "иоханнес") == ["ru2"]
    assert await _found(box.database, "Ёлкин") == ["ru2"]


@pytest.mark.parametrize("query", ["Γιώργος", "γιωργος", "ΓΙΏΡΓΟΣ", "Γι", "Παπαδ", "παπαδοπουλος"])
async def test_greek_names_are_found_with_or_without_accents_and_final_sigma(
    box: DataDir, query: str
) -> None:
    assert await _found(box.database, query) == ["gr"]


@pytest.mark.parametrize(
    ("query", "who"), [("nunez", "es"), ("NÚÑEZ", "es"), ("muller", "de"), ("jur", "de")]
)
async def test_latin_accents_are_ignored(box: DataDir, query: str, who: str) -> None:
    assert await _found(box.database, query) == [who]


# --- Chinese, Japanese, Korean: substrings from one character on ----------------------------


async def test_japanese_family_name_in_two_characters_finds_only_that_family(box: DataDir) -> None:
    assert await _found(box.database, "田中") == ["jp"]
    assert await _found(box.database, "田村") == ["jp2"]


async def test_one_japanese_character_finds_every_name_holding_it(box: DataDir) -> None:
    assert sorted(await _found(box.database, "田")) == ["jp", "jp2", "jp3"]
    assert await _found(box.database, "花") == ["jp2"]


async def test_japanese_given_name_and_a_name_typed_without_its_space(box: DataDir) -> None:
    assert sorted(await _found(box.database, "太郎")) == ["jp", "jp3"]  # "山田太郎" has no space
    assert await _found(box.database, "田中太郎") == ["jp"]
    assert await _found(box.database, "田中 太郎") == ["jp"]
    assert await _found(box.database, "山田") == ["jp3"]


async def test_a_cjk_query_matches_characters_in_order_not_scattered(box: DataDir) -> None:
    # 中 and 太 are both in "田中 太郎"/"山田太郎", 田 and 郎 too, but no name reads "郎田" or "太田".
    assert await _found(box.database, "郎田") == []
    assert await _found(box.database, "太田") == []
    assert await _found(box.database, "鈴木") == []


async def test_katakana_and_a_japanese_company(box: DataDir) -> None:
    assert await _found(box.database, "ガル") == ["kana"]
    assert await _found(box.database, "マリア") == ["kana"]
    assert await _found(box.database, "カル") == []  # the voicing mark is part of the letter
    assert await _found(box.database, "サンプル") == ["jp"]


@pytest.mark.parametrize("query", ["小明", "王", "明", "王小明"])
async def test_chinese_names_are_found_from_one_character(box: DataDir, query: str) -> None:
    assert await _found(box.database, query) == ["zh"]


@pytest.mark.parametrize("query", ["김", "민수", "김민수", "수"])
async def test_korean_names_are_found_from_one_syllable(box: DataDir, query: str) -> None:
    assert await _found(box.database, query) == ["ko"]


async def test_order_codes_still_match_beside_a_cjk_name(box: DataDir) -> None:
    assert await _found(box.database, "ORD-88A1") == ["zh"]


# --- what stays refused -------------------------------------------------------------------


@pytest.mark.parametrize("query", ["a", "И", "γ", "7", "a b", "И в", "", " ", "!!", "・"])
async def test_one_letter_of_an_alphabet_is_still_too_short(box: DataDir, query: str) -> None:
    with pytest.raises(CheckinError) as info:
        await _found(box.database, query)
    assert info.value.code == "query_too_short"
    assert "at least 2 letters" in str(info.value)


# --- every write path keeps the index -------------------------------------------------------


async def test_a_correction_to_a_cjk_name_is_searchable_and_the_old_name_is_gone(box: DataDir) -> None:
    conn = sqlite3.connect(box.database, isolation_level=None)
    try:
        conn.execute("BEGIN")
        assert amend(conn, EVENT, "jp2", "name", "鈴木 花子")
        conn.execute("COMMIT")
    finally:
        conn.close()
    assert await _found(box.database, "鈴木") == ["jp2"]
    assert await _found(box.database, "田村") == []


async def test_an_existing_database_migrates_and_its_names_become_searchable(tmp_path: Path) -> None:
    """A box that imported its roster under schema version 2 (ASCII-only query words, no CJK columns)."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    for step in schema.MIGRATIONS[:2]:
        step(db)
    conn.execute("PRAGMA user_version = 2")
    for rowid, (name, company) in enumerate(
        [("田中 太郎", "株式会社サンプル"), ("Иван Петров", ""), ("Søren Østergaard", "Nørrebro")], start=1
    ):
        conn.execute(
            "INSERT INTO attendee (rowid, event_id, id, name, company, email, order_ref, ticket_type_id,"
            " status, source) VALUES (?, ?, ?, ?, ?, '', '', 'full', 'valid', 'catalog')",
            (rowid, EVENT, f"p{rowid}", name, company),
        )
        # What version 2 wrote: the folded text, four columns.
        conn.execute(
            "INSERT INTO attendee_fts (rowid, name, company, email, order_ref) VALUES (?, ?, ?, '', '')",
            (rowid, name.lower().replace("ø", "o"), company.lower().replace("ø", "o")),
        )
    assert schema.migrate(conn) == len(schema.MIGRATIONS)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    conn.close()
    assert await _found(path, "田") == ["p1"]
    assert await _found(path, "サンプル") == ["p1"]
    assert await _found(path, "Ив") == ["p2"]
    assert await _found(path, "oster") == ["p3"]


# --- through the HTTP API of a running appliance -----------------------------------------------


def _walk_in(app: DemoAppliance, name: str) -> str:
    with app.client("desk") as client:
        response = client.post("/api/v1/attendees", json={"name": name, "ticket_type_id": "full"})
    assert response.status_code == 201, response.text
    attendee_id: str = response.json()["attendee_id"]
    return attendee_id


def _api_search(app: DemoAppliance, q: str) -> httpx.Response:
    with app.client("desk") as client:
        return client.get("/api/v1/attendees", params={"q": q, "limit": 100})


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    hits: list[dict[str, Any]] = response.json()["attendees"]
    return [h["id"] for h in hits]


def test_walk_ins_in_other_scripts_are_found_at_the_desk(demo_appliance: DemoAppliance) -> None:
    natalia = _walk_in(demo_appliance, "Наталья Иванова")
    sato = _walk_in(demo_appliance, "佐藤 健")
    eleni = _walk_in(demo_appliance, "Ελένη Νικολάου")
    assert _ids(_api_search(demo_appliance, "Наталья")) == [natalia]
    assert _ids(_api_search(demo_appliance, "На")) == [natalia]
    assert _ids(_api_search(demo_appliance, "佐藤")) == [sato]
    assert _ids(_api_search(demo_appliance, "佐")) == [sato]
    assert _ids(_api_search(demo_appliance, "ελενη")) == [eleni]


def test_the_api_still_refuses_a_single_latin_letter_in_words(demo_appliance: DemoAppliance) -> None:
    response = _api_search(demo_appliance, "a")
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "query_too_short"
    assert "one character is enough in Chinese, Japanese or Korean" in body["message"]
