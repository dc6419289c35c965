"""Every kiosk screen in every language, checked by axe-core, and photographed for the docs.

axe-core (``tests.browser.wcag_violations``, WCAG 2.2 A and AA) runs on each
screen as an attendee meets it: reached by URL (``/kiosk?screen=NAME``, the
same templates htmx swaps in), with real data behind it (a real badge
preview, a real print job, a real proposal form), plus the states a URL
cannot show: a name search's results, a wrong second factor, the "need more
time?" prompt, the pairing form and the "one moment" page.  Zero
violations, in English, German, French, Spanish and Japanese.

The screenshots (1080 x 1920 portrait and 1920 x 1080 landscape) always go to
pytest's ``tmp_path``; with ``KONFERENCO_SCREENSHOTS=DIR`` they are copied to
``DIR/kiosk/`` as well (``make screenshots-kiosk`` writes the committed ones
under ``docs/screenshots/kiosk/``).
"""

from __future__ import annotations

import dataclasses
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser import publish_screenshots, wcag_violations
from tests.kiosk_ui.conftest import (
    LANDSCAPE,
    LANGUAGES,
    PORTRAIT,
    SPARE_PRINTER_ID,
    Venue,
    make_venue,
    translated,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Sample:
    """Real data for screens that show an attendee: a badge, a print job, a masked search hit."""

    badge: str
    job: str  # printed
    queued: str  # waiting for a printer that is off
    ref: str
    masked: str
    company: str
    refused_from: int  # a day pass's first valid moment (ms), for "valid from <day>"
    surname: str


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venue]:
    """This module's appliance has a second printer, never on: a job waits there to be photographed."""
    yield from make_venue(tmp_path_factory.mktemp("venue"), spare_printer=True)


@pytest.fixture(scope="module")
def sample(venue: Venue) -> Sample:
    venue.printer_ready()
    person, shown, waiting = venue.take(), venue.take(), venue.take()
    queued = venue.desk(
        "POST",
        "/api/v1/print-jobs",
        json={"attendee_id": waiting["attendee_id"], "printer": SPARE_PRINTER_ID},
    )
    assert queued.status_code == 202, queued.text
    identified = venue.as_kiosk(
        "POST", "/api/v1/kiosk/identify", json={"badge": {"code": person["badge_code"]}}
    )
    assert identified.status_code == 200, identified.text
    checkin = venue.as_kiosk(
        "POST", "/api/v1/kiosk/checkins", json={"grant": identified.json()["grant"], "nonce": "screens-1"}
    )
    assert checkin.status_code == 200, checkin.text
    return Sample(
        badge=shown["badge_code"],
        job=checkin.json()["job"]["id"],
        queued=queued.json()["id"],
        ref="",
        masked="",
        company=shown["company"],
        refused_from=(int(time.time()) // 86400 + 1) * 86400 * 1000,  # tomorrow: a day pass for then
        surname=shown["name"].split()[-1],
    )


def _for_kiosk(venue: Venue, sample: Sample, token: str) -> Sample:
    """The sample with a search hit of this kiosk's own (a result's ref is sealed to the kiosk).

    Someone new each time: the wrong second factor each kiosk is shown counts against the person too.
    """
    person = venue.take()
    sample = dataclasses.replace(sample, surname=person["name"].split()[-1], company=person["company"])
    answer = httpx.get(
        f"{venue.url}/api/v1/kiosk/lookup",
        params={"q": sample.surname},
        headers={"Authorization": f"Bearer {token}"},
        timeout=15,
    )
    assert answer.status_code == 200, answer.text
    hit = next(h for h in answer.json()["results"] if h["company"] == sample.company)
    return dataclasses.replace(sample, ref=hit["ref"], masked=hit["name"])


def _query(**params: object) -> str:
    return "/kiosk?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})


def _show(page: Page, url: str, screen: str) -> None:
    page.goto(url)
    page.locator(f'[data-screen="{screen}"]').wait_for(state="visible")
    for image in page.locator("img").all():  # the badge preview: wait until it is drawn
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())


def _typed(search: str) -> Callable[[Page, str, Sample], None]:
    def run(page: Page, lang: str, sample: Sample) -> None:
        _show(page, _query(screen="search", lang=lang), "search")
        page.locator("#lookup-q").press_sequentially(search, delay=20)
        page.locator("#results button.result").first.wait_for(state="visible")

    return run


def _wrong_factor(page: Page, lang: str, sample: Sample) -> None:
    _show(
        page,
        _query(screen="verify", lang=lang, ref=sample.ref, name=sample.masked, company=sample.company),
        "verify",
    )
    page.locator("#verify-factor").fill("ZZZZ")
    page.locator("form button[type=submit]").click()
    page.locator("#verify-error").wait_for(state="visible")


def _idle(page: Page, lang: str, sample: Sample) -> None:
    page.clock.install()
    _show(page, _query(screen="confirm", lang=lang, badge=sample.badge), "confirm")
    idle_s = int(page.locator("body").get_attribute("data-idle") or 30)
    page.clock.fast_forward(idle_s * 1000 + 500)
    page.locator("dialog#idle").wait_for(state="visible")


