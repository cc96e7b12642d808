"""Helpers shared by the HTTP tests: the whole stored state, the contract's error shape."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from server.services import auth
from server.storage.tables import audit, metadata, outbox
from tests.conftest import Hall

CHINESE = re.compile(r"[\u4e00-\u9fff]")
ID_NUMBER = re.compile(r"\d{17}[\dXx]")
MOBILE = re.compile(r"1[3-9]\d{9}")


async def db_state(hall: Hall) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table but the audit log (it records rejections on purpose)."""
    state: dict[str, list[tuple[str, ...]]] = {}
    async with hall.db.read() as conn:
        for table in metadata.sorted_tables:
            if table is audit:
                continue
            # outbox.published is delivery bookkeeping the relay flips in the background.
            columns = [c for c in table.c if not (table is outbox and c.name == "published")]
            rows = (await conn.execute(select(*columns))).all()
            state[table.name] = sorted(tuple(repr(v) for v in row) for row in rows)
    return state


async def hall_state(hall: Hall) -> dict[str, Any]:
    """What a screen sees (the display's snapshot) plus what the database holds."""
    snap = await hall.get("/halls/jinjiang/snapshot", "display")
    assert snap.status_code == 200, snap.text
    return {"snapshot": snap.json(), "db": await db_state(hall)}


async def audit_rows(hall: Hall) -> list[dict[str, Any]]:
    async with hall.db.read() as conn:
        rows = (await conn.execute(select(audit).order_by(audit.c.id))).all()
    return [dict(r._mapping) for r in rows]


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The contract's error body with ``status`` and ``code`` and a Chinese ``message``."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "message_en", "details"}, err
    assert err["code"] == code, err
    assert isinstance(err["details"], dict), err
    assert isinstance(err["message_en"], str) and err["message_en"], err
    assert CHINESE.search(err["message"]), err
    return dict(err)


def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enrolling staff hashes passwords; a light Argon2id keeps each test's setup fast."""
    monkeypatch.setattr(
        auth, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
