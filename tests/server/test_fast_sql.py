"""Hot-path statements on the driver connection (server/storage/fast.py) behave as SQLAlchemy's.

Each test runs on a SQLite file (the inline driver) and on PostgreSQL (asyncpg): the rows a
command scenario writes are the same with and without the fast path, a fast statement belongs
to the command's transaction (rolled back with it), values round-trip through the same type
processing, and driver errors arrive as SQLAlchemy's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError

from server.config import AppConfig
from server.domain.clock import ManualClock
from server.services import auth
from server.storage import fast
from server.storage.db import Database
from server.storage.tables import counters, idempotency, metadata, outbox, tickets
from tests.conftest import FRIDAY_10AM, need_pg, reset_postgres, running_hall
from tests.server.test_hot_paths import _rows, _scenario

DAY = FRIDAY_10AM.date()
_INSERT_COUNTER = insert(counters)
_COUNTER = select(counters).where(counters.c.queue_id == bindparam("queue"))
_INSERT_EVENT = insert(outbox)
_EVENTS = select(outbox.c.seq, outbox.c.at, outbox.c.data, outbox.c.published).order_by(
    outbox.c.seq
)


@pytest.fixture(params=["sqlite", "postgres"])
async def url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fast.db'}"
        return
    pg = need_pg()
    await reset_postgres(pg)
    yield pg


async def test_a_command_scenario_writes_the_same_rows_with_and_without_the_fast_path(
    url: str, app_config: AppConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Tickets, counters, idempotency replies (the stored reply bytes), audit, outbox and
    print jobs are equal whether the hot statements run on the driver or through SQLAlchemy."""
    results = []
    for enabled in (True, False):
        monkeypatch.setattr(fast, "enabled", enabled)
        target = url
        if url.startswith("sqlite"):
            target = f"sqlite+aiosqlite:///{tmp_path / f'scenario-{enabled}.db'}"
        else:
            await reset_postgres(url)
        async with running_hall(target, app_config, ManualClock(FRIDAY_10AM)) as h:
            await _scenario(h)
            results.append(await _rows(h))
    on, off = results
    assert len(on["tickets"]) == 4 and len(on["idempotency"]) == 8
    assert on == off


async def test_the_driver_path_is_taken_inside_write_transactions(url: str) -> None:
    """Writes on a SQLite file and on PostgreSQL reach the driver; aiosqlite reads and
    connections with a before_cursor_execute listener (profilers) use SQLAlchemy."""
    db = Database(url)
    try:
        await _create_tables(db)
        async with db.write() as conn:
            assert fast._driver(conn) is not None
        async with db.read() as conn:
            assert (fast._driver(conn) is None) == url.startswith("sqlite")
        seen: list[str] = []

        def listen(_c: object, _cur: object, statement: str, *_args: object) -> None:
            seen.append(statement)

        event.listen(db.write_engine.sync_engine, "before_cursor_execute", listen)
        async with db.write() as conn:
            assert fast._driver(conn) is None
            await fast.execute(conn, _COUNTER, {"queue": "none"})
        assert any("counters" in s for s in seen)
    finally:
        await db.dispose()


async def test_a_fast_statement_is_part_of_the_transaction(url: str) -> None:
    """The first statement of a transaction sent on the driver is rolled back with it (the
    asyncpg adapter begins lazily: fast.py must begin first), and committed with it."""
    db = Database(url)
    try:
        await _create_tables(db)
        row = {"hall_id": "h", "queue_id": "q", "business_date": DAY, "value": 7}
        with pytest.raises(RuntimeError):
            async with db.write() as conn:
                await fast.execute(conn, _INSERT_COUNTER, row)
                raise RuntimeError("abort the command")
        async with db.write() as conn:
            assert (await fast.execute(conn, _COUNTER, {"queue": "q"})).first() is None
            await fast.execute(conn, _INSERT_COUNTER, row)
        async with db.read() as conn:
            found = (await conn.execute(select(counters))).all()
        assert [(r.queue_id, r.business_date, r.value) for r in found] == [("q", DAY, 7)]
    finally:
        await db.dispose()


