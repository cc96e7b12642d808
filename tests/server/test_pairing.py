"""POST /api/v1/devices/pair: a pairing code becomes a device token once, and says its page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from server.services import auth
from server.storage.tables import audit
from tests.conftest import Hall


async def _enroll(hall: Hall, role: str, **where: str | None) -> auth.NewDevice:
    async with hall.db.write() as conn:
        return await auth.add_device(
            conn,
            hall="jinjiang",
            role=role,
            name=f"test {role}",
            window=where.get("window"),
            zone=where.get("zone"),
            now=hall.clock.now(),
        )


async def _pair(hall: Hall, code: Any) -> Any:
    return await hall.client.post("/api/v1/devices/pair", json={"code": code})


@pytest.mark.parametrize(
    ("role", "where", "page"),
    [
        ("display", {"zone": "social"}, "/display/hall/jinjiang/social"),
        ("display", {"window": "3"}, "/display/window/jinjiang/3"),
        ("terminal", {"window": "2", "zone": "social"}, "/terminal"),
        ("kiosk", {}, "/kiosk/jinjiang"),
        ("evaluator", {"window": "1"}, None),
    ],
)
async def test_pairing_answers_token_and_the_devices_page(
    hall: Hall, role: str, where: dict[str, str], page: str | None
) -> None:
    device = await _enroll(hall, role, **where)
    r = await _pair(hall, device.pairing_code)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body == {
        "token": body["token"],
        "hall": "jinjiang",
        "role": role,
        "window": where.get("window"),
        "zone": where.get("zone"),
        "page": page,
    }
    # The answered token works; the one printed at enrolment was replaced by it.
    me = await hall.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert me.status_code == 200 and me.json()["id"] == device.id
    old = await hall.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {device.token}"}
    )
    assert old.status_code == 401


async def test_a_display_without_zone_or_window_opens_the_first_zone(hall: Hall) -> None:
    device = await _enroll(hall, "display")
    r = await _pair(hall, device.pairing_code)
    first_zone = next(iter(hall.config.hall("jinjiang").zones))
    assert r.json()["page"] == f"/display/hall/jinjiang/{first_zone}"


async def test_a_code_works_once(hall: Hall) -> None:
    device = await _enroll(hall, "display", zone="social")
    assert (await _pair(hall, device.pairing_code)).status_code == 200
    again = await _pair(hall, device.pairing_code)
    assert again.status_code == 401
    error = again.json()["error"]
    assert error["code"] == "pairing_invalid"
    assert "配对码" in error["message"]


async def test_an_expired_code_is_refused(hall: Hall) -> None:
    device = await _enroll(hall, "kiosk")
    hall.clock.advance(10 * 60 + 1)
    r = await _pair(hall, device.pairing_code)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "pairing_invalid"


async def test_a_revoked_devices_code_is_refused(hall: Hall) -> None:
    device = await _enroll(hall, "kiosk")
    async with hall.db.write() as conn:
        await auth.revoke_device(conn, device.id, hall.clock.now())
    assert (await _pair(hall, device.pairing_code)).status_code == 401


async def test_a_wrong_code_is_refused_and_audited_without_the_code(hall: Hall) -> None:
    code = "not-a-real-pairing-code"
    r = await _pair(hall, code)
    assert r.status_code == 401
    assert r.json()["error"]["message"].startswith("配对码无效")
    async with hall.db.read() as conn:
        rows = (await conn.execute(select(audit).where(audit.c.outcome == "pairing_invalid"))).all()
    assert len(rows) == 1
    assert rows[0].detail.startswith("pairing code sha256:")
    assert code not in rows[0].detail


async def test_a_successful_pairing_is_audited(hall: Hall) -> None:
    device = await _enroll(hall, "display", window="4")
    assert (await _pair(hall, device.pairing_code)).status_code == 200
    async with hall.db.read() as conn:
        rows = (await conn.execute(select(audit).where(audit.c.action == "device.paired"))).all()
    assert [(r.actor_id, r.hall_id, r.window_id) for r in rows] == [
        (f"device:{device.id}", "jinjiang", "4")
    ]


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 12345}, {"code": "x", "more": 1}])
async def test_a_malformed_body_names_the_field(hall: Hall, body: dict[str, Any]) -> None:
    r = await hall.client.post("/api/v1/devices/pair", json=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "validation_error"


async def test_one_code_redeemed_at_once_by_many_pairs_exactly_one(hall: Hall) -> None:
    """Two browsers opening the same link together: one gets the device, the rest 401."""
    device = await _enroll(hall, "display", zone="social")
    answers = await asyncio.gather(*(_pair(hall, device.pairing_code) for _ in range(8)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(200) == 1, statuses
    assert set(statuses) <= {200, 401, 409, 503}, statuses
    winner = next(r for r in answers if r.status_code == 200).json()["token"]
    me = await hall.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {winner}"})
    assert me.status_code == 200
