"""The kiosk's pages as a browser receives them, from a real appliance process (no browser here).

What an attendee or a venue would notice without running any JavaScript:
pairing leaves an HttpOnly cookie and never the token in the page; every
screen comes in each of the five languages, with nothing left in English;
the pages and their assets load nothing from outside the appliance; a POST
from another site is refused; refusals, the name search with its second
factor, corrections, the Print button (a double tap prints once) and the
propose step answer with the right screen.  The browser tests (helper C's)
drive the same pages in Chromium.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
from babel.messages.pofile import read_po

from kiosk_ui.web.catalogs import template_catalog
from tests.appliance.kiosk_support import KioskCorner, kiosk_corner
from tests.helpers import konferenco, wait_for

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "kiosk_ui" / "locale"
LANGUAGES = ("en", "de", "fr", "es", "ja")
COOKIE = "konferenco_kiosk"
#: 2026-03-14 00:30 in Vienna (the demo event's zone), still Friday 23:30 in UTC: the kiosk must say Saturday.
SATURDAY_MORNING = 1773444600000


@pytest.fixture(scope="module")
def corner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskCorner]:
    with kiosk_corner(tmp_path_factory.mktemp("kiosk-pages")) as made:
        yield made


def page_client(corner: KioskCorner) -> httpx.Client:
    """A client that behaves like the kiosk's browser on its own pages: same Origin on every POST."""
    return httpx.Client(base_url=corner.url, headers={"Origin": corner.url}, timeout=20)


def pair_page(corner: KioskCorner, client: httpx.Client) -> httpx.Response:
    code = konferenco("appliance", "kiosk", "pair-code", "--data", str(corner.data), "--name", "Pages").stdout
    return client.post("/kiosk/pair?lang=de", data={"code": code.strip()})


@pytest.fixture(scope="module")
def kiosk(corner: KioskCorner) -> Iterator[httpx.Client]:
    """The kiosk's browser, paired through the pairing screen."""
    with page_client(corner) as client:
        paired = pair_page(corner, client)
        assert paired.status_code == 303, paired.text
        yield client


def screen_of(html: str) -> str:
    found = re.search(r'data-screen="([a-z_]+)"', html)
    assert found, html[:2000]
    return found.group(1)


def h1(html: str) -> str:
    found = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert found, html[:2000]
    return found.group(1).strip()


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name!r} in {html[:2000]}"
    return found.group(1).replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'")


# --- pairing and the cookie ------------------------------------------------------------------


def test_pairing_sets_an_httponly_strict_cookie_and_the_page_never_shows_the_token(
    corner: KioskCorner,
) -> None:
    with page_client(corner) as client:
        first = client.get("/kiosk?lang=de")
        assert first.status_code == 200 and screen_of(first.text) == "pair"
        assert 'inputmode="numeric"' in first.text and 'lang="de"' in first.text

        wrong = client.post("/kiosk/pair?lang=de", data={"code": "000000"})
        assert wrong.status_code == 403 and screen_of(wrong.text) == "pair"
        assert "falsch" in wrong.text  # the refusal in German, on the pairing screen itself
        assert COOKIE not in client.cookies

        paired = pair_page(corner, client)
        assert paired.status_code == 303 and paired.headers["location"] == "/kiosk?lang=de"
        set_cookie = paired.headers["set-cookie"]
        token = client.cookies[COOKIE]
        assert token.startswith("ks1."), set_cookie
        lowered = set_cookie.lower()
        assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
        max_age = int(re.search(r"max-age=(\d+)", lowered).group(1))  # type: ignore[union-attr]
        assert 29 * 86400 < max_age <= 30 * 86400  # the token's life, 30 days

        welcome = client.get("/kiosk?lang=de")
        assert screen_of(welcome.text) == "welcome"
        assert token not in welcome.text and token.split(".")[1] not in welcome.text


