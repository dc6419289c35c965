"""An organizer runs an event from the console in a real browser (issue #4).

Real processes only: ``konferenco hub serve`` on a fresh database, headless
Chromium driven by Playwright, and an appliance enrolled with the token read
off the console page.  The organizer signs in, creates an event, imports a
roster (a bad file first: the report is shown and nothing is imported),
searches it, enrols a device, and watches the dashboard, open and never
reloaded, count the check-in the appliance made and synced on its own.
Then they revoke the device.  A screenshot of the dashboard is left in
``/tmp/console.png`` for a person to look at.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.browser import chromium
from tests.helpers import ApplianceProcess, HubProcess, konferenco

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Dialog, FilePayload

pytestmark = pytest.mark.slow

OWNER, PASSWORD = "o@example.com", "correct horse battery"
SCREENSHOT = Path("/tmp/console.png")
#: How soon a scan at the appliance must show on the open dashboard (the hub polls every 2 s).
DASHBOARD_S = 15

BAD_CSV = (
    "name,email,company,ticket type,reference\n"
    "Ada Lovelace,ada@example.com,Analytical Engines,general,T-1\n"
    ",nobody@example.com,Nowhere,general,T-9\n"
    "Grace Hopper,grace@example.com,US Navy,platinum,T-2\n"
)
GOOD_CSV = (
    "name,email,company,ticket type,reference\n"
    "Ada Lovelace,ada@example.com,Analytical Engines,general,T-1\n"
    "Grace Hopper,grace@example.com,US Navy,General,T-2\n"
    "Alan Turing,alan@example.com,Bletchley Park,general,T-3\n"
    "Katherine Johnson,katherine@example.com,NASA,general,T-4\n"
)


@pytest.fixture
def browser(hub: HubProcess) -> Iterator[Browser]:
    """Chromium, started after the hub: Playwright's sync API runs an event loop in this thread, and the
    database fixtures (``asyncio.run``) must not run inside it."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def hub(hub_db: str, tmp_path: Path) -> Iterator[HubProcess]:
    konferenco(
        "hub", "create-organization", "--database-url", hub_db, "--name", "Acme", "--slug", "acme",
        "--tier", "professional", "--owner-email", OWNER, "--owner-password", PASSWORD,
    )  # fmt: skip
    with HubProcess(hub_db, tmp_path / "secrets") as process:
        yield process


def _csv_file(name: str, body: str) -> FilePayload:
    return {"name": name, "mimeType": "text/csv", "buffer": body.encode()}


