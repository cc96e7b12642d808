"""Hall, window and queue-state rows: seeding from config and window queries."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.errors import not_found
from server.storage import fast
from server.storage.ids import new_id
from server.storage.tables import halls, queue_state, windows


def new_epoch() -> str:
    """A fresh epoch: clients seeing a new one drop their state and resync."""
    return new_id(16)


async def ensure_hall(conn: AsyncConnection, hall_id: str, now: datetime) -> None:
    exists = (await conn.execute(select(halls.c.id).where(halls.c.id == hall_id))).first()
    if exists is None:
        await conn.execute(
            halls.insert().values(id=hall_id, epoch=new_epoch(), seq=0, created_at=now)
        )


async def ensure_queue_states(conn: AsyncConnection, hall_id: str, queues: Iterable[str]) -> None:
    have = set(
        (
            await conn.execute(
                select(queue_state.c.queue_id).where(queue_state.c.hall_id == hall_id)
            )
        ).scalars()
    )
    missing = [
        {"hall_id": hall_id, "queue_id": q, "priority_streak": 0} for q in queues if q not in have
    ]
    if missing:
        await conn.execute(queue_state.insert(), missing)


async def ensure_windows(
    conn: AsyncConnection, hall_id: str, rows: Iterable[dict[str, Any]], now: datetime
) -> None:
    """Create window rows missing from the database; existing rows keep run-time edits."""
    have = set(
        (await conn.execute(select(windows.c.id).where(windows.c.hall_id == hall_id))).scalars()
    )
    missing = [
        {**r, "hall_id": hall_id, "status": "closed", "updated_at": now}
        for r in rows
        if r["id"] not in have
    ]
    if missing:
        await conn.execute(windows.insert(), missing)


async def hall_position(conn: AsyncConnection, hall_id: str) -> tuple[str, int]:
    """(epoch, seq) of a hall."""
    row = (
        await conn.execute(select(halls.c.epoch, halls.c.seq).where(halls.c.id == hall_id))
    ).one()
    return row.epoch, int(row.seq)


_WINDOW = select(windows).where(
    windows.c.hall_id == bindparam("hall"), windows.c.id == bindparam("window")
)
_WINDOW_LOCKED = _WINDOW.with_for_update()


async def get_window(
    conn: AsyncConnection, hall_id: str, window_id: str, *, lock: bool = False
) -> fast.Record:
    """A window row (locked FOR UPDATE when asked: first in the lock order); 404 if unknown."""
    stmt = _WINDOW_LOCKED if lock else _WINDOW
    row = (await fast.execute(conn, stmt, {"hall": hall_id, "window": window_id})).first()
    if row is None:
        raise not_found("window", window_id, "窗口")
    return row


async def list_windows(conn: AsyncConnection, hall_id: str) -> list[Row[Any]]:
    stmt = select(windows).where(windows.c.hall_id == hall_id).order_by(windows.c.number)
    return list((await conn.execute(stmt)).all())


async def set_window(
    conn: AsyncConnection, hall_id: str, window_id: str, now: datetime, **values: Any
) -> None:
    await conn.execute(
        update(windows)
        .where(windows.c.hall_id == hall_id, windows.c.id == window_id)
        .values(updated_at=now, **values)
    )
