"""The room sign in real Chromium, fed by a real appliance through a real Mosquitto.

What a person at the door notices: the session on now with its time left, a schedule
change within 2 s, alerts coming and going (the highest priority, only where it applies,
gone when it expires), the room filling up ("Full"), "now" moving on with the clock
and no message, and a sign that stays useful when the broker restarts, when the page is
reloaded with the broker down, and when the appliance stops (the data's age, "offline").
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.helpers import wait_for
from tests.kiosk_ui.signage.conftest import FULL_ROOM, ROOM, ROOM_NAME, Signs, connected, now_ms

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
LANDSCAPE: ViewportSize = {"width": 1920, "height": 1080}


def open_sign(browser: Browser, signs: Signs, path: str = f"/signage/{ROOM}") -> Page:
    page = browser.new_context(viewport=LANDSCAPE).new_page()
    page.goto(f"{signs.url}{path}")
    connected(page)
    return page


def text(page: Page, selector: str) -> str:
    return str(page.locator(selector).text_content() or "").strip()


@pytest.fixture(scope="module")
def on_now(signs: Signs) -> dict[str, object]:
    """A session on now in the sign's room (started 10 min ago, 50 min left) and one after it."""
    start = now_ms() - 10 * 60_000
    session = signs.add_session(ROOM, "Offline-first in practice", start, 60, speakers=["Grace Hopper"])
    signs.add_session(ROOM, "Knitting for hackers", start + 90 * 60_000, 30, grassroots=True)
    return session


def test_the_sign_shows_the_session_on_now_and_a_schedule_change_within_2_s(
    browser: Browser, signs: Signs, on_now: dict[str, object]
) -> None:
    page = open_sign(browser, signs)
    wait_for(lambda: "Offline-first in practice" in text(page, "#now"), what="the session on now")
    assert text(page, "h1") == ROOM_NAME
    assert "Grace Hopper" in text(page, "#now")
    assert "min left" in text(page, "#now")  # 50 min, or 49 by the time it is drawn
    assert "Knitting for hackers" in text(page, "#next")
    assert "Grassroots" in text(page, "#next")  # the badge is a word, not only a colour
    # The clock is the appliance's, in the event's time zone (Europe/Vienna in the demo).
    tz = httpx.get(f"{signs.url}/api/v1/signage/access").json()["timezone"]
    expected = {
        datetime.fromtimestamp(t, ZoneInfo(tz)).strftime("%H:%M") for t in (time.time() - 60, time.time())
    }
    assert text(page, "#clock") in expected | {
        datetime.fromtimestamp(time.time() + 60, ZoneInfo(tz)).strftime("%H:%M")
    }

    signs.put_session(on_now, title="Offline-first, revised")
    changed = time.monotonic()
    expect(page.locator("#now")).to_contain_text("Offline-first, revised", timeout=2000)
    assert time.monotonic() - changed < 2.0
    page.context.close()


def test_alerts_show_the_highest_priority_for_this_room_and_go_away(
    browser: Browser, signs: Signs, on_now: dict[str, object]
) -> None:
    page = open_sign(browser, signs)
    banner = page.locator("#alert")
    assert banner.is_hidden()
    signs.alert("coffee", "Coffee is served in the foyer.", level="info", priority=10)
    wait_for(lambda: banner.is_visible(), what="the alert banner")
    assert "Notice:" in text(page, "#alert") and "Coffee is served" in text(page, "#alert")
    # A higher priority for another room only: this sign keeps its own.
    signs.alert("other", "Hall B is closed.", level="warning", priority=80, rooms=["hall-b"])
    # A higher priority for this room wins.
    signs.alert("evac", "Please leave by the nearest exit.", level="emergency", priority=100, rooms=[ROOM])
    wait_for(lambda: "Please leave" in text(page, "#alert"), what="the emergency")
    assert "Emergency:" in text(page, "#alert") and "Hall B" not in text(page, "#alert")
    signs.clear_alert("evac")  # an empty retained payload removes it
    wait_for(lambda: "Coffee is served" in text(page, "#alert"), what="the lower alert again")
    signs.clear_alert("coffee")
    signs.clear_alert("other")
    wait_for(lambda: banner.is_hidden(), what="the banner gone")
    # An alert nobody removes is hidden after expires_at (the appliance may be gone).
    signs.alert("short", "Doors close in a moment.", expires_at=now_ms() + 3000)
    wait_for(lambda: banner.is_visible(), what="the short alert")
    wait_for(lambda: banner.is_hidden(), timeout=8, what="the alert hidden after expires_at")
    signs.clear_alert("short")
    page.context.close()


def test_occupancy_is_a_bar_with_words_and_full_when_full(browser: Browser, signs: Signs) -> None:
    signs.capacity(FULL_ROOM, 12, 20)
    page = open_sign(browser, signs, f"/signage/{FULL_ROOM}")
    wait_for(lambda: "12 of 20 seats taken" in text(page, "#capacity-text"), what="the occupancy")
    assert "Seats free" in text(page, "#capacity-text")
    assert page.locator("#capacity-bar").evaluate("b => [b.value, b.max]") == [12, 20]
    signs.capacity(FULL_ROOM, 20, 20)
    wait_for(lambda: "Full" in text(page, "#capacity-text"), what="'Full' on the sign")
    assert "20 of 20" in text(page, "#capacity-text")
    page.context.close()