def test_a_kiosk_whose_token_is_refused_asks_to_be_paired_again_and_drops_the_cookie(
    corner: KioskCorner,
) -> None:
    with page_client(corner) as client:
        client.cookies.set(COOKIE, "ks1.forged.token")
        answer = client.get("/kiosk?lang=fr")
        assert screen_of(answer.text) == "pair"
        assert "doit être associée à nouveau" in answer.text
        assert f"{COOKIE}=" in answer.headers.get("set-cookie", "")  # cleared


def test_a_post_from_another_site_or_without_origin_is_refused_and_records_nothing(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    person = corner.take()
    grant = grant_for(kiosk, person)
    body = {"grant": grant, "nonce": str(uuid.uuid4()), "lang": "en"}
    foreign = kiosk.post("/kiosk/print", data=body, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403
    bare = httpx.post(f"{corner.url}/kiosk/print", data=body, cookies=kiosk.cookies, timeout=10)
    assert bare.status_code == 403
    jobs = corner.call("GET", "/api/v1/print-jobs", corner.tokens["desk"]).json()
    assert [j for j in jobs if j["attendee_id"] == person["attendee_id"]] == []


# --- every screen, every language ------------------------------------------------------------


def screen_urls(corner: KioskCorner) -> dict[str, str]:
    """Each screen reached by URL, the way a test or a screenshot reaches it."""
    person = corner.badges[-1]  # only identified (nothing is recorded), never checked in here
    queued = corner.call(
        "POST",
        "/api/v1/print-jobs",
        corner.tokens["desk"],
        json={"attendee_id": corner.badges[-2]["attendee_id"]},
    )
    assert queued.status_code == 202, queued.text
    badge = httpx.QueryParams({"badge": person["badge_code"]})
    return {
        "welcome": "/kiosk?screen=welcome",
        "search": "/kiosk?screen=search",
        "verify": "/kiosk?screen=verify&ref=r1&name=A.+G%E2%80%A6&company=Acme",
        "refusal": f"/kiosk?screen=refusal&result=not_yet_valid&valid_from={SATURDAY_MORNING}",
        "confirm": f"/kiosk?screen=confirm&{badge}",
        "correct": f"/kiosk?screen=correct&{badge}",
        "printing": f"/kiosk?screen=printing&job={queued.json()['id']}",
        "done": f"/kiosk?screen=done&job={queued.json()['id']}",
        "propose": "/kiosk?screen=propose",
        "propose_form": f"/kiosk?screen=propose_form&{badge}",
        "proposed": "/kiosk?screen=proposed&ref=GR-ABCDE",
        "desk": "/kiosk?screen=desk",
    }


@pytest.fixture(scope="module")
def screens(corner: KioskCorner, kiosk: httpx.Client) -> dict[tuple[str, str], str]:
    """Every screen in every language, rendered once for the tests below."""
    rendered: dict[tuple[str, str], str] = {}
    for name, url in screen_urls(corner).items():
        for lang in LANGUAGES:
            answer = kiosk.get(f"{url}&lang={lang}")
            assert answer.status_code == 200, (name, lang, answer.text[:1000])
            rendered[name, lang] = answer.text
    return rendered


def test_every_screen_renders_in_all_five_languages_with_nothing_left_in_english(
    screens: dict[tuple[str, str], str],
) -> None:
    for (name, lang), html in screens.items():
        assert f'<html lang="{lang}">' in html, (name, lang)
        assert screen_of(html) == name, (name, lang)
        if lang != "en":
            assert h1(html) != h1(screens[name, "en"]), (name, lang, h1(html))
    assert "Namensschild" in screens["confirm", "de"]
    assert "Deutsch" in screens["welcome", "en"] and "日本語" in screens["welcome", "en"]
    assert "チケット" in screens["welcome", "ja"]
    # The refusal names the day in the event's zone, as the language writes it.
    assert "ab Samstag, 14. März 2026." in screens["refusal", "de"]
    assert "à partir du samedi 14 mars 2026." in screens["refusal", "fr"]
    assert "a partir del sábado, 14 de marzo de 2026." in screens["refusal", "es"]
    assert "2026年3月14日土曜日から有効" in screens["refusal", "ja"]
    assert "valid from Saturday, 14 March 2026." in screens["refusal", "en"]


def test_no_page_or_asset_of_ours_reaches_outside_the_appliance(
    corner: KioskCorner, kiosk: httpx.Client, screens: dict[tuple[str, str], str]
) -> None:
    outside = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", re.I)
    for key, html in screens.items():
        assert not outside.search(html), (key, outside.search(html))
    for name in ("kiosk.css", "sw.js", *(f"js/{p.name}" for p in (ROOT / "kiosk_ui/static/js").glob("*.js"))):
        text = (ROOT / "kiosk_ui/static" / name).read_text(encoding="utf-8")
        assert not outside.search(text), (name, outside.search(text))
    offline = kiosk.get("/kiosk/offline?lang=es")
    assert not outside.search(offline.text) and 'lang="es"' in offline.text


def test_kiosk_pages_carry_the_strict_content_security_policy(
    screens: dict[tuple[str, str], str], kiosk: httpx.Client
) -> None:
    answer = kiosk.get("/kiosk?lang=en")
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "unsafe-inline" not in csp
    assert answer.headers["cache-control"] == "no-store"
    for key, html in screens.items():
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), key  # no inline script
        assert " style=" not in html, key  # no inline style either (the CSP has no style-src exception)


# --- the catalogs ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["de", "fr", "es", "ja"])
def test_every_catalog_translates_every_message_of_the_templates(lang: str) -> None:
    with (LOCALES / lang / "LC_MESSAGES" / "kiosk.po").open("rb") as po:
        catalog = read_po(po, locale=lang, domain="kiosk")
    translated = {m.id: m for m in catalog if m.id}
    missing = sorted(str(m.id) for m in template_catalog() if m.id and m.id not in translated)
    assert missing == [], f"{lang}: not in the catalog: {missing}"
    untranslated = [
        str(m.id)
        for m in translated.values()
        if m.fuzzy or not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    assert untranslated == [], f"{lang}: untranslated or fuzzy: {untranslated}"
    # A translation keeps the placeholders of its msgid, or the page shows a raw "%(day)s".
    for message in translated.values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)\w", str(ids[0])))
        for text in strings:
            assert set(re.findall(r"%\(\w+\)\w", str(text))) == wanted, (lang, message.id, text)


# --- the shell -------------------------------------------------------------------------------


def test_service_worker_and_vendored_assets_come_with_their_types(kiosk: httpx.Client) -> None:
    worker = kiosk.get("/kiosk/sw.js")
    assert worker.status_code == 200 and worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["service-worker-allowed"] == "/kiosk"
    assert "__VERSION__" not in worker.text and "kiosk-shell-" in worker.text
    expected = {
        "/kiosk/static/kiosk.css": "text/css",
        "/kiosk/static/js/kiosk.js": "text/javascript",
        "/kiosk/static/js/camera.js": "text/javascript",
        "/kiosk/static/vendor/htmx.min.js": "text/javascript",
        "/kiosk/static/vendor/zxing-wasm/reader/index.js": "text/javascript",
        "/kiosk/static/vendor/zxing-wasm/share.js": "text/javascript",
        "/kiosk/static/vendor/zxing-wasm/reader/zxing_reader.wasm": "application/wasm",
        "/kiosk/static/vendor/LICENSE.htmx.org.txt": "text/plain",
    }
    for path, kind in expected.items():
        answer = kiosk.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].split(";")[0] == kind, (path, answer.headers["content-type"])
    assert kiosk.get("/kiosk/static/vendor/zxing-wasm/reader/zxing_reader.wasm").content[:4] == b"\0asm"
    for path in (
        "/kiosk/static/../web/api.py",
        "/kiosk/static/%2e%2e/web/api.py",
        "/kiosk/static/nothing.js",
    ):
        assert kiosk.get(path).status_code == 404, path


