"""The call-next hot path stays an index probe on PostgreSQL with 10,000 waiting tickets.

Each test runs the real function of server/storage/tickets.py, captures the exact SQL and
parameters it sent, and EXPLAINs that statement as a prepared statement twice: with a custom
plan (the parameter values known) and with the generic plan PostgreSQL switches a prepared
statement to after a few executions (asyncpg prepares every statement).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage import tickets as store
from server.storage.db import Database
from server.storage.rows import ticket_from_row
from server.storage.tables import tickets
from tests.conftest import need_pg, reset_postgres

HALL = "jinjiang"
QUEUES = ("social", "project", "market")
WAITING = 10_000
DONE = 20_000  # history: a table that only grows makes a scan ever slower
PLAN_MODES = ("force_custom_plan", "force_generic_plan")
DAY = date(2026, 11, 27)


def _row(i: int, status: str) -> dict[str, Any]:
    lane = "elderly" if i % 10 == 0 else "normal"
    now = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    return {
        "id": uuid.uuid4().hex,
        "hall_id": HALL,
        "queue_id": QUEUES[i % 3],
        "business_date": DAY,
        "counter": i,
        "number": f"N{i:05d}",
        "lane": lane,
        "lane_rank": 2 if lane == "elderly" else 0,
        "klass": 1 if lane == "elderly" else 2,
        "position": float(i),
        "channel": "kiosk",
        "status": status,
        "issued_at": now,
        "called_at": now if status == "done" else None,
        "finished_at": now if status == "done" else None,
        "status_token": secrets.token_urlsafe(18),
    }


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    """The test database holding 10,000 waiting tickets over 3 queues plus done ones, analyzed."""
    url = need_pg()
    await reset_postgres(url)
    database = Database(url)
    rows = [_row(i, "waiting") for i in range(1, WAITING + 1)]
    rows += [_row(i, "done") for i in range(WAITING + 1, WAITING + DONE + 1)]
    async with database.engine.begin() as conn:
        for start in range(0, len(rows), 5000):
            await conn.execute(insert(tickets), rows[start : start + 5000])
    async with database.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("ANALYZE tickets"))
    try:
        yield database
    finally:
        await database.dispose()


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


async def _plans(db: Database, run: Callable[[AsyncConnection], Awaitable[Any]]) -> dict[str, str]:
    """EXPLAIN of the one statement ``run`` sends, per plan mode."""
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: Any) -> None:
        sent.append((statement, params))

    async with db.engine.connect() as conn:
        event.listen(db.engine.sync_engine, "before_cursor_execute", capture)
        try:
            await run(conn)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", capture)
        assert len(sent) == 1, sent
        statement, params = sent[0]
        args = ", ".join(_literal(p) for p in params)
        plans = {}
        for mode in PLAN_MODES:
            await conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
            await conn.exec_driver_sql(f"PREPARE hot AS {statement}")
            explained = await conn.exec_driver_sql(f"EXPLAIN EXECUTE hot({args})")
            plans[mode] = "\n".join(r[0] for r in explained)
            await conn.exec_driver_sql("DEALLOCATE hot")
        await conn.rollback()
    return plans


def _assert_index(plans: dict[str, str], index: str) -> None:
    for mode, plan in plans.items():
        assert "Seq Scan" not in plan, f"{mode}:\n{plan}"
        assert index in plan, f"{mode}: expected {index}\n{plan}"


async def test_head_plan_probes_the_waiting_index(db: Database) -> None:
    """head() (call-next's pick and lock) reads ix_tickets_waiting in call order, unsorted."""

    async def run(conn: AsyncConnection) -> Any:
        return await store.head(conn, HALL, "social")

    plans = await _plans(db, run)
    _assert_index(plans, "ix_tickets_waiting")
    for mode, plan in plans.items():
        assert "Sort" not in plan, f"{mode}:\n{plan}"


async def test_head_of_one_class_probes_the_waiting_index(db: Database) -> None:
    """head() for the normal class behind priority tickets stays an index probe, unsorted."""

    async def run(conn: AsyncConnection) -> Any:
        return await store.head(conn, HALL, "project", klass=2)

    plans = await _plans(db, run)
    _assert_index(plans, "ix_tickets_waiting")
    for mode, plan in plans.items():
        assert "Sort" not in plan, f"{mode}:\n{plan}"


async def test_waiting_ahead_plan_uses_the_waiting_index(db: Database) -> None:
    """waiting_ahead() of the last ticket of a queue counts on ix_tickets_waiting, no seq scan."""
    async with db.engine.connect() as conn:
        last = (
            await conn.execute(
                text(
                    "SELECT id FROM tickets WHERE status = 'waiting' AND queue_id = 'market' "
                    "AND klass = 2 ORDER BY position DESC LIMIT 1"
                )
            )
        ).one()
        found = await store.get_ticket(conn, HALL, last.id)
        assert found is not None
        ticket = ticket_from_row(found)

    async def run(conn: AsyncConnection) -> Any:
        return await store.waiting_ahead(conn, ticket)

    _assert_index(await _plans(db, run), "ix_tickets_waiting")
