"""The audit trail: organizer actions recorded with the action, shown newest first, private, unalterable.

The organizer acts through the console (the in-process app of
``test_console.py``) and through the JSON API with a token; the trail is
then read on the console's audit page and checked in PostgreSQL as the
tenant role sees it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.catalog.events import create_event
from hub.devices.enrolment import create_enrolment
from hub.tenants.accounts import issue_api_token
from tests.hub import test_console
from tests.hub.services import hub_services, organization
from tests.hub.test_console import GOOD_CSV, HTMX, HUB_URL, Console, _testids

console = test_console.console  # the same fixture: an in-process hub app and a signed-out browser


def _entries(html: str) -> list[tuple[str, str, str]]:
    """(action, who, target) of each row of the audit page, top to bottom."""
    rows = re.findall(
        r'<tr data-testid="audit-entry" data-action="([^"]+)">\s*<td[^>]*>[^<]*</td>\s*<td>([^<]*)</td>'
        r".*?<td class=\"mono\">([^<]*)</td>",
        html,
        flags=re.S,
    )
    return [(a, who.strip(), target.strip()) for a, who, target in rows]


async def test_organizer_actions_are_listed_newest_first_with_who_and_what(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    enrolled = await console.client.post(
        f"{console.org}/events/{event}/enrolments",
        data={"name": "North door", "capabilities": ["scanner"], "ttl_hours": "24"},
        headers=HTMX,
    )
    assert enrolled.status_code == 201
    (enrol_token,) = _testids(enrolled.text, "enrol-token")
    grant = await console.redeem(enrol_token)
    revoked = await console.client.post(
        f"{console.org}/events/{event}/devices/{grant.device_id}/revoke", headers=HTMX
    )
    assert revoked.status_code == 200
    assert (await console.upload(event, GOOD_CSV, htmx=True)).status_code == 200
    created = await console.client.post(f"{console.org}/tokens", data={"name": "ticket shop sync"})
    (api_token,) = _testids(created.text, "api-token")
    # Through the API with the token: the same service functions, so the same trail.
    by_api = await console.client.post(
        f"/api/v1/events/{event}/enrolments",
        json={"capabilities": ["kiosk"], "name": "Kiosk"},
        headers={"Authorization": f"Bearer {api_token}"},
    )
    assert by_api.status_code == 201, by_api.text
    # Scripts read the same trail from the API, newest first
    trail = await console.client.get("/api/v1/audit", headers={"Authorization": f"Bearer {api_token}"})
    assert trail.status_code == 200, trail.text
    assert [e["action"] for e in trail.json()][:3] == ["device.enrol", "token.create", "catalog.import"]
    older = await console.client.get(
        "/api/v1/audit", params={"before": trail.json()[0]["id"], "limit": 1},
        headers={"Authorization": f"Bearer {api_token}"},
    )  # fmt: skip
    assert [e["action"] for e in older.json()] == ["token.create"]

    # Another organization's token (or anyone else's) is "not found", and stays valid.
    async with console.hub.db.tenant(console.other.org_id) as conn:
        theirs = await issue_api_token(conn, console.other, "globex script")
        their_id = (
            await conn.execute(text("SELECT id FROM api_token WHERE name = 'globex script'"))
        ).scalar_one()
    assert (await console.client.post(f"{console.org}/tokens/{their_id}/revoke")).status_code == 404
    assert (await console.client.post(f"{console.org}/tokens/not-a-uuid/revoke")).status_code == 404
    still = await console.client.get("/api/v1/events", headers={"Authorization": f"Bearer {theirs}"})
    assert still.status_code == 200
    their_trail = await console.client.get("/api/v1/audit", headers={"Authorization": f"Bearer {theirs}"})
    assert [e["action"] for e in their_trail.json()] == ["token.create"]  # their own, none of ours
    assert console.owner not in their_trail.text

    # Revoked from the tokens page: the next API call with it is refused.
    listed = await console.client.get(f"{console.org}/tokens")
    revoke = re.search(r'action="([^"]+/tokens/[^"]+/revoke)"', listed.text)
    assert revoke is not None
    assert (await console.client.post(revoke[1])).status_code == 303
    refused = await console.client.get("/api/v1/events", headers={"Authorization": f"Bearer {api_token}"})
    assert refused.status_code == 401
    assert "revoked" in (await console.client.get(f"{console.org}/tokens")).text

    page = await console.client.get(f"{console.org}/audit")
    assert page.status_code == 200
    entries = _entries(page.text)
    assert [a for a, _, _ in entries] == [
        "token.revoke",
        "device.enrol",
        "token.create",
        "catalog.import",
        "device.revoke",
        "device.enrol",
    ], entries
    assert {who for _, who, _ in entries} == {console.owner}
    assert entries[0][2] == entries[2][2] == "ticket shop sync"
    assert entries[3][2] == "roster.csv"
    assert entries[4][2] == grant.device_id
    assert "rows: 3" in page.text and "added: 3" in page.text
    assert "North door" in page.text and "kiosk" in page.text
    assert api_token not in page.text and enrol_token not in page.text  # secrets never reach the trail

    # Account-wide actions are recorded in each organization of the account.
    changed = await console.client.post(
        "/console/account/password",
        data={
            "current_password": "correct horse battery",
            "new_password": "another long secret",
            "repeat_password": "another long secret",
        },
    )
    assert changed.status_code == 303
    await console.client.get("/console/account")  # the new session's page, and its token
    assert (await console.client.post("/console/account/sign-out-everywhere")).status_code == 303
    await console.sign_in(password="another long secret")
    entries = _entries((await console.client.get(f"{console.org}/audit")).text)
    assert [a for a, _, _ in entries[:2]] == ["session.sign_out_everywhere", "account.password_change"]


async def test_the_trail_is_private_to_its_organization_and_cannot_be_rewritten(
    hub_db: str, tmp_path: Path
) -> None:
    async with hub_services(hub_db, tmp_path / "secrets") as hub:
        acme = await organization(hub, "acme")
        globex = await organization(hub, "globex")
        async with hub.db.tenant(acme.org_id) as conn:
            event = await create_event(conn, hub.sealer, acme, "Acme Summit")
            await create_enrolment(conn, acme, event, ["scanner"], HUB_URL, name="Door")

        async with hub.db.tenant(acme.org_id) as conn:
            assert (await conn.execute(text("SELECT count(*) FROM audit"))).scalar_one() == 1
        async with hub.db.tenant(globex.org_id) as conn:
            assert (await conn.execute(text("SELECT count(*) FROM audit"))).scalar_one() == 0
            # Nor can another organization write into acme's trail.
            with pytest.raises(DBAPIError, match="row-level security"):
                await conn.execute(
                    text("INSERT INTO audit (org_id, actor, action) VALUES (:o, 'x', 'device.revoke')"),
                    {"o": acme.org_id},
                )
        for change in ("UPDATE audit SET actor = 'someone else'", "DELETE FROM audit"):
            with pytest.raises(DBAPIError, match="permission denied"):
                async with hub.db.tenant(acme.org_id) as conn:
                    await conn.execute(text(change))

        # Written in the action's transaction: an enrolment rolled back leaves no trace in the trail.
        with pytest.raises(RuntimeError):
            async with hub.db.tenant(acme.org_id) as conn:
                await create_enrolment(conn, acme, event, ["printer"], HUB_URL, name="Never")
                raise RuntimeError("the request failed after the enrolment was written")
        async with hub.db.system() as conn:
            rows = (
                await conn.execute(text("SELECT action, actor, target, details->>'name' FROM audit"))
            ).all()
        assert [(r[0], r[1], r[3]) for r in rows] == [("device.enrol", "owner@acme.example", "Door")]


async def test_imports_and_cancellations_through_the_api_are_in_the_trail(console: Console) -> None:
    await console.sign_in()
    event = await console.new_event()
    created = await console.client.post(f"{console.org}/tokens", data={"name": "box office"})
    (api_token,) = _testids(created.text, "api-token")
    auth = {"Authorization": f"Bearer {api_token}"}
    imported = await console.client.post(
        f"/api/v1/events/{event}/attendees/import", params={"format": "csv"}, content=GOOD_CSV, headers=auth
    )
    assert imported.status_code in (200, 201), imported.text
    found = await console.client.get(f"/api/v1/events/{event}/attendees", params={"q": "Ada"}, headers=auth)
    victim = next(a["id"] for a in found.json() if a["name"] == "Ada Lovelace")
    cancelled = await console.client.post(f"/api/v1/events/{event}/attendees/{victim}/cancel", headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    # Cancelling again changes nothing, and records nothing
    assert (
        await console.client.post(f"/api/v1/events/{event}/attendees/{victim}/cancel", headers=auth)
    ).status_code == 200
    trail = (await console.client.get("/api/v1/audit", headers=auth)).json()
    assert [(e["action"], e["target"]) for e in trail[:2]] == [
        ("attendee.revoke", victim),
        ("catalog.import", "csv body"),
    ]
    assert trail[1]["details"]["added"] == 3
