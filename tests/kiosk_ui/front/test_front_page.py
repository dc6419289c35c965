"""The appliance's front page ``/`` in real Chromium, against a real appliance with a real printer socket.

What a passer-by sees (the box, its event, its health, the links; nobody's name, no device), what a
technician sees after signing in with a name and PIN (the hub link and what it has not
acknowledged, printers and devices with their state, refreshed without a reload), the refusals
(wrong PIN, a locked account, a kiosk's account, another site's form), the pairing code a desk
account makes for a kiosk, and the API docs working with the internet blocked.
"""

from __future__ import annotations

import re
import urllib.parse
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.drivers.test_printer import PAPER_OUT
from tests.kiosk_ui.conftest import PRINTER_ID, Venue, wait_until
from tests.kiosk_ui.front.conftest import COOKIE, PHONE, add_staff, front, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

pytestmark = pytest.mark.slow


def test_the_public_page_shows_the_box_its_event_and_links_and_nothing_personal(
    venue: Venue, browser: Browser
) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue, PHONE)
    page = context.new_page()
    answer = page.goto("/")
    assert answer is not None and answer.status == 200
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    expect(page.locator("#box-name")).to_have_text("Konferenco appliance")
    expect(page.locator("#event")).to_contain_text("Konferenco Demo Days")
    expect(page.locator("#health")).to_contain_text("Working")
    for href in ("/kiosk", "/door", "/signage", "/schema", "/healthz"):
        expect(page.locator(f'#links a[href="{href}"]')).to_be_visible()
    expect(page.locator("#signin-name")).to_be_visible()
    text = page.locator("body").inner_text()
    assert PRINTER_ID not in text and "Printers" not in text and "Hub link" not in text
    assert str(venue.data) not in page.content()
    personal = [row["name"] for row in venue.badges]  # (one demo company is called "Konferenco")
    assert personal and not [v for v in personal if v in text]
    assert page.locator("#panel").count() == 0
    context.close()


def test_a_wrong_pin_is_refused_in_words_and_the_right_one_shows_the_box(
    venue: Venue, browser: Browser, staff: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue)
    page = context.new_page()
    sign_in(page, "Desk", "0000" if staff["Desk"]["pin"] != "0000" else "1111")
    expect(page.locator("#signin-error")).to_contain_text("Wrong name or PIN")
    expect(page.locator("#signin-name")).to_have_value("Desk")  # what was typed stays
    assert page.locator("#panel").count() == 0
    assert not [c for c in context.cookies() if c["name"] == COOKIE]

    sign_in(page, "Desk", staff["Desk"]["pin"])
    expect(page.locator("#signed-in-as")).to_have_text("Desk")
    expect(page.locator("#hub-state")).to_contain_text("No hub configured")
    printer = page.locator(f'[data-printer="{PRINTER_ID}"]')
    expect(printer).to_contain_text("Ready")
    cookie = next(c for c in context.cookies() if c["name"] == COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] not in page.content()  # the token is never in the page
    assert "konferenco_kiosk" not in {c["name"] for c in context.cookies()}
    context.close()


def test_the_panel_follows_scans_and_a_printer_switched_off_without_a_reload(
    venue: Venue, browser: Browser, staff: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue, PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, "Organizer", staff["Organizer"]["pin"])
    count = page.locator("#hub-unacknowledged")
    expect(count).to_be_visible()

    def shown() -> int:
        found = re.search(r"(\d+) change", count.inner_text())
        return int(found.group(1)) if found else 0

    before = shown()
    page.evaluate("window.__loaded = true")  # gone if the page reloads
    for _ in range(3):
        assert venue.door_says(venue.take()["badge_code"])["result"] == "admitted"
    wait_until(lambda: shown() >= before + 3, "the three scans counted as not yet at the hub", timeout=15)
    expect(page.locator("#hub-state")).to_contain_text("No hub configured")

    printer = page.locator(f'[data-printer="{PRINTER_ID}"]')
    expect(printer).to_contain_text("Ready")
    try:
        venue.printer_off()
        expect(printer).to_contain_text("Offline", timeout=20_000)
        venue.printer_on(status=PAPER_OUT)
        expect(printer).to_contain_text("No paper", timeout=20_000)
    finally:
        venue.printer_on()
    expect(printer).to_contain_text("Ready", timeout=20_000)
    assert page.evaluate("window.__loaded === true"), "the page reloaded instead of refreshing the panel"
    assert errors == [], errors  # no script error, nothing the Content-Security-Policy blocked
    context.close()


def test_too_many_wrong_pins_lock_the_account_and_the_page_says_so(venue: Venue, browser: Browser) -> None:
    from playwright.sync_api import expect

    add_staff(venue, "Lock Test", "door", "8642")
    context = front(browser, venue)
    page = context.new_page()
    for _ in range(5):
        sign_in(page, "Lock Test", "1357")
        expect(page.locator("#signin-error")).to_be_visible()
    sign_in(page, "Lock Test", "8642")  # the right PIN, too late
    expect(page.locator("#signin-error")).to_contain_text("locked")
    assert page.locator("#panel").count() == 0
    context.close()


def test_a_kiosk_account_cannot_sign_in_here(
    venue: Venue, browser: Browser, staff: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue)
    page = context.new_page()
    sign_in(page, "Kiosk", staff["Kiosk"]["pin"])
    expect(page.locator("#signin-error")).to_contain_text("kiosk's account")
    assert not [c for c in context.cookies() if c["name"] == COOKIE]
    context.close()


