"""Shared fixtures: the server on SQLite and on PostgreSQL, a manual clock, credentials.

PostgreSQL and Redis come from TEST_DATABASE_URL / TEST_REDIS_URL. Without them those tests
skip with the reason printed; under CI=true a missing service fails the run instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from server.config import AppConfig, load_config
from server.domain.clock import ManualClock
from server.services import auth
from server.storage.db import Database
from server.storage.migrate import upgrade
from server.storage.tables import metadata
from server.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
# Friday 2026-11-27 10:00 in Asia/Shanghai: a business day, morning session.
FRIDAY_10AM = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
PASSWORD = "correct-horse-battery"


def pg_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("TEST_DATABASE_URL is not set: CI must run the PostgreSQL tests")
    return None


def need_pg() -> str:
    url = pg_url()
    if url is None:
        pytest.skip("PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql+asyncpg://…/test)")
    return url


@pytest.fixture(scope="session")
def app_config() -> AppConfig:
    return load_config(ROOT / "config.toml")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY_10AM)


async def reset_postgres(url: str) -> None:
    """Bring the shared test database to the newest schema with every table empty."""
    db = Database(url)
    try:
        await upgrade(db)
        names = ", ".join(t.name for t in metadata.sorted_tables)
        async with db.engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {names}"))
    finally:
        await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each storage/service test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'hallq.db'}"
    url = need_pg()
    await reset_postgres(url)
    return url


@dataclass
class Hall:
    """A running app plus handy credentials, for tests."""

    app: Any
    client: httpx.AsyncClient
    clock: ManualClock
    config: AppConfig
    db: Database
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(
        self, path: str, who: str, json: Any = None, key: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = self.auth(who) | ({"Idempotency-Key": key} if key else {})
        return await self.client.post(f"/api/v1{path}", json=json, headers=headers, **kw)

    async def get(self, path: str, who: str | None = None) -> httpx.Response:
        return await self.client.get(f"/api/v1{path}", headers=self.auth(who) if who else {})

    async def issue(self, queue: str = "social", who: str = "kiosk", **body: Any) -> dict[str, Any]:
        r = await self.post("/halls/jinjiang/tickets", who, {"queue": queue, **body})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def call_next(self, window: str = "1", who: str | None = None, **body: Any) -> Any:
        r = await self.post(
            f"/halls/jinjiang/windows/{window}/call-next", who or f"w{window}", body
        )
        assert r.status_code == 200, r.text
        return r.json()["ticket"]


async def _enroll(
    db: Database, config: AppConfig, now: datetime, terminals: int = 8
) -> dict[str, str]:
    tokens: dict[str, str] = {}
    hall = config.hall("jinjiang")
    async with db.write() as conn:
        for role in ("kiosk", "display"):
            d = await auth.add_device(
                conn, hall="jinjiang", role=role, name=role, window=None, zone=None, now=now
            )
            tokens[role] = d.token
        for wid in list(hall.windows)[:terminals]:
            d = await auth.add_device(
                conn,
                hall="jinjiang",
                role="terminal",
                name=f"t{wid}",
                window=wid,
                zone=None,
                now=now,
            )
            tokens[f"w{wid}"] = d.token
        ev = await auth.add_device(
            conn, hall="jinjiang", role="evaluator", name="ev1", window="1", zone=None, now=now
        )
        tokens["evaluator1"] = ev.token
        other = await auth.add_device(
            conn, hall="laocheng-1", role="kiosk", name="lc kiosk", window=None, zone=None, now=now
        )
        tokens["kiosk_laocheng"] = other.token
        for username, role in (("guide", "guide"), ("manager", "manager"), ("clerk", "staff")):
            await auth.add_staff(
                conn,
                username=username,
                name="王小明",
                role=role,
                hall="jinjiang",
                password=PASSWORD,
                now=now,
            )
            token, _, _ = await auth.login(conn, username, PASSWORD, now, 12)
            tokens[username] = token
    return tokens


@asynccontextmanager
async def running_hall(
    database_url: str, config: AppConfig, clock: ManualClock, *, terminals: int = 8
) -> AsyncIterator[Hall]:
    """The app on ``database_url`` with devices and staff enrolled in jinjiang."""
    config = replace(config, server=replace(config.server, database_url=database_url))
    app = create_app(config, clock=clock, housekeeping=False)
    async with app.router.lifespan_context(app):
        st = app.state.hallq
        tokens = await _enroll(st.db, config, clock.now(), terminals)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hallq.test") as client:
            yield Hall(app, client, clock, config, st.db, tokens)


@pytest.fixture
async def hall(database_url: str, app_config: AppConfig, clock: ManualClock) -> AsyncIterator[Hall]:
    """The app on the parametrized database with devices and staff enrolled in jinjiang."""
    async with running_hall(database_url, app_config, clock) as h:
        yield h
