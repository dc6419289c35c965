"""What an operator sees: structured logs without secrets, and revocations taking effect at once."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ApplianceProcess, konferenco, wait_for


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("ops") / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "40", "--seed", "3")
    return data


def _token(data: Path, role: str) -> str:
    return konferenco("appliance", "issue-token", "--data", str(data), "--role", role).stdout.strip()


def _badges(data: Path) -> list[dict[str, str]]:
    konferenco("appliance", "badges", "--data", str(data))  # into DATA/badges.csv
    with (data / "badges.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def server(seeded: Path) -> Iterator[ApplianceProcess]:
    with ApplianceProcess(seeded, None, "--access-log", options=("--log-format", "json")) as proc:
        yield proc


def test_json_logs_are_parseable_and_never_hold_a_token(server: ApplianceProcess, seeded: Path) -> None:
    staff = _token(seeded, "door")
    httpx.get(f"{server.url}/healthz", params={"token": "s3cr3t-sync-token"})
    httpx.get(f"{server.url}/api/v1/stats", headers={"Authorization": f"Bearer {staff}"})
    httpx.post(f"{server.url}/api/v1/auth/login", json={"name": "Door", "secret": "000000"})

    # uvicorn writes the access line after the response went out: wait for the last one.
    def logged() -> str:
        text = server.log.read_text(encoding="utf-8")
        return text if text.endswith("\n") and "/api/v1/auth/login" in text else ""

    text = wait_for(logged, what="the access log line of the last request")
    lines = [line for line in text.splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"ts", "level", "logger", "msg"} <= entries[0].keys()
    assert any("/healthz?token=***" in e["msg"] for e in entries), "the access log line is there, redacted"
    text = "\n".join(lines)
    assert "s3cr3t-sync-token" not in text
    assert staff not in text
    assert "000000" not in text


def test_revoking_an_attendee_refuses_their_badge_everywhere_at_once(
    server: ApplianceProcess, seeded: Path
) -> None:
    badge = next(b for b in _badges(seeded) if b["ticket_type"] == "Full pass")
    organizer = {"Authorization": f"Bearer {_token(seeded, 'organizer')}"}
    door = {"Authorization": f"Bearer {_token(seeded, 'door')}"}
    first = httpx.post(
        f"{server.url}/api/v1/scans",
        json={"code": badge["badge_code"], "nonce": "rv-1", "gate": "dinner"},
        headers=door,
    ).json()
    assert first["result"] == "admitted", first

    refused = httpx.post(
        f"{server.url}/api/v1/revocations",
        json={"target": "attendee", "value": badge["attendee_id"], "reason": "ticket refunded"},
        headers=door,
    )
    assert refused.status_code == 403, "only organizers revoke"
    assert refused.json()["code"] == "forbidden"

    done = httpx.post(
        f"{server.url}/api/v1/revocations",
        json={"target": "attendee", "value": badge["attendee_id"], "reason": "ticket refunded"},
        headers=organizer,
    )
    assert done.status_code == 200, done.text
    again = httpx.post(
        f"{server.url}/api/v1/scans",
        json={"code": badge["badge_code"], "nonce": "rv-2", "gate": "north"},
        headers=door,
    ).json()
    assert again["result"] == "revoked"
    assert "ticket refunded" in again["reason"]
    exit_scan = httpx.post(
        f"{server.url}/api/v1/scans",
        json={"code": badge["badge_code"], "nonce": "rv-3", "gate": "dinner", "direction": "exit"},
        headers=door,
    ).json()
    assert exit_scan["result"] == "admitted", "a revoked person may still leave"


def test_revoking_one_printed_badge_spares_a_reissued_one(server: ApplianceProcess, seeded: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from konferenco.badges import BadgePayload, BadgeSigner

    key = Ed25519PrivateKey.from_private_bytes((seeded / "secrets" / "event-demo.key").read_bytes())
    badge = next(b for b in _badges(seeded) if b["ticket_type"] == "Expo pass")
    signer = BadgeSigner(key)
    old = signer.sign(BadgePayload("demo", badge["attendee_id"], "expo", 0))
    new = signer.sign(BadgePayload("demo", badge["attendee_id"], "expo", 1))
    organizer = {"Authorization": f"Bearer {_token(seeded, 'organizer')}"}
    response = httpx.post(
        f"{server.url}/api/v1/revocations",
        json={"target": "badge", "value": f"{badge['attendee_id']}:0", "reason": "badge lost"},
        headers=organizer,
    )
    assert response.status_code == 200
    old_scan = httpx.post(
        f"{server.url}/api/v1/scans", json={"code": old, "nonce": "rb-1", "gate": "south"}, headers=organizer
    ).json()
    new_scan = httpx.post(
        f"{server.url}/api/v1/scans", json={"code": new, "nonce": "rb-2", "gate": "south"}, headers=organizer
    ).json()
    assert old_scan["result"] == "revoked"
    assert new_scan["result"] == "admitted"


def test_an_appliance_without_the_organizer_capability_cannot_revoke(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5")
    config = json.loads((data / "appliance.json").read_text())
    config["capabilities"] = ["scanner"]
    (data / "appliance.json").write_text(json.dumps(config))
    with ApplianceProcess(data) as proc:
        response = httpx.post(
            f"{proc.url}/api/v1/revocations",
            json={"target": "attendee", "value": "a000001"},
            headers={"Authorization": f"Bearer {_token(data, 'organizer')}"},
        )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert response.json()["details"]["capability"] == "organizer"


def test_a_tag_handed_out_at_the_desk_admits_its_holder_and_can_be_moved(
    server: ApplianceProcess, seeded: Path
) -> None:
    desk = {"Authorization": f"Bearer {_token(seeded, 'desk')}"}
    # The last two full passes: other tests use the first full and expo passes.
    people = [b for b in _badges(seeded) if b["ticket_type"] == "Full pass"][-2:]
    uid = "04A1B2C3D4E5F6"

    def tap(nonce: str) -> dict[str, object]:
        response = httpx.post(
            f"{server.url}/api/v1/scans", json={"nfc_uid": uid, "nonce": nonce, "gate": "south"}, headers=desk
        )
        return dict(response.json())

    assert tap("tag-0")["result"] == "unknown_badge"
    linked = httpx.post(
        f"{server.url}/api/v1/attendees/{people[0]['attendee_id']}/tag", json={"nfc_uid": uid}, headers=desk
    )
    assert linked.status_code == 200, linked.text
    first = tap("tag-1")
    assert first["result"] == "admitted", first
    assert first["attendee"]["name"] == people[0]["name"]  # type: ignore[index]

    taken = httpx.post(
        f"{server.url}/api/v1/attendees/{people[1]['attendee_id']}/tag", json={"nfc_uid": uid}, headers=desk
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "nfc_in_use"
    moved = httpx.post(
        f"{server.url}/api/v1/attendees/{people[1]['attendee_id']}/tag",
        json={"nfc_uid": uid, "replace": True},
        headers=desk,
    )
    assert moved.status_code == 200
    second = tap("tag-2")
    assert second["attendee"]["name"] == people[1]["name"]  # type: ignore[index]


def test_an_organizer_pushes_a_new_catalog_revision_and_a_peer_can_fetch_it(
    server: ApplianceProcess, seeded: Path
) -> None:
    import msgspec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from konferenco.catalog.bundle import Attendee, Bundle, sign_catalog

    organizer = {"Authorization": f"Bearer {_token(seeded, 'organizer')}"}
    desk = {"Authorization": f"Bearer {_token(seeded, 'desk')}"}
    fetched = httpx.get(f"{server.url}/api/v1/catalog", headers=organizer)
    assert fetched.status_code == 200
    assert fetched.content == (seeded / "catalog.json").read_bytes(), (
        "relayed byte for byte, signature intact"
    )
    assert httpx.get(f"{server.url}/api/v1/catalog", headers=desk).status_code == 403

    catalog = msgspec.json.decode(fetched.content, type=Bundle).catalog
    newcomer = Attendee(id="late-1", name="Brygida Żółtowska", ticket_type_id="full", company="Kraków Tram")
    revised = msgspec.structs.replace(catalog, revision=2, attendees=[*catalog.attendees, newcomer])
    key = Ed25519PrivateKey.from_private_bytes((seeded / "secrets" / "catalog.key").read_bytes())
    bundle = sign_catalog(revised, key)

    tampered = bundle.replace(b"Brygida", b"Brigida")
    refused = httpx.put(f"{server.url}/api/v1/catalog", content=tampered, headers=organizer)
    assert refused.status_code == 422
    assert refused.json()["code"] == "catalog_rejected"
    assert "signature" in refused.json()["message"]
    search = httpx.get(f"{server.url}/api/v1/attendees", params={"q": "zoltowska"}, headers=desk).json()
    assert search["count"] == 0, "nothing of a refused bundle is applied"

    applied = httpx.put(f"{server.url}/api/v1/catalog", content=bundle, headers=organizer)
    assert applied.status_code == 200, applied.text
    assert applied.json()["revision"] == 2
    assert applied.json()["added"] == 1
    search = httpx.get(f"{server.url}/api/v1/attendees", params={"q": "zoltowska"}, headers=desk).json()
    assert [a["name"] for a in search["attendees"]] == ["Brygida Żółtowska"]

    older = httpx.put(
        f"{server.url}/api/v1/catalog", content=(seeded / "catalog.json").read_bytes(), headers=organizer
    )
    assert older.status_code == 422
    assert "older" in older.json()["message"]


def test_a_pushed_bundle_with_bad_rows_lists_them_and_changes_nothing(
    server: ApplianceProcess, seeded: Path
) -> None:
    import msgspec
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from konferenco.catalog.bundle import Attendee, Bundle, sign_catalog

    organizer = {"Authorization": f"Bearer {_token(seeded, 'organizer')}"}
    catalog = msgspec.json.decode(
        httpx.get(f"{server.url}/api/v1/catalog", headers=organizer).content, type=Bundle
    )
    bad = Attendee(id="bad-1", name="Ödön Örkény", ticket_type_id="vip-gold")
    revised = msgspec.structs.replace(
        catalog.catalog, revision=99, attendees=[*catalog.catalog.attendees, bad]
    )
    key = Ed25519PrivateKey.from_private_bytes((seeded / "secrets" / "catalog.key").read_bytes())
    response = httpx.put(
        f"{server.url}/api/v1/catalog", content=sign_catalog(revised, key), headers=organizer
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "catalog_rejected"
    assert body["message"].startswith("1 problem in the bundle")
    assert body["problems"] == [
        {
            "position": len(revised.attendees),
            "field": "ticket_type_id",
            "message": "unknown ticket type 'vip-gold'",
        }
    ]
    desk = {"Authorization": f"Bearer {_token(seeded, 'desk')}"}
    assert (
        httpx.get(f"{server.url}/api/v1/attendees", params={"q": "orkeny"}, headers=desk).json()["count"] == 0
    )


def test_a_walk_in_needs_a_certified_device_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    konferenco("demo", "seed", "--data", str(data), "--attendees", "5")
    (data / "secrets" / "device-badge-demo.cert.json").unlink()
    with ApplianceProcess(data) as proc:
        response = httpx.post(
            f"{proc.url}/api/v1/attendees",
            json={"name": "Walk In", "ticket_type_id": "full"},
            headers={"Authorization": f"Bearer {_token(data, 'desk')}"},
        )
        assert response.status_code == 409
        assert response.json()["code"] == "no_device_key"
        search = httpx.get(
            f"{proc.url}/api/v1/attendees",
            params={"q": "walk"},
            headers={"Authorization": f"Bearer {_token(data, 'desk')}"},
        )
        assert search.json()["count"] == 0, "nothing of a refused walk-in is recorded"
