"""R5 idempotency, R6 double call-next, R7 25 windows draining a queue, R8 midnight rollover."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from server.config import AppConfig, WindowConfig
from server.domain.clock import ManualClock
from server.domain.model import BusinessHours
from server.services.commands import Commands
from server.services.setup import expire_all
from server.storage.tables import outbox, tickets
from tests.conftest import Hall, need_pg, reset_postgres, running_hall

ALL_DAY = BusinessHours(days=frozenset(range(1, 8)), sessions=((time(0, 0), time.max),))


async def count_tickets(h: Hall, **where: Any) -> int:
    stmt = select(func.count()).select_from(tickets)
    for column, value in where.items():
        stmt = stmt.where(tickets.c[column] == value)
    async with h.db.read() as conn:
        return int((await conn.execute(stmt)).scalar_one())


async def test_r5_same_key_sequential_replays_identically(hall: Hall) -> None:
    """Ten sequential posts with one key issue one ticket and return the same bytes."""
    replies = [
        await hall.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"}, key="press-1")
        for _ in range(10)
    ]
    assert {r.status_code for r in replies} == {201}
    assert len({r.content for r in replies}) == 1
    assert [r.headers.get("idempotent-replayed") for r in replies[1:]] == ["true"] * 9
    assert await count_tickets(hall) == 1


async def test_r5_same_key_concurrent_gives_one_ticket(hall: Hall) -> None:
    """Ten concurrent posts with one key issue one ticket and all get the same answer."""
    replies = await asyncio.gather(
        *(
            hall.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"}, key="press-2")
            for _ in range(10)
        )
    )
    assert {r.status_code for r in replies} == {201}
    assert len({r.content for r in replies}) == 1
    assert await count_tickets(hall) == 1


async def test_r5_same_key_other_body_is_422(hall: Hall) -> None:
    """Reusing a key with another body is refused with 422 and changes nothing."""
    first = await hall.post("/halls/jinjiang/tickets", "kiosk", {"queue": "social"}, key="k3")
    other = await hall.post("/halls/jinjiang/tickets", "kiosk", {"queue": "project"}, key="k3")
    assert first.status_code == 201
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert await count_tickets(hall) == 1


async def test_r6_double_call_next_never_two_active(hall: Hall) -> None:
    """Two call-next presses at one window at once: one call, one window_busy, nothing skipped."""
    issued = [await hall.issue("social") for _ in range(3)]
    replies = await asyncio.gather(
        *(hall.post("/halls/jinjiang/windows/1/call-next", "w1", {}) for _ in range(2))
    )
    codes = sorted(r.status_code for r in replies)
    assert codes == [200, 409]
    busy = next(r for r in replies if r.status_code == 409)
    assert busy.json()["error"]["code"] == "window_busy"
    assert await count_tickets(hall, window_id="1", status="called") == 1
    called = next(r for r in replies if r.status_code == 200).json()["ticket"]
    assert called["number"] == issued[0]["number"]
    following = await hall.call_next("1", finish_current=True)
    assert following["number"] == issued[1]["number"]


def _twenty_five_windows(config: AppConfig) -> AppConfig:
    base = config.hall("jinjiang")
    windows = {
        str(n): WindowConfig(str(n), n, f"{n}号窗口", f"Window {n}", "social", ("social",), "fifo")
        for n in range(1, 26)
    }
    queues = {q: replace(c, daily_cap=None) for q, c in base.queues.items()}
    hall = replace(base, windows=windows, queues=queues, hours=ALL_DAY)
    return replace(config, halls={**config.halls, "jinjiang": hall})


async def _drain(h: Hall, window: str, deadline: float) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    called: list[dict[str, Any]] = []
    while loop.time() < deadline:
        r = await h.post(
            f"/halls/jinjiang/windows/{window}/call-next", f"w{window}", {"finish_current": True}
        )
        assert r.status_code == 200, r.text
        ticket = r.json()["ticket"]
        if ticket is None:
            return called
        called.append(ticket)
    raise AssertionError(f"window {window} still calling at the deadline")


async def test_r7_25_windows_drain_2000_tickets_on_postgres(
    app_config: AppConfig, clock: ManualClock
) -> None:
    """25 windows calling at once on PostgreSQL call each of 2,000 tickets exactly once."""
    url = need_pg()
    await reset_postgres(url)
    config = _twenty_five_windows(app_config)
    async with running_hall(url, config, clock, terminals=25) as h:
        sem = asyncio.Semaphore(16)

        async def issue_one() -> None:
            async with sem:
                await h.issue("social")

        t0 = asyncio.get_running_loop().time()
        await asyncio.gather(*(issue_one() for _ in range(2000)))
        print("issue phase", asyncio.get_running_loop().time() - t0)
        deadline = asyncio.get_running_loop().time() + 240
        per_window = await asyncio.gather(*(_drain(h, str(w), deadline) for w in range(1, 26)))
        ids = Counter(t["id"] for calls in per_window for t in calls)
        assert len(ids) == 2000 and set(ids.values()) == {1}
        assert sum(1 for calls in per_window if calls) >= 10  # the load really was spread
        for calls in per_window:  # each window calls in number order (no rollback reordering)
            numbers = [int(t["number"][1:]) for t in calls]
            assert numbers == sorted(numbers)
        assert await count_tickets(h, status="waiting") == 0


def _all_day(config: AppConfig) -> AppConfig:
    hall = config.hall("jinjiang")
    queues = {q: replace(c, stop_issuing=None) for q, c in hall.queues.items()}
    return replace(
        config, halls={**config.halls, "jinjiang": replace(hall, hours=ALL_DAY, queues=queues)}
    )


async def test_r8_midnight_rollover(database_url: str, app_config: AppConfig) -> None:
    """Across local midnight numbers restart at 001, nothing collides, seq keeps increasing."""
    # 2026-11-27 23:59:59.9 in Asia/Shanghai is 15:59:59.9 UTC.
    clock = ManualClock(datetime(2026, 11, 27, 15, 59, 59, 900000, tzinfo=UTC))
    async with running_hall(database_url, _all_day(app_config), clock) as h:
        before = [await h.issue("social") for _ in range(2)]
        clock.advance(0.2)
        after = [await h.issue("social") for _ in range(2)]
        clock.set(clock.now() - timedelta(seconds=0.15))  # wall clock stepped back by NTP
        stepped = await h.issue("social")
        assert [t["number"] for t in before] == ["A001", "A002"]
        assert {t["business_date"] for t in before} == {"2026-11-27"}
        assert [t["number"] for t in after] == ["A001", "A002"]
        assert {t["business_date"] for t in after} == {"2026-11-28"}
        assert (stepped["business_date"], stepped["number"]) == ("2026-11-27", "A003")
        async with h.db.read() as conn:
            seqs = list((await conn.execute(select(outbox.c.seq).order_by(outbox.c.seq))).scalars())
        assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 5


async def test_r8_waiting_tickets_expire_after_the_day(
    database_url: str, app_config: AppConfig
) -> None:
    """Tickets still waiting when their business day is over expire; none is deleted."""
    clock = ManualClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    async with running_hall(database_url, app_config, clock) as h:
        for _ in range(3):
            await h.issue("social")
        await h.call_next("1")
        commands: Commands = h.app.state.hallq.commands
        assert await expire_all(commands) == 0
        clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # 18:00 local: after closing
        assert await expire_all(commands) == 2
        assert await count_tickets(h, status="expired") == 2
        assert await count_tickets(h) == 3
        snap = (await h.get("/halls/jinjiang/snapshot", "display")).json()
        social = next(q for q in snap["queues"] if q["id"] == "social")
        assert social["waiting"] == 0
        assert json.dumps(snap).count("expired") == 0