def _by_url(screen: str, **params: object) -> Callable[[Page, str, Sample], None]:
    def run(page: Page, lang: str, sample: Sample) -> None:
        values = {
            k: getattr(sample, v[1:]) if isinstance(v, str) and v.startswith("@") else v
            for k, v in params.items()
        }
        _show(page, _query(screen=screen, lang=lang, **values), screen)

    return run


#: Every screen of a paired kiosk: (file name, how to get there).
SCREENS: list[tuple[str, Callable[[Page, str, Sample], None]]] = [
    ("01-welcome", _by_url("welcome")),
    ("02-search", _by_url("search")),
    ("03-search-results", _typed("an")),
    ("04-verify", _by_url("verify", ref="@ref", name="@masked", company="@company")),
    ("05-verify-wrong", _wrong_factor),
    ("06-refusal", _by_url("refusal", result="not_yet_valid", valid_from="@refused_from")),
    ("07-refusal-invalid", _by_url("refusal", result="invalid")),
    ("08-confirm", _by_url("confirm", badge="@badge")),
    ("09-correct", _by_url("correct", badge="@badge")),
    ("10-printing", _by_url("printing", job="@queued")),
    ("11-done", _by_url("done", job="@job")),
    ("12-idle", _idle),
    ("13-propose", _by_url("propose")),
    ("14-propose-form", _by_url("propose_form", badge="@badge")),
    ("15-proposed", _by_url("proposed", ref="GR-7QK2M")),
    ("16-desk", _by_url("desk")),
]


def _unpaired(browser: Browser, venue: Venue, lang: str, viewport: dict[str, int]) -> list[tuple[str, Page]]:
    """The screens a kiosk shows without its credential: pairing, and the restart page."""
    context = venue.context(browser, viewport, paired=False, base_url=venue.url, bypass_csp=True)
    pair = context.new_page()
    _show(pair, f"/kiosk?lang={lang}", "pair")
    offline = context.new_page()
    offline.goto(f"/kiosk/offline?lang={lang}")
    offline.locator('[data-screen="offline"]').wait_for(state="visible")
    return [("00-pair", pair), ("17-offline", offline)]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_screen_meets_wcag_aa_in(lang: str, venue: Venue, browser: Browser, sample: Sample) -> None:
    # A kiosk of its own per language: the wrong second factor counts against the kiosk.
    token = venue.pair(f"Accessibility kiosk {lang}")
    sample = _for_kiosk(venue, sample, token)
    found: dict[str, list[str]] = {}
    context = venue.context(browser, PORTRAIT, token=token, base_url=venue.url, bypass_csp=True)
    for name, reach in SCREENS:
        page = context.new_page()  # a fresh page each: the idle clock is installed per page
        reach(page, lang, sample)
        assert page.locator("html").get_attribute("lang") == lang, name
        found[name] = wcag_violations(page)
        page.close()
    context.close()
    for name, page in _unpaired(browser, venue, lang, PORTRAIT):
        found[name] = wcag_violations(page)
        page.context.close() if name == "17-offline" else None
    bad = {name: v for name, v in found.items() if v}
    assert not bad, f"axe-core in {lang}: " + "\n".join(f"{n}: {v}" for n, v in bad.items())
    if lang != "en":  # and it is this language, not English with a lang attribute
        assert translated(lang, "Welcome! Scan your ticket") != "Welcome! Scan your ticket"


@pytest.mark.parametrize(("orientation", "viewport"), [("portrait", PORTRAIT), ("landscape", LANDSCAPE)])
def test_screenshots_of_every_screen(
    orientation: str, viewport: dict[str, int], venue: Venue, browser: Browser, sample: Sample, tmp_path: Path
) -> None:
    token = venue.pair(f"Screenshot kiosk {orientation}")
    sample = _for_kiosk(venue, sample, token)
    context = venue.context(browser, viewport, token=token, base_url=venue.url, reduced_motion="reduce")
    shots: list[Path] = []
    for name, reach in SCREENS:
        page = context.new_page()
        reach(page, "en", sample)
        shots.append(tmp_path / f"{name}-{orientation}.png")
        page.screenshot(path=str(shots[-1]), animations="disabled", caret="hide")
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, f"{name} scrolls sideways at {viewport}"
        page.close()
    context.close()
    for name, page in _unpaired(browser, venue, "en", viewport):
        shots.append(tmp_path / f"{name}-{orientation}.png")
        page.screenshot(path=str(shots[-1]), animations="disabled", caret="hide")
    german = venue.context(browser, viewport, token=token, base_url=venue.url, reduced_motion="reduce")
    page = german.new_page()
    _show(page, _query(screen="welcome", lang="de"), "welcome")
    shots.append(tmp_path / f"01-welcome-de-{orientation}.png")
    page.screenshot(path=str(shots[-1]), animations="disabled", caret="hide")
    german.close()
    publish_screenshots(shots, "kiosk")