def test_a_desk_account_makes_a_pairing_code_a_kiosk_can_pair_with(
    venue: Venue, browser: Browser, staff: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue, PHONE)
    page = context.new_page()
    sign_in(page, "Desk", staff["Desk"]["pin"])
    page.locator("#kiosk-name").fill("Hall B kiosk")
    page.locator("#make-pairing-code").click()
    code = page.locator("#pairing-code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    expect(page.locator("#pairing-result")).to_contain_text("Hall B kiosk")
    paired = httpx.post(f"{venue.url}/api/v1/kiosk/pair", json={"code": code.inner_text()}, timeout=15)
    assert paired.status_code == 200, paired.text
    assert paired.json()["token"]
    again = httpx.post(f"{venue.url}/api/v1/kiosk/pair", json={"code": code.inner_text()}, timeout=15)
    assert again.status_code == 401 or again.json()["code"] == "wrong_code"  # single use
    context.close()

    door = front(browser, venue)
    page = door.new_page()
    sign_in(page, "Door", staff["Door"]["pin"])
    expect(page.locator("#signed-in-as")).to_have_text("Door")
    assert page.locator("#make-pairing-code").count() == 0
    expect(page.locator("#howto")).to_contain_text("A desk or organizer account makes the code here")
    door.close()


def test_sign_out_forgets_the_token_and_shows_the_form_again(
    venue: Venue, browser: Browser, staff: dict[str, dict[str, str]]
) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue)
    page = context.new_page()
    sign_in(page, "Desk", staff["Desk"]["pin"])
    expect(page.locator("#signed-in-as")).to_be_visible()
    page.locator("#sign-out").click()
    expect(page.locator("#signin-name")).to_be_visible()
    assert page.locator("#panel").count() == 0
    assert not [c for c in context.cookies() if c["name"] == COOKIE]
    page.goto("/")
    expect(page.locator("#signin-name")).to_be_visible()
    context.close()


def test_a_post_from_another_site_is_refused_and_changes_nothing(
    venue: Venue, staff: dict[str, dict[str, str]]
) -> None:
    evil = {"Origin": "http://evil.example"}
    signed = httpx.post(
        f"{venue.url}/front/sign-in",
        data={"name": "Desk", "pin": staff["Desk"]["pin"]},
        headers=evil,
        timeout=15,
    )
    assert signed.status_code == 403
    assert COOKIE not in signed.cookies
    no_origin = httpx.post(
        f"{venue.url}/front/sign-in", data={"name": "Desk", "pin": staff["Desk"]["pin"]}, timeout=15
    )
    assert no_origin.status_code == 403
    # A signed-in browser lured to another site: its cookie would go along, the post still fails.
    token = httpx.post(
        f"{venue.url}/api/v1/auth/login", json={"name": "Desk", "secret": staff["Desk"]["pin"]}, timeout=15
    ).json()["token"]
    made = httpx.post(
        f"{venue.url}/front/pairing-code",
        data={"kiosk_name": "Evil kiosk"},
        headers={**evil, "Cookie": f"{COOKIE}={token}"},
        timeout=15,
    )
    assert made.status_code == 403
    assert not re.search(r"\b\d{6}\b", made.text)
    out = httpx.post(
        f"{venue.url}/front/sign-out", headers={**evil, "Cookie": f"{COOKIE}={token}"}, timeout=15
    )
    assert out.status_code == 403


def test_a_forged_or_ended_token_shows_the_sign_in_form(venue: Venue, browser: Browser) -> None:
    from playwright.sync_api import expect

    context = front(browser, venue)
    context.add_cookies(
        [{"name": COOKIE, "value": "ks1.forged." + uuid.uuid4().hex, "url": venue.url, "httpOnly": True}]
    )
    page = context.new_page()
    page.goto("/")
    expect(page.locator("#signin-expired")).to_contain_text("session has ended")
    assert not [c for c in context.cookies() if c["name"] == COOKIE]
    panel = httpx.get(f"{venue.url}/front/panel", headers={"Cookie": f"{COOKIE}=ks1.x.y"}, timeout=15)
    assert panel.headers.get("hx-refresh") == "true"
    context.close()


def test_the_api_docs_load_and_render_with_the_internet_blocked(venue: Venue, browser: Browser) -> None:
    from playwright.sync_api import expect

    host = urllib.parse.urlsplit(venue.url).netloc
    outside: list[str] = []

    def only_the_box(route: Route) -> None:
        if urllib.parse.urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context = front(browser, venue, {"width": 1280, "height": 900})
    context.route("**/*", only_the_box)
    page = context.new_page()
    page.goto("/")
    page.locator('#links a[href="/schema"]').click()
    page.wait_for_url("**/schema")
    # Redoc drew the API from /schema/openapi.json: the title and an operation of ours.
    expect(page.get_by_role("heading", name=re.compile("Konferenco appliance"))).to_be_visible(timeout=20_000)
    expect(page.get_by_text("/api/v1/overview/public").first).to_be_attached(timeout=20_000)
    swagger = context.new_page()
    swagger.goto("/schema/swagger")
    expect(swagger.locator(".swagger-ui .info .title")).to_contain_text(
        "Konferenco appliance", timeout=20_000
    )
    assert outside == [], f"the docs reached for the internet: {outside}"
    context.close()
