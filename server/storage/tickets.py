"""Ticket, counter and queue-state queries: the SQL of the hot paths lives here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Row, func, literal_column, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.errors import invalid_transition
from server.domain.model import Candidate, Ticket
from server.storage.rows import ticket_values
from server.storage.tables import counters, queue_state, tickets

WAITING = "waiting"
ACTIVE = ("called", "serving")


def _is_waiting() -> ColumnElement[bool]:
    """``status = 'waiting'`` written as a literal, not a bound parameter.

    asyncpg runs prepared statements; once PostgreSQL switches one to its generic plan, a
    ``status = $n`` cannot prove the partial index ix_tickets_waiting and the plan becomes a
    sequential scan of every ticket ever issued (tests/server/test_query_plan.py).
    """
    return tickets.c.status == literal_column("'waiting'")


async def next_counter(conn: AsyncConnection, hall: str, queue: str, day: date) -> int:
    """Increment and return the (hall, queue, day) counter: a row lock, never a sequence."""
    ins = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(counters)
    upsert = ins.values(hall_id=hall, queue_id=queue, business_date=day, value=1)
    stmt = upsert.on_conflict_do_update(
        index_elements=["hall_id", "queue_id", "business_date"],
        set_={"value": counters.c.value + 1},
    ).returning(counters.c.value)
    return int((await conn.execute(stmt)).scalar_one())


async def insert_ticket(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(tickets.insert().values(**values))


async def get_ticket(
    conn: AsyncConnection, hall: str | None, ticket_id: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(tickets).where(tickets.c.id == ticket_id)
    if hall is not None:
        stmt = stmt.where(tickets.c.hall_id == hall)
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def get_by_token(conn: AsyncConnection, token: str) -> Row[Any] | None:
    return (await conn.execute(select(tickets).where(tickets.c.status_token == token))).first()


async def get_by_number(
    conn: AsyncConnection, hall: str, day: date, number: str, *, lock: bool = False
) -> Row[Any] | None:
    stmt = select(tickets).where(
        tickets.c.hall_id == hall, tickets.c.business_date == day, tickets.c.number == number
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def active_ticket(
    conn: AsyncConnection, hall: str, window: str, *, lock: bool = False
) -> Row[Any] | None:
    """The window's called or serving ticket (the partial unique index allows one)."""
    stmt = select(tickets).where(
        tickets.c.hall_id == hall, tickets.c.window_id == window, tickets.c.status.in_(ACTIVE)
    )
    if lock:
        stmt = stmt.with_for_update()
    return (await conn.execute(stmt)).first()


async def head(
    conn: AsyncConnection,
    hall: str,
    queue: str,
    *,
    klass: int | None = None,
) -> Candidate | None:
    """The first waiting ticket of a queue in call order (optionally of one call class).

    An index probe on ix_tickets_waiting that locks the row it returns. On PostgreSQL rows
    other windows are calling are skipped (SKIP LOCKED), so 25 windows draining one queue
    never queue up behind each other; on SQLite writes are serialised and nothing is locked.
    """
    c = tickets.c
    stmt = select(
        c.id, c.queue_id, c.lane, c.lane_rank, c.klass, c.position, c.issued_at, c.requeues
    ).where(c.hall_id == hall, c.queue_id == queue, _is_waiting())
    if klass is not None:
        stmt = stmt.where(c.klass == klass)
    stmt = stmt.order_by(c.klass, c.lane_rank, c.position).limit(1)
    row = (await conn.execute(stmt.with_for_update(skip_locked=True))).first()
    if row is None:
        return None
    return Candidate(
        ticket_id=row.id,
        queue=row.queue_id,
        lane=row.lane,
        lane_rank=row.lane_rank,
        klass=row.klass,
        position=row.position,
        issued_at=row.issued_at,
        requeued=row.requeues > 0,
    )


async def save_ticket(conn: AsyncConnection, t: Ticket, expected_status: str) -> None:
    """Guarded update: only if the row still has ``expected_status`` (row-count checked)."""
    result = await conn.execute(
        update(tickets)
        .where(tickets.c.id == t.id, tickets.c.status == expected_status)
        .values(**ticket_values(t))
    )
    if result.rowcount != 1:
        raise invalid_transition("update", "changed")


async def waiting_ahead(conn: AsyncConnection, t: Ticket) -> int:
    """How many waiting tickets of its queue come before ``t`` in call order."""
    c = tickets.c
    stmt = select(func.count()).where(
        c.hall_id == t.hall,
        c.queue_id == t.queue,
        _is_waiting(),
        tuple_(c.klass, c.lane_rank, c.position) < tuple_(t.klass, t.lane_rank, t.position),
    )
    return int((await conn.execute(stmt)).scalar_one())


async def waiting_counts(conn: AsyncConnection, hall: str) -> dict[str, tuple[int, Any]]:
    """Per queue: (waiting tickets, issued_at of the longest waiting)."""
    c = tickets.c
    stmt = (
        select(c.queue_id, func.count(), func.min(c.issued_at))
        .where(c.hall_id == hall, _is_waiting())
        .group_by(c.queue_id)
    )
    return {row[0]: (int(row[1]), row[2]) for row in await conn.execute(stmt)}


async def queue_waiting(conn: AsyncConnection, hall: str, queue: str) -> int:
    c = tickets.c
    stmt = select(func.count()).where(c.hall_id == hall, c.queue_id == queue, _is_waiting())
    return int((await conn.execute(stmt)).scalar_one())


async def min_position(conn: AsyncConnection, hall: str, queue: str) -> float | None:
    c = tickets.c
    stmt = select(func.min(c.position)).where(c.hall_id == hall, c.queue_id == queue, _is_waiting())
    value = (await conn.execute(stmt)).scalar_one()
    return float(value) if value is not None else None


async def next_positions(
    conn: AsyncConnection, hall: str, queue: str, klass: int, lane_rank: int, limit: int
) -> list[float]:
    """Positions of the next waiting tickets of one class and lane rank, in call order."""
    c = tickets.c
    stmt = (
        select(c.position)
        .where(
            c.hall_id == hall,
            c.queue_id == queue,
            _is_waiting(),
            c.klass == klass,
            c.lane_rank == lane_rank,
        )
        .order_by(c.position)
        .limit(limit)
    )
    return [float(p) for p in (await conn.execute(stmt)).scalars()]


async def streaks(conn: AsyncConnection, hall: str, queues: Sequence[str]) -> dict[str, int]:
    qs = queue_state.c
    stmt = select(qs.queue_id, qs.priority_streak).where(
        qs.hall_id == hall, qs.queue_id.in_(list(queues))
    )
    return {row[0]: int(row[1]) for row in await conn.execute(stmt)}


async def set_streak(conn: AsyncConnection, hall: str, queue: str, value: int) -> None:
    qs = queue_state.c
    await conn.execute(
        update(queue_state)
        .where(qs.hall_id == hall, qs.queue_id == queue)
        .values(priority_streak=value)
    )


async def recent_service_seconds(
    conn: AsyncConnection, hall: str, queue: str, limit: int = 20
) -> list[float]:
    """Durations (called → finished) of the queue's latest finished visits."""
    c = tickets.c
    stmt = (
        select(c.called_at, c.finished_at)
        .where(c.hall_id == hall, c.queue_id == queue, c.status == "done")
        .order_by(c.finished_at.desc())
        .limit(limit)
    )
    rows = (await conn.execute(stmt)).all()
    return [(f - s).total_seconds() for s, f in rows if s is not None and f is not None]