def test_now_and_next_advance_with_the_clock_without_any_message(browser: Browser, signs: Signs) -> None:
    """The page's timers run an hour ahead (Playwright's clock); no message comes, the program moves."""
    start = now_ms() + 20 * 60_000
    signs.add_session(FULL_ROOM, "Later talk", start, 30)
    context = browser.new_context(viewport=LANDSCAPE)
    page = context.new_page()
    page.clock.install(time=time.time())
    page.goto(f"{signs.url}/signage/{FULL_ROOM}")
    connected(page)
    wait_for(lambda: "Later talk" in text(page, "#next"), what="the next session")
    assert "Nothing on now" in text(page, "#now")
    # The appliance's clock is not an hour ahead: the sign must not re-measure it meanwhile.
    page.route("**/api/v1/signage/access", lambda route: route.abort())
    page.clock.run_for(25 * 60_000)  # 25 minutes later by the page's clock
    wait_for(lambda: "Later talk" in text(page, "#now"), what="the session on now, by the clock")
    assert "min left" in text(page, "#now")
    context.close()


def test_the_sign_recovers_when_the_broker_restarts(
    browser: Browser, signs: Signs, on_now: dict[str, object]
) -> None:
    page = open_sign(browser, signs)
    signs.broker.kill()
    wait_for(lambda: page.evaluate("document.body.dataset.link") == "down", what="the sign to notice")
    assert "Offline-first" in text(page, "#now")  # it keeps showing what it has
    signs.broker.start()
    connected(page)  # mqtt.js reconnects with backoff (capped at 10 s)
    signs.put_session(on_now, title="After the broker restart")
    wait_for(
        lambda: "After the broker restart" in text(page, "#now"),
        timeout=15,
        what="a change after the restart",
    )
    page.context.close()


def test_a_reload_with_the_broker_down_shows_the_last_state(
    browser: Browser, signs: Signs, on_now: dict[str, object]
) -> None:
    signs.put_session(on_now, title="Before the reload")
    context = browser.new_context(viewport=LANDSCAPE)
    page = context.new_page()
    page.goto(f"{signs.url}/signage/{ROOM}")
    connected(page)
    wait_for(lambda: "Before the reload" in text(page, "#now"), what="the current state")
    page.wait_for_timeout(300)
    signs.broker.stop()
    try:
        page.reload()
        assert "Before the reload" in text(page, "#now")  # from localStorage, at once
        assert text(page, "h1") == ROOM_NAME
        wait_for(lambda: "No connection" in text(page, "#link-state"), timeout=25, what="'No connection'")
        assert "Updated" in text(page, "#age") and "ago" in text(page, "#age")
    finally:
        signs.broker.start()
    connected(page, timeout=45)  # the appliance's own reconnect backs off up to 30 s
    context.close()


def test_the_data_age_and_offline_show_when_the_appliance_stops(
    browser: Browser, signs: Signs, on_now: dict[str, object]
) -> None:
    signs.put_session(on_now, title="Before the appliance stops")
    page = open_sign(browser, signs)
    wait_for(lambda: "Before the appliance stops" in text(page, "#now"), what="the current state")
    assert text(page, "#age") == ""
    signs.process.stop()  # a clean stop publishes "offline" on appliance/status
    try:
        wait_for(lambda: "Appliance offline" in text(page, "#link-state"), what="the offline mark")
        assert "Before the appliance stops" in text(page, "#now")  # still shown
        wait_for(lambda: "Updated" in text(page, "#age"), timeout=25, what="the data's age")
        assert text(page, "#age").endswith("ago")
    finally:
        signs.start_appliance()
    wait_for(lambda: text(page, "#link-state") == "", timeout=15, what="the offline mark gone")
    assert text(page, "#age") == ""
    page.context.close()


def test_old_and_broken_payloads_change_nothing(browser: Browser, signs: Signs) -> None:
    """A payload whose rev is not newer, or that is not JSON, is ignored: the last good state stays."""
    signs.capacity(FULL_ROOM, 7, 20)
    page = open_sign(browser, signs, f"/signage/{FULL_ROOM}")
    wait_for(lambda: "7 of 20 seats taken" in text(page, "#capacity-text"), what="the occupancy")
    old = {"rev": 1, "ts": 1, "room": FULL_ROOM, "count": 19, "capacity": 20, "state": "nearly_full"}
    signs.publish(f"rooms/{FULL_ROOM}/capacity", json.dumps(old), retain=False)
    signs.publish(f"rooms/{FULL_ROOM}/capacity", b"{not json", retain=False)
    signs.publish(f"alerts/{FULL_ROOM}-broken", b"[1, 2", retain=False)
    page.wait_for_timeout(1000)
    assert "7 of 20 seats taken" in text(page, "#capacity-text")
    assert page.locator("#alert").is_hidden()
    signs.capacity(FULL_ROOM, 8, 20)  # a newer one still gets through after them
    wait_for(lambda: "8 of 20 seats taken" in text(page, "#capacity-text"), what="the newer occupancy")
    assert page.locator("#alert").is_hidden()
    page.context.close()


def test_identify_shows_the_display_id_once(browser: Browser, signs: Signs) -> None:
    page = open_sign(browser, signs)
    client_id = page.evaluate(
        "JSON.parse(localStorage.getItem('konferenco-sign:room:' + document.body.dataset.room)).clientId"
    )
    command = {"rev": now_ms(), "ts": now_ms(), "cid": uuid.uuid4().hex, "command": "identify",
               "args": {"seconds": 3}, "ttl_ms": 30_000}  # fmt: skip
    signs.publish(f"displays/{client_id}/cmd", json.dumps(command), retain=False)
    wait_for(lambda: client_id in text(page, "#identify"), what="the display id on screen")
    wait_for(lambda: page.locator("#identify").is_hidden(), timeout=8, what="the id gone after 3 s")
    stale = command | {"cid": uuid.uuid4().hex, "ts": now_ms() - 60_000}  # delayed by a reconnect: dropped
    signs.publish(f"displays/{client_id}/cmd", json.dumps(stale), retain=False)
    page.wait_for_timeout(1500)
    assert page.locator("#identify").is_hidden()
    page.context.close()