def test_an_organizer_runs_an_event_from_the_console(
    hub: HubProcess, browser: Browser, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    # Every Content-Security-Policy violation, on every page, reported as a console error.
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
    )

    # Sign in: a signed-out visitor is sent to the form, and back afterwards.
    page.goto(f"{hub.url}/console")
    expect(page).to_have_url(f"{hub.url}/console/login")
    page.get_by_label("E-mail").fill(OWNER)
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("signin-error")).to_have_text("wrong e-mail or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{hub.url}/console/acme")

    # Create an event.
    page.get_by_label("Name").fill("Konferenco Summit")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_label("First day").fill("2026-06-01")
    page.get_by_label("Last day").fill("2026-06-02")
    page.get_by_role("button", name="Create event").click()
    expect(page.get_by_role("heading", name="Konferenco Summit")).to_be_visible()
    event_url = page.url
    assert event_url.startswith(f"{hub.url}/console/acme/events/ev-")

    # Import: a file with bad rows is refused whole, with a report; then a good one.
    page.get_by_role("link", name="Attendees", exact=True).click()
    page.get_by_label("File", exact=True).set_input_files(_csv_file("roster.csv", BAD_CSV))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-refused")).to_contain_text("2 rows rejected; nothing was imported")
    report = page.get_by_test_id("import-report").locator("tbody tr")
    expect(report).to_have_count(2)
    expect(report.nth(0)).to_contain_text("must not be empty")
    expect(report.nth(1)).to_contain_text("unknown ticket type 'platinum'")
    expect(page.locator("#attendee-results")).to_contain_text("No attendees yet")

    page.get_by_label("File", exact=True).set_input_files(_csv_file("roster.csv", GOOD_CSV))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("import-added")).to_have_text("4")
    expect(page.get_by_test_id("import-unchanged")).to_have_text("0")
    results = page.get_by_test_id("attendee-results").locator("tbody tr")
    expect(results).to_have_count(4)  # the list below refreshed itself after the import

    # Search as you type.
    page.get_by_label("Search attendees").press_sequentially("grac", delay=30)
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Grace Hopper")
    page.get_by_label("Search attendees").fill("nasa")
    expect(results.first).to_contain_text("Katherine Johnson")

    # Enrol a device: QR code, token and command on the page.
    page.get_by_role("link", name="Devices", exact=True).click()
    expect(page.get_by_label("scanner")).to_be_checked()
    page.get_by_label("Name").fill("North door")
    page.get_by_role("button", name="Create enrolment code").click()
    token = page.get_by_test_id("enrol-token").inner_text().strip()
    assert token.startswith("ke1_")
    expect(page.locator(".qr svg path")).to_have_count(1)
    expect(page.get_by_test_id("enrol-command")).to_have_text(
        f"konferenco appliance enroll --data DIR --hub {hub.url} --token {token}"
    )

    data = tmp_path / "box"
    enrolled = konferenco("appliance", "enroll", "--data", str(data), "--hub", hub.url, "--token", token)
    assert "enrolled as" in enrolled.stdout, enrolled.stdout + enrolled.stderr
    door = konferenco("appliance", "issue-token", "--data", str(data), "--role", "door").stdout.strip()
    badges = page.request.get(f"{event_url}/badges.csv")  # the browser's session cookie
    assert badges.ok, badges.text()
    grace = next(r for r in csv.DictReader(io.StringIO(badges.text())) if r["name"] == "Grace Hopper")

    # The dashboard, open and never reloaded, counts the appliance's check-in.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_test_id("admitted")).to_have_text("0")
    page.evaluate("window.__notReloaded = true")
    with ApplianceProcess(data) as box:
        scan = httpx.post(
            f"{box.url}/api/v1/scans",
            json={"code": grace["badge_code"], "nonce": uuid.uuid4().hex, "gate": "main"},
            headers={"Authorization": f"Bearer {door}"},
            timeout=10,
        )
        assert scan.status_code == 200, scan.text
        assert scan.json()["result"] == "admitted", scan.json()
        expect(page.get_by_test_id("admitted")).to_have_text("1", timeout=DASHBOARD_S * 1000)
        assert page.evaluate("window.__notReloaded") is True
        expect(page.get_by_test_id("scans")).to_have_text("1")
        expect(page.locator("#live")).to_contain_text("North door")
        page.screenshot(path=str(SCREENSHOT), full_page=True)

        # Revoke the device.
        page.get_by_role("link", name="Devices", exact=True).click()
        row = page.locator("tr", has_text="North door")
        expect(row.get_by_test_id("device-status")).to_contain_text("active")
        row.get_by_role("button", name="Revoke").click()
        expect(row.get_by_test_id("device-status")).to_contain_text("revoked")
        expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
        assert dialogs and "Revoke North door?" in dialogs[0]
        page.reload()
        expect(page.locator("tr", has_text="North door").get_by_test_id("device-status")).to_contain_text(
            "revoked"
        )

    # The audit trail lists what was done, newest first.
    page.get_by_role("link", name="Audit trail").click()
    actions = page.get_by_test_id("audit-entry")
    expect(actions).to_have_count(3)  # the refused file imported nothing, so it is no entry
    assert [actions.nth(i).get_attribute("data-action") for i in range(3)] == [
        "device.revoke", "device.enrol", "catalog.import",
    ]  # fmt: skip
    expect(actions.first).to_contain_text(OWNER)

    # No script errors and no content-security-policy violations; the browser does log the answers
    # that were meant to be refusals (the wrong password, the refused file).
    expected = {f"Failed to load resource: the server responded with a status of {s}" for s in ("401", "422")}
    assert [e for e in errors if not any(e.startswith(x) for x in expected)] == [], errors

    # The policy is enforced, not only sent: a script injected into the page does not run, and the
    # session cookie is out of a script's reach.
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran") is None
    assert any(e.startswith("CSP violation: script-src") for e in errors), errors
    assert "kf_session" not in page.evaluate("document.cookie")

    # Sign out everywhere from the account page: back at the sign-in form, and the console is closed.
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page).to_have_url(f"{hub.url}/console/login")
    page.goto(f"{hub.url}/console/acme")
    expect(page).to_have_url(f"{hub.url}/console/login?next=/console/acme")
    context.close()
