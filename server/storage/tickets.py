"""Ticket, counter and queue-state queries: the SQL of the hot paths lives here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Row, bindparam, func, literal_column, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.errors import invalid_transition
from server.domain.model import Candidate, Ticket
from server.storage import fast
from server.storage.rows import ticket_values
from server.storage.tables import counters, queue_state, tickets
from server.storage.tables import waiting_counts as counts

WAITING = "waiting"
ACTIVE = ("called", "serving")


def _is_waiting() -> ColumnElement[bool]:
    """``status = 'waiting'`` written as a literal, not a bound parameter.

    asyncpg runs prepared statements; once PostgreSQL switches one to its generic plan, a
    ``status = $n`` cannot prove the partial index ix_tickets_waiting and the plan becomes a
    sequential scan of every ticket ever issued (tests/server/test_query_plan.py).
    """
    return tickets.c.status == literal_column("'waiting'")


def _counter_upsert(insert: Callable[[Any], Any]) -> Any:
    """The counter upsert in ``insert``'s dialect (PostgreSQL and SQLite spell it alike)."""
    c = counters.c
    return (
        insert(counters)
        .values(
            hall_id=bindparam("hall"),
            queue_id=bindparam("queue"),
            business_date=bindparam("day"),
            value=1,
        )
        .on_conflict_do_update(
            index_elements=["hall_id", "queue_id", "business_date"], set_={"value": c.value + 1}
        )
        .returning(c.value)
    )


# The hot-path statements are built once: SQLAlchemy then memoizes each one's cache key and
# finds its compiled form directly, instead of coercing a new statement tree per call (that
# was the largest share of a command's CPU in the profile, docs/performance.md).
_COUNTER_UPSERT = {
    "postgresql": _counter_upsert(postgresql.insert),
    "sqlite": _counter_upsert(sqlite.insert),
}
_INSERT_TICKET = tickets.insert()
_BY_ID = select(tickets).where(tickets.c.id == bindparam("id"))
_BY_ID_IN_HALL = _BY_ID.where(tickets.c.hall_id == bindparam("hall"))
_GET_TICKET = {
    (False, False): _BY_ID,
    (False, True): _BY_ID.with_for_update(),
    (True, False): _BY_ID_IN_HALL,
    (True, True): _BY_ID_IN_HALL.with_for_update(),
}


async def next_counter(conn: AsyncConnection, hall: str, queue: str, day: date) -> int:
    """Increment and return the (hall, queue, day) counter: a row lock, never a sequence."""
    stmt = _COUNTER_UPSERT[conn.dialect.name]
    params = {"hall": hall, "queue": queue, "day": day}
    return int((await fast.execute(conn, stmt, params)).scalar_one())