async def test_values_round_trip_as_through_sqlalchemy(url: str) -> None:
    """Datetimes, dates, JSON and booleans come back typed, on both paths, equal."""
    db = Database(url)
    at = datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=UTC)
    data = {"ticket": "A001", "窗口": 3, "nested": [1, None]}
    try:
        await _create_tables(db)
        async with db.write() as conn:
            await fast.execute(
                conn,
                _INSERT_EVENT,
                [
                    {"hall_id": "h", "seq": s, "epoch": "e", "name": "n", "at": at, "data": data}
                    for s in (1, 2)
                ],
            )
        async with db.write() as conn:
            fast_rows = list((await fast.execute(conn, _EVENTS)).all())
            plain_rows = list((await conn.execute(_EVENTS)).all())
            counter_fast = await fast.execute(conn, _COUNTER, {"queue": "nothing"})
        assert [tuple(r) for r in fast_rows] == [tuple(r) for r in plain_rows]
        first = fast_rows[0]
        assert first.seq == 1 and first.data == data and first.published is False
        assert first.at.replace(tzinfo=UTC) == at
        assert counter_fast.first() is None
    finally:
        await db.dispose()


async def test_driver_errors_arrive_as_sqlalchemy_errors(url: str) -> None:
    """A duplicate key sent on the driver raises SQLAlchemy's IntegrityError (the commands'
    retry and error mapping depend on it), and the transaction rolls back."""
    db = Database(url)
    row = {"hall_id": "h", "queue_id": "dup", "business_date": date(2026, 11, 27), "value": 1}
    try:
        await _create_tables(db)
        async with db.write() as conn:
            await fast.execute(conn, _INSERT_COUNTER, row)
        with pytest.raises(IntegrityError):
            async with db.write() as conn:
                await fast.execute(conn, _INSERT_COUNTER, row)
        async with db.write() as conn:
            assert len((await fast.execute(conn, _COUNTER, {"queue": "dup"})).all()) == 1
    finally:
        await db.dispose()


async def _create_tables(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def test_a_device_token_and_its_key_checked_together(
    url: str, app_config: AppConfig, clock: ManualClock
) -> None:
    """Device commands look the token up and claim the key in one statement on PostgreSQL:
    a repeated key replays, and an unknown or revoked token is refused with nothing claimed."""
    async with running_hall(url, app_config, clock) as h:
        path = "/halls/jinjiang/tickets"
        first = await h.post(path, "kiosk", {"queue": "social"}, key="k1")
        again = await h.post(path, "kiosk", {"queue": "social"}, key="k1")
        assert first.status_code == again.status_code == 201
        assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
        other = await h.post(path, "kiosk", {"queue": "tax"}, key="k1")
        assert other.status_code == 422

        h.tokens["stranger"] = "hqd_" + "x" * 43
        stranger = await h.post(path, "stranger", {"queue": "social"}, key="k2")
        me = (await h.client.get("/api/v1/auth/me", headers=h.auth("kiosk"))).json()
        async with h.db.write() as conn:
            await auth.revoke_device(conn, me["id"], h.clock.now())
        revoked = await h.post(path, "kiosk", {"queue": "social"}, key="k3")
        assert stranger.status_code == revoked.status_code == 401
        assert revoked.json()["error"]["code"] == "unauthorized"
        async with h.db.read() as conn:
            keys = (await conn.execute(select(idempotency.c.key))).scalars().all()
            issued = (await conn.execute(select(tickets.c.id))).scalars().all()
        assert sorted(keys) == ["k1"] and len(issued) == 1


async def test_issue_and_call_next_never_fall_back_to_sqlalchemy(
    url: str, app_config: AppConfig, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every statement of a kiosk issue and a call-next runs on the driver: a statement
    changed so it cannot (an IN list, a Python-side default) would quietly cost 5-10× more."""
    fallbacks: list[str] = []
    original = fast._through_sqlalchemy

    async def watch(conn: Any, stmt: Any, params: Any) -> Any:
        fallbacks.append(" ".join(str(stmt).split())[:80])
        return await original(conn, stmt, params)

    monkeypatch.setattr(fast, "_through_sqlalchemy", watch)
    async with running_hall(url, app_config, clock) as h:
        await h.issue("social")
        fallbacks.clear()
        for i in range(3):
            r = await h.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"}, key=f"i{i}")
            assert r.status_code == 201, r.text
            path = "/halls/jinjiang/windows/1/call-next"
            r = await h.post(path, "w1", {"finish_current": True}, key=f"c{i}")
            assert r.status_code == 200, r.text
    assert fallbacks == []