# --- the flow, server-side -------------------------------------------------------------------


def matches(html: str) -> list[dict[str, str]]:
    """The masked matches of a search answer, each as the query its button sends to the verify screen."""
    urls = re.findall(r'hx-get="(/kiosk\?screen=verify[^"]*)"', html)
    return [dict(httpx.URL(unescape(url)).params) for url in urls]


def grant_for(kiosk: httpx.Client, person: dict[str, str]) -> str:
    """The grant the confirm screen holds for this person (grants are bound to the kiosk that asked)."""
    confirm = kiosk.get("/kiosk", params={"screen": "confirm", "badge": person["badge_code"], "lang": "en"})
    assert screen_of(confirm.text) == "confirm", confirm.text[:1500]
    return hidden(confirm.text, "grant")


def htmx_post(kiosk: httpx.Client, path: str, **data: str) -> httpx.Response:
    return kiosk.post(path, data=data, headers={"HX-Request": "true"})


def test_an_nfc_reader_typing_the_tags_uid_identifies_its_holder(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    person = next(
        row for row in reversed(corner.badges) if row.get("nfc_uid")
    )  # identified, nothing recorded
    answer = htmx_post(kiosk, "/kiosk/identify", code=person["nfc_uid"].lower(), lang="en", purpose="checkin")
    assert answer.status_code == 200 and screen_of(answer.text) == "confirm", answer.text[:1500]
    assert person["name"] in answer.text


def test_a_qr_that_is_not_ours_gets_the_refusal_screen_in_the_attendees_language(kiosk: httpx.Client) -> None:
    answer = htmx_post(
        kiosk, "/kiosk/identify", code="https://example.com/not-a-ticket", lang="es", purpose="checkin"
    )
    assert answer.status_code == 422
    assert screen_of(answer.text) == "refusal" and "<html" not in answer.text  # a fragment for htmx
    assert "no es una entrada para este evento" in answer.text


def test_name_search_shows_masked_names_and_asks_a_second_factor_three_times_at_most(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    short = kiosk.get("/kiosk/lookup", params={"q": "a", "lang": "de"}, headers={"HX-Request": "true"})
    assert "mindestens zwei Buchstaben" in short.text
    person = corner.take()
    surname = person["name"].split()[-1]
    found = kiosk.get("/kiosk/lookup", params={"q": surname, "lang": "en"}, headers={"HX-Request": "true"})
    assert found.status_code == 200
    assert person["name"] not in found.text and surname not in found.text  # never the full name
    found_matches = matches(found.text)
    assert found_matches, found.text
    assert all("…" in m["name"] for m in found_matches)
    assert any(m["name"].startswith(person["name"][0]) for m in found_matches)

    # Which of the matches is this person: try each ref with their factor, the right one answers.
    factor = person["order_ref"][-4:].lower()  # case does not matter
    ref = None
    for match in found_matches:
        answer = htmx_post(kiosk, "/kiosk/verify", ref=match["ref"], factor=factor, lang="en")
        if screen_of(answer.text) == "confirm":
            ref = match["ref"]
            assert person["name"] in answer.text  # shown only after the second factor
            break
    assert ref is not None

    other = corner.take()
    hits = kiosk.get(
        "/kiosk/lookup", params={"q": other["name"].split()[-1], "lang": "fr"}, headers={"HX-Request": "true"}
    )
    other_ref = matches(hits.text)[0]["ref"]
    first = htmx_post(
        kiosk, "/kiosk/verify", ref=other_ref, factor="zzzz", lang="fr", name="X. Y…", company=""
    )
    assert first.status_code == 403 and screen_of(first.text) == "verify"
    assert "Cela ne correspond pas" in first.text and 'aria-invalid="true"' in first.text
    htmx_post(kiosk, "/kiosk/verify", ref=other_ref, factor="zzzz", lang="fr")
    third = htmx_post(kiosk, "/kiosk/verify", ref=other_ref, factor="zzzz", lang="fr")
    assert third.status_code == 429 and screen_of(third.text) == "desk"
    assert "accueil" in third.text and "trois fois" in third.text


def test_the_badge_preview_is_a_png_never_kept_by_the_browser(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    grant = grant_for(kiosk, corner.take())
    png = kiosk.get("/kiosk/badge.png", params={"grant": grant})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n" and png.headers["cache-control"] == "no-store"
    assert kiosk.get("/kiosk/badge.png", params={"grant": "forged"}).status_code >= 400


def test_a_correction_beyond_the_limits_is_refused_in_place_and_a_small_one_is_saved(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    person = corner.take()
    grant = grant_for(kiosk, person)
    wild = htmx_post(kiosk, "/kiosk/correct", grant=grant, name="Completely Different Person", lang="de")
    assert wild.status_code == 422 and screen_of(wild.text) == "correct"
    assert (
        "Empfang" in wild.text and 'value="Completely Different Person"' in wild.text
    )  # nothing typed is lost
    fixed = person["name"][:-1] + ("x" if person["name"][-1] != "x" else "y")
    saved = htmx_post(
        kiosk, "/kiosk/correct", grant=grant, name=fixed, company=person.get("company") or "", lang="de"
    )
    assert saved.status_code == 200 and screen_of(saved.text) == "confirm", saved.text[:1500]
    assert "Korrektur ist gespeichert" in saved.text
    assert corner.identify(person)["attendee"]["name"] == fixed


def test_print_is_refused_before_anything_is_recorded_when_no_printer_can_print(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    person = corner.take()  # the printer is switched off: no FakePrinter on its port
    confirm = kiosk.get("/kiosk", params={"screen": "confirm", "badge": person["badge_code"], "lang": "de"})
    assert "Gerade kann kein Drucker drucken" in confirm.text and "disabled" in confirm.text
    grant = hidden(confirm.text, "grant")
    answer = htmx_post(kiosk, "/kiosk/print", grant=grant, nonce=str(uuid.uuid4()), lang="de")
    assert answer.status_code >= 400 and screen_of(answer.text) == "desk", answer.text[:1500]
    assert 'data-reason="no_printer"' in answer.text and "kein Drucker" in answer.text
    assert corner.identify(person)["checked_in"] is False


def test_a_double_tap_on_print_prints_one_badge_and_shows_its_progress(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    printer = corner.printer()
    try:
        person = corner.take()
        confirm = kiosk.get(
            "/kiosk", params={"screen": "confirm", "badge": person["badge_code"], "lang": "ja"}
        )
        wait_for(
            lambda: corner.kiosk("GET", "/api/v1/kiosk/status").json()["can_print"],
            what="the printer to be ready",
        )
        confirm = kiosk.get(
            "/kiosk", params={"screen": "confirm", "badge": person["badge_code"], "lang": "ja"}
        )
        assert "data-print" in confirm.text, confirm.text[:2000]
        grant, nonce = hidden(confirm.text, "grant"), hidden(confirm.text, "nonce")
        first = htmx_post(kiosk, "/kiosk/print", grant=grant, nonce=nonce, lang="ja")
        second = htmx_post(kiosk, "/kiosk/print", grant=grant, nonce=nonce, lang="ja")
        assert first.status_code == 200 and screen_of(first.text) in ("printing", "done"), first.text[:1500]
        job_ids = {re.search(r'data-job="([^"]+)"', r.text).group(1) for r in (first, second)}  # type: ignore[union-attr]
        assert len(job_ids) == 1
        job_id = job_ids.pop()
        assert "バッジ" in first.text
        wait_for(
            lambda: kiosk.get(f"/kiosk/job/{job_id}").json()["status"] == "done", timeout=30, what="the print"
        )
        jobs = corner.call("GET", "/api/v1/print-jobs", corner.tokens["desk"]).json()
        assert len([j for j in jobs if j["attendee_id"] == person["attendee_id"]]) == 1
        done = kiosk.get("/kiosk", params={"screen": "done", "job": job_id, "lang": "ja"})
        assert screen_of(done.text) == "done" and "チェックインが完了しました" in done.text
    finally:
        printer.stop()


def test_a_badge_revoked_while_the_attendee_reads_the_preview_is_refused_at_print_and_never_printed(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    printer = corner.printer()
    try:
        person = corner.take()
        wait_for(
            lambda: corner.kiosk("GET", "/api/v1/kiosk/status").json()["can_print"],
            what="the printer to be ready",
        )
        params = {"screen": "confirm", "badge": person["badge_code"], "lang": "es"}
        confirm = kiosk.get("/kiosk", params=params)
        assert "data-print" in confirm.text, confirm.text[:2000]
        grant, nonce = hidden(confirm.text, "grant"), hidden(confirm.text, "nonce")
        revoked = corner.call(
            "POST",
            "/api/v1/revocations",
            corner.tokens["organizer"],
            json={"target": "attendee", "value": person["attendee_id"], "reason": "refunded"},
        )
        assert revoked.status_code in (200, 201), revoked.text
        answer = htmx_post(kiosk, "/kiosk/print", grant=grant, nonce=nonce, lang="es")
        assert answer.status_code == 422 and screen_of(answer.text) == "refusal", answer.text[:1500]
        assert 'data-result="revoked"' in answer.text
        assert "impres" not in h1(answer.text).lower()  # never "your badge is printed"
        jobs = corner.call("GET", "/api/v1/print-jobs", corner.tokens["desk"]).json()
        assert [j for j in jobs if j["attendee_id"] == person["attendee_id"]] == []
    finally:
        printer.stop()


def test_the_propose_step_gives_the_reference_and_keeps_the_form_when_something_is_missing(
    corner: KioskCorner, kiosk: httpx.Client
) -> None:
    enabled = corner.call(
        "PUT", "/api/v1/schedule/settings", corner.tokens["organizer"], json={"grassroots": {"enabled": True}}
    )
    assert enabled.status_code == 200, enabled.text
    person = corner.take()
    welcome = kiosk.get("/kiosk?lang=en")
    assert "Propose a session" in welcome.text
    form = htmx_post(kiosk, "/kiosk/identify", code=person["badge_code"], lang="de", purpose="propose")
    assert screen_of(form.text) == "propose_form" and person["name"] in form.text
    badge, nonce = hidden(form.text, "badge"), hidden(form.text, "nonce")
    slots = kiosk.get(
        "/kiosk/propose/slots", params={"duration_min": 45, "lang": "de"}, headers={"HX-Request": "true"}
    )
    assert slots.status_code == 200 and "Beliebige Zeit" in slots.text
    starts = re.findall(r'name="slot" value="(\d+-\d+)"', slots.text)

    missing = htmx_post(kiosk, "/kiosk/propose", badge=badge, nonce=nonce, lang="de", title="",
                        description="Wir reden über Kaffee", duration_min="45")  # fmt: skip
    assert missing.status_code == 422 and "Titel" in missing.text
    assert "Wir reden über Kaffee" in missing.text  # what was typed stays

    body = {"badge": badge, "nonce": nonce, "lang": "de", "title": "Kaffee-Runde", "duration_min": "45",
            "slot": starts[0] if starts else ""}  # fmt: skip
    done = htmx_post(kiosk, "/kiosk/propose", **body)
    assert done.status_code == 200 and screen_of(done.text) == "proposed", done.text[:1500]
    ref = re.search(r'class="reference">(GR-[A-Z0-9]+)<', done.text)
    assert ref, done.text
    again = htmx_post(kiosk, "/kiosk/propose", **body)  # a retry answers the same proposal
    assert ref.group(1) in again.text