async def insert_tickets(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Insert ticket rows (``Unit.flush``'s statement-per-row path)."""
    await fast.execute(conn, _INSERT_TICKET, rows)


async def get_ticket(
    conn: AsyncConnection, hall: str | None, ticket_id: str, *, lock: bool = False
) -> fast.Record | None:
    stmt = _GET_TICKET[(hall is not None, lock)]
    params = {"id": ticket_id} if hall is None else {"id": ticket_id, "hall": hall}
    return (await fast.execute(conn, stmt, params)).first()


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


# The statuses as literals: a plain IN list is rendered per execution (an "expanding"
# parameter), which storage/fast.py cannot send on the driver.
_ACTIVE = select(tickets).where(
    tickets.c.hall_id == bindparam("hall"),
    tickets.c.window_id == bindparam("window"),
    tickets.c.status.in_([literal_column(f"'{s}'") for s in ACTIVE]),
)
_ACTIVE_LOCKED = _ACTIVE.with_for_update()


async def active_ticket(
    conn: AsyncConnection, hall: str, window: str, *, lock: bool = False
) -> fast.Record | None:
    """The window's called or serving ticket (the partial unique index allows one)."""
    stmt = _ACTIVE_LOCKED if lock else _ACTIVE
    return (await fast.execute(conn, stmt, {"hall": hall, "window": window})).first()


def _head(klass: bool) -> Any:
    c = tickets.c
    stmt = select(tickets).where(
        c.hall_id == bindparam("hall"), c.queue_id == bindparam("queue"), _is_waiting()
    )
    if klass:
        stmt = stmt.where(c.klass == bindparam("klass"))
    return (
        stmt.order_by(c.klass, c.lane_rank, c.position).limit(1).with_for_update(skip_locked=True)
    )


_HEAD = _head(klass=False)
_HEAD_OF_CLASS = _head(klass=True)


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
    row = await head_row(conn, hall, queue, klass=klass)
    return candidate(row) if row is not None else None


async def head_row(
    conn: AsyncConnection, hall: str, queue: str, *, klass: int | None = None
) -> fast.Record | None:
    """``head`` as the whole locked ``tickets`` row, so a caller need not read it again."""
    if klass is None:
        result = await fast.execute(conn, _HEAD, {"hall": hall, "queue": queue})
    else:
        params = {"hall": hall, "queue": queue, "klass": klass}
        result = await fast.execute(conn, _HEAD_OF_CLASS, params)
    return result.first()


def candidate(row: fast.Record) -> Candidate:
    """What the pure ``choose`` needs of a waiting ticket row."""
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


@cache
def _save(columns: tuple[str, ...]) -> Any:
    """The guarded UPDATE of ``columns`` (those ``ticket_values`` gives), built once.

    Bound names differ from the column names: SQLAlchemy reserves those for the SET clause.
    """
    return (
        update(tickets)
        .where(tickets.c.id == bindparam("b_id"), tickets.c.status == bindparam("b_expected"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )


_WAITING_AHEAD = select(func.count()).where(
    tickets.c.hall_id == bindparam("hall"),
    tickets.c.queue_id == bindparam("queue"),
    _is_waiting(),
    tuple_(tickets.c.klass, tickets.c.lane_rank, tickets.c.position)
    < tuple_(
        bindparam("klass", type_=tickets.c.klass.type),
        bindparam("lane_rank", type_=tickets.c.lane_rank.type),
        bindparam("position", type_=tickets.c.position.type),
    ),
)


def _ahead_of_new() -> Any:
    """People ahead of a ticket from the maintained counts (table ``waiting_counts``).

    Every waiting ticket of the groups (class, lane rank) called up to and including the
    ticket's own, less those of its own group at or after its position: exact for any
    position, and for a new ticket (the end of its group) the second count is about zero
    rows. One statement, so both parts read one snapshot.
    """
    w, t = counts.c, tickets.c
    klass = bindparam("klass", type_=t.klass.type)
    rank = bindparam("lane_rank", type_=t.lane_rank.type)
    groups = (
        select(func.coalesce(func.sum(w.n), 0))
        .where(
            w.hall_id == bindparam("hall"),
            w.queue_id == bindparam("queue"),
            (w.klass < klass) | ((w.klass == klass) & (w.lane_rank <= rank)),
        )
        .scalar_subquery()
    )
    behind = (
        select(func.count())
        .where(
            t.hall_id == bindparam("hall"),
            t.queue_id == bindparam("queue"),
            _is_waiting(),
            t.klass == klass,
            t.lane_rank == rank,
            t.position >= bindparam("position", type_=t.position.type),
        )
        .scalar_subquery()
    )
    return select(groups - behind)


_AHEAD_OF_NEW = _ahead_of_new()


async def save_ticket(conn: AsyncConnection, t: Ticket, expected_status: str) -> None:
    """Guarded update: only if the row still has ``expected_status`` (row-count checked)."""
    values = ticket_values(t)
    params = {f"b_{name}": value for name, value in values.items()}
    params["b_id"] = t.id
    params["b_expected"] = expected_status
    result = await fast.execute(conn, _save(tuple(values)), params)
    if result.rowcount != 1:
        raise invalid_transition("update", "changed")


def _place(t: Ticket) -> dict[str, Any]:
    """The bound values both people-ahead statements take: where ``t`` stands in call order."""
    return {
        "hall": t.hall,
        "queue": t.queue,
        "klass": t.klass,
        "lane_rank": t.lane_rank,
        "position": t.position,
    }


async def waiting_ahead(conn: AsyncConnection, t: Ticket) -> int:
    """How many waiting tickets of its queue come before ``t`` in call order."""
    return int((await fast.execute(conn, _WAITING_AHEAD, _place(t))).scalar_one())


async def waiting_ahead_of_new(conn: AsyncConnection, t: Ticket) -> int:
    """``waiting_ahead`` for a ticket at the end of its group (just issued), in O(1).

    The general count walks every waiting ticket ahead; this one reads the maintained counts
    and the (few) tickets behind. Both give the same answer for any ticket
    (tests/server/test_waiting_counts.py); status pages keep the general count, which is
    cheaper for tickets near the front.
    """
    return int((await fast.execute(conn, _AHEAD_OF_NEW, _place(t))).scalar_one())


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


# The hall's every queue (a handful), filtered in Python: an expanding IN list would be
# rendered per call and could not run on the driver connection (storage/fast.py).
_STREAKS = select(queue_state.c.queue_id, queue_state.c.priority_streak).where(
    queue_state.c.hall_id == bindparam("hall")
)
_SET_STREAK = (
    update(queue_state)
    .where(queue_state.c.hall_id == bindparam("hall"), queue_state.c.queue_id == bindparam("queue"))
    .values(priority_streak=bindparam("streak"))
)


async def streaks(conn: AsyncConnection, hall: str, queues: Sequence[str]) -> dict[str, int]:
    wanted = set(queues)
    result = await fast.execute(conn, _STREAKS, {"hall": hall})
    return {row[0]: int(row[1]) for row in result if row[0] in wanted}


async def set_streak(conn: AsyncConnection, hall: str, queue: str, value: int) -> None:
    await fast.execute(conn, _SET_STREAK, {"hall": hall, "queue": queue, "streak": value})


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
