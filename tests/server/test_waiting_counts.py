"""Waiting counts kept by triggers (migration 0005), and the O(1) people-ahead built on them."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.model import Ticket, TicketStatus
from server.storage import tickets as store
from server.storage.db import Database
from server.storage.migrate import alembic_config, upgrade
from server.storage.tables import tickets, waiting_counts

DAY = date(2026, 11, 27)
AT = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
HALLS = ("h1", "h2")
QUEUES = ("A", "B")
GROUPS = ((0, 1), (0, 2), (1, 0))  # (klass, lane_rank): priority lanes first, then normal
STATES = ("waiting", "called", "serving", "done", "no_show", "cancelled")


def ticket_row(n: int, rng: random.Random) -> dict[str, Any]:
    klass, rank = rng.choice(GROUPS)
    return {
        "id": f"t{n:05d}",
        "hall_id": rng.choice(HALLS),
        "queue_id": rng.choice(QUEUES),
        "business_date": DAY,
        "counter": n,
        "number": f"N{n:05d}",
        "lane": "normal" if klass else "elderly",
        "lane_rank": rank,
        "klass": klass,
        "position": float(rng.randint(1, 60)),
        "channel": "kiosk",
        "status": rng.choice(("waiting", "waiting", "called")),
        "issued_at": AT,
        "status_token": f"s{n:05d}",
    }


async def mutate(conn: AsyncConnection, rng: random.Random, ids: list[str], n: int) -> None:
    """One random change of the kinds the services make (and a delete, as a purge would)."""
    kind = rng.choices(("insert", "status", "move", "delete", "bulk"), weights=(8, 4, 2, 1, 1))[0]
    c = tickets.c
    if kind == "insert" or not ids:
        row = ticket_row(n, rng)
        await conn.execute(insert(tickets).values(row))
        ids.append(row["id"])
    elif kind == "status":
        await conn.execute(
            update(tickets).where(c.id == rng.choice(ids)).values(status=rng.choice(STATES))
        )
    elif kind == "move":  # transfer to another queue, or a lane corrected at the guide desk
        klass, rank = rng.choice(GROUPS)
        await conn.execute(
            update(tickets)
            .where(c.id == rng.choice(ids))
            .values(queue_id=rng.choice(QUEUES), klass=klass, lane_rank=rank, status="waiting")
        )
    elif kind == "delete":
        victim = rng.choice(ids)
        ids.remove(victim)
        await conn.execute(delete(tickets).where(c.id == victim))
    else:  # expiry at closing: one statement, many rows
        await conn.execute(
            update(tickets)
            .where(c.queue_id == rng.choice(QUEUES), c.status == "waiting")
            .values(status="expired")
        )


async def counts_in_db(conn: AsyncConnection) -> dict[tuple[Any, ...], int]:
    w = waiting_counts.c
    rows = await conn.execute(select(w.hall_id, w.queue_id, w.klass, w.lane_rank, w.n))
    return {tuple(r[:4]): int(r[4]) for r in rows if r[4] != 0}


async def counts_by_scan(conn: AsyncConnection) -> dict[tuple[Any, ...], int]:
    c = tickets.c
    rows = await conn.execute(
        select(c.hall_id, c.queue_id, c.klass, c.lane_rank, func.count())
        .where(c.status == "waiting")
        .group_by(c.hall_id, c.queue_id, c.klass, c.lane_rank)
    )
    return {tuple(r[:4]): int(r[4]) for r in rows}


def as_ticket(row: Any) -> Ticket:
    return make_ticket(
        row.id, row.hall_id, row.queue_id, row.klass, row.lane_rank, row.position, row.status
    )


def make_ticket(
    id: str, hall: str, queue: str, klass: int, rank: int, position: float, status: str
) -> Ticket:
    return Ticket(
        id=id,
        hall=hall,
        queue=queue,
        number="N0",
        counter=0,
        business_date=DAY,
        lane="normal" if klass else "elderly",
        lane_rank=rank,
        service=None,
        channel="kiosk",
        status=TicketStatus(status),
        issued_at=AT,
        position=position,
        klass=klass,
        status_token="-",
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_counts_follow_every_change_and_give_the_same_people_ahead(
    database_url: str, seed: int
) -> None:
    """Random inserts, status changes, transfers, lane changes, deletes and bulk expiries, in
    transactions of a few changes: after each, the counts equal a full scan, and people ahead
    from the counts equal the general count for every waiting ticket and for new ones."""
    db = Database(database_url)
    rng = random.Random(seed)
    ids: list[str] = []
    n = most_waiting = 0
    try:
        await upgrade(db)
        for _ in range(40):
            async with db.write() as conn:
                for _ in range(rng.randint(1, 4)):
                    n += 1
                    await mutate(conn, rng, ids, n)
            async with db.read() as conn:
                assert await counts_in_db(conn) == await counts_by_scan(conn)
                waiting = (
                    await conn.execute(select(tickets).where(tickets.c.status == "waiting"))
                ).all()
                for row in waiting:
                    t = as_ticket(row)
                    assert await store.waiting_ahead_of_new(conn, t) == await store.waiting_ahead(
                        conn, t
                    )
                # A ticket about to be issued: past every position, in each group.
                for hall in HALLS:
                    for klass, rank in GROUPS:
                        new = make_ticket("new", hall, "A", klass, rank, 1000.0, "waiting")
                        got = await store.waiting_ahead_of_new(conn, new)
                        assert got == await store.waiting_ahead(conn, new)
                most_waiting = max(most_waiting, len(waiting))
        assert most_waiting >= 5  # the run did build queues
    finally:
        await db.dispose()


async def test_upgrade_counts_the_tickets_already_waiting(tmp_path: Path) -> None:
    """A hall upgrading with tickets in its queues gets them counted by the migration."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    rng = random.Random(7)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda sync: command.upgrade(alembic_config(sync), "0004"))
            await conn.execute(insert(tickets), [ticket_row(i, rng) for i in range(1, 50)])
        await upgrade(db)
        async with db.read() as conn:
            scanned = await counts_by_scan(conn)
            assert scanned and await counts_in_db(conn) == scanned
    finally:
        await db.dispose()
