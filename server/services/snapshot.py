"""The hall snapshot at seq S: what a (re)connecting screen starts from. No personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.config import HallConfig
from server.domain import events
from server.domain.numbering import business_date
from server.storage import halls as hall_store
from server.storage import tickets as store
from server.storage.tables import outbox, staff, tickets

RECENT_CALLS = 10


async def snapshot(conn: AsyncConnection, hall: HallConfig, now: datetime) -> dict[str, Any]:
    """The contract's ``Snapshot``, read in one transaction so ``seq`` matches the state."""
    epoch, seq = await hall_store.hall_position(conn, hall.id)
    today = business_date(now, hall.tz)
    return {
        "hall": hall.id,
        "epoch": epoch,
        "seq": seq,
        "business_date": today.isoformat(),
        "windows": await _windows(conn, hall),
        "queues": await _queues(conn, hall, now),
        "recent_calls": await _recent_calls(conn, hall.id),
        "missed": await _missed(conn, hall.id, today),
    }


async def _windows(conn: AsyncConnection, hall: HallConfig) -> list[dict[str, Any]]:
    rows = await hall_store.list_windows(conn, hall.id)
    active = {
        r.window_id: r
        for r in await conn.execute(
            select(
                tickets.c.window_id,
                tickets.c.number,
                tickets.c.status,
                tickets.c.called_at,
                tickets.c.recalls,
            ).where(tickets.c.hall_id == hall.id, tickets.c.status.in_(store.ACTIVE))
        )
    }
    names = await _staff_names(conn, [r.staff_id for r in rows if r.staff_id])
    return [_window(r, active.get(r.id), names.get(r.staff_id), hall) for r in rows]


def _window(row: Any, t: Any, staff_row: Any, hall: HallConfig) -> dict[str, Any]:
    ticket = None
    if t is not None:
        ticket = {
            "number": t.number,
            "status": t.status,
            "called_at": t.called_at.isoformat() if t.called_at else None,
            "recalls": t.recalls,
        }
    person = None
    # display.show_staff = false: no staff in the snapshot at all, since every subscriber of
    # the hall receives it; show_staff_name = false: the staff code without the masked name.
    if staff_row is not None and hall.display.show_staff:
        name = mask_name(staff_row.name) if hall.show_staff_name else ""
        person = {"code": staff_row.code, "name_masked": name}
    return {
        "id": row.id,
        "number": row.number,
        "name": row.name,
        "zone": row.zone,
        "status": row.status,
        "reason": row.reason,
        "ticket": ticket,
        "staff": person,
    }


def mask_name(name: str) -> str:
    """王小明 → 王**: staff names on public screens keep only the family name."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


async def _staff_names(conn: AsyncConnection, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = await conn.execute(
        select(staff.c.id, staff.c.code, staff.c.name).where(staff.c.id.in_(ids))
    )
    return {r.id: r for r in rows}


async def _queues(conn: AsyncConnection, hall: HallConfig, now: datetime) -> list[dict[str, Any]]:
    counts = await store.waiting_counts(conn, hall.id)
    result = []
    for q in hall.queues.values():
        waiting, oldest = counts.get(q.id, (0, None))
        longest = int((now - oldest).total_seconds()) if oldest is not None else 0
        result.append(
            {
                "id": q.id,
                "prefix": q.prefix,
                "name": q.name,
                "name_en": q.name_en,
                "waiting": waiting,
                "longest_wait_s": max(0, longest),
            }
        )
    return result


async def _recent_calls(conn: AsyncConnection, hall_id: str) -> list[dict[str, Any]]:
    rows = await conn.execute(
        select(outbox.c.seq, outbox.c.at, outbox.c.data)
        .where(
            outbox.c.hall_id == hall_id,
            outbox.c.name.in_([events.TICKET_CALLED, events.TICKET_RECALLED]),
        )
        .order_by(desc(outbox.c.seq))
        .limit(RECENT_CALLS)
    )
    return [
        {
            "number": r.data.get("number"),
            "window": r.data.get("window"),
            "at": r.at.isoformat(),
            "seq": r.seq,
        }
        for r in rows
    ]


async def _missed(conn: AsyncConnection, hall_id: str, today: Any) -> list[str]:
    rows = await conn.execute(
        select(tickets.c.number)
        .where(
            tickets.c.hall_id == hall_id,
            tickets.c.status == "no_show",
            tickets.c.business_date == today,
        )
        .order_by(tickets.c.finished_at)
    )
    return [r.number for r in rows]
