"""Staff login, throttling (R14) and device pairing codes."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from server.domain.errors import Unauthorized
from server.services import auth
from tests.conftest import PASSWORD, Hall
from tests.server.support import assert_error, cheap_passwords


@pytest.fixture(autouse=True)
def _cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_passwords(monkeypatch)


async def login(hall: Hall, username: str, password: str) -> httpx.Response:
    body = {"username": username, "password": password}
    return await hall.client.post("/api/v1/auth/login", json=body)


async def test_login_ok(hall: Hall) -> None:
    """A right password returns a token valid for 12 h, its expiry and the staff view."""
    r = await login(hall, "guide", PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "expires_at", "staff"}
    assert datetime.fromisoformat(body["expires_at"]) == datetime.fromisoformat(
        "2026-11-27T14:00:00+00:00"
    )
    assert body["staff"]["username"] == "guide" and body["staff"]["role"] == "guide"
    assert body["staff"]["hall"] == "jinjiang"
    assert "password_hash" not in body["staff"]
    me = await hall.client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert me.status_code == 200 and me.json()["role"] == "guide", me.text


async def test_wrong_password_and_unknown_user_look_the_same(hall: Hall) -> None:
    """A wrong password and an unknown username get the same status, code and message."""
    wrong = await login(hall, "guide", "not-the-password")
    unknown = await login(hall, "nobody", "not-the-password")
    assert_error(wrong, 401, "login_failed")
    assert_error(unknown, 401, "login_failed")
    assert wrong.json() == unknown.json()
    assert wrong.headers.get("retry-after") == unknown.headers.get("retry-after")


async def test_throttled_after_five_failures(hall: Hall, monkeypatch: pytest.MonkeyPatch) -> None:
    """After 5 failures: 429 with Retry-After even with the right password; no more hashing."""
    verified: list[str] = []
    real_verify = auth._verify

    def counting_verify(digest: str, password: str) -> bool:
        verified.append(password)
        return real_verify(digest, password)

    monkeypatch.setattr(auth, "_verify", counting_verify)
    for _ in range(5):
        assert_error(await login(hall, "clerk", "wrong-password"), 401, "login_failed")
    r = await login(hall, "clerk", PASSWORD)
    assert_error(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 301
    for _ in range(100):  # R14: a flood of guesses costs no Argon2 work once throttled
        assert (await login(hall, "clerk", "guess")).status_code == 429
    assert len(verified) == 5
    hall.clock.advance(301)
    r = await login(hall, "clerk", PASSWORD)
    assert r.status_code == 200, r.text


async def test_throttle_is_per_account(hall: Hall) -> None:
    """Failures on one account do not throttle another."""
    for _ in range(5):
        await login(hall, "clerk", "wrong-password")
    assert (await login(hall, "guide", PASSWORD)).status_code == 200


async def test_throttle_does_not_reveal_accounts(hall: Hall) -> None:
    """Six failures on a real and on an unknown username get the same answer (R14)."""
    answers: dict[str, Any] = {}
    for name in ("clerk", "nobody"):
        for _ in range(6):
            r = await login(hall, name, "wrong-password")
        answers[name] = (r.status_code, r.json()["error"]["code"])
    assert answers["clerk"] == answers["nobody"]


async def test_pairing_code_works_once(hall: Hall) -> None:
    """A pairing code gives a fresh device token once; a second redeem fails."""
    now = hall.clock.now()
    async with hall.db.write() as conn:
        dev = await auth.add_device(
            conn, hall="jinjiang", role="display", name="screen", window=None, zone=None, now=now
        )
    async with hall.db.write() as conn:
        token, who = await auth.redeem_pairing(conn, dev.pairing_code, now)
    assert (who.id, who.role, who.hall) == (dev.id, "display", "jinjiang")
    r = await hall.client.get(
        "/api/v1/halls/jinjiang/snapshot", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    with pytest.raises(Unauthorized) as exc:
        async with hall.db.write() as conn:
            await auth.redeem_pairing(conn, dev.pairing_code, now)
    assert exc.value.code == "pairing_invalid"


async def test_pairing_code_expires(hall: Hall) -> None:
    """A pairing code is refused after its 10 minutes."""
    now = hall.clock.now()
    async with hall.db.write() as conn:
        dev = await auth.add_device(
            conn, hall="jinjiang", role="kiosk", name="k2", window=None, zone=None, now=now
        )
    with pytest.raises(Unauthorized) as exc:
        async with hall.db.write() as conn:
            await auth.redeem_pairing(
                conn, dev.pairing_code, now + timedelta(minutes=10, seconds=1)
            )
    assert exc.value.code == "pairing_invalid"


async def test_a_password_check_holds_no_write_transaction(
    hall: Hall, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argon2 is slow on purpose; while one login's password is checked, a kiosk still issues
    (on SQLite the check used to hold the one write lock for its whole duration)."""
    release = threading.Event()
    checking = threading.Event()
    real_verify = auth._verify

    def slow_verify(digest: str, password: str) -> bool:
        checking.set()
        release.wait(10)
        return real_verify(digest, password)

    monkeypatch.setattr(auth, "_verify", slow_verify)
    pending = asyncio.create_task(login(hall, "guide", PASSWORD))
    try:
        for _ in range(500):  # the login reaches its check within a few loop turns
            if checking.is_set():
                break
            await asyncio.sleep(0.01)
        assert checking.is_set()
        ticket = await asyncio.wait_for(hall.issue(service="S01"), 5)
        assert ticket["status"] == "waiting"
    finally:
        release.set()
    r = await pending
    assert r.status_code == 200, r.text
