"""Several apps on one PostgreSQL (+ Redis): calls reach screens on other processes."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import false, func, select

from server.config import AppConfig
from server.domain.clock import ManualClock
from server.storage.tables import outbox
from tests.conftest import need_pg, reset_postgres
from tests.realtime.support import need_redis, recv, recv_until, screen, serve


async def test_call_on_one_app_reaches_a_screen_on_the_other(
    app_config: AppConfig, clock: ManualClock
) -> None:
    """Two apps sharing PostgreSQL and Redis: a ticket issued on A reaches a screen on B."""
    pg, redis = need_pg(), need_redis()
    await reset_postgres(pg)
    async with (
        serve(app_config, pg, clock, broadcast_url=redis) as a,
        serve(app_config, pg, clock, broadcast_url=redis, tokens=a.tokens) as b,
    ):
        async with screen(b.ws_url, {"type": "hello", "token": b.tokens["display"]}) as ws:
            snap = await recv(ws)
            started = time.monotonic()
            await a.issue()
            event = await recv_until(ws, "event", timeout=2)
            # Through Redis, not the 0.5 s safety-net tail.
            assert time.monotonic() - started < 0.4
            assert event["seq"] == snap["seq"] + 1
        await asyncio.sleep(0.3)  # the relay marks rows published in batches
        async with a.state.db.read() as conn:
            left = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published == false())
            )
        assert left == 0


async def test_redis_down_events_flow_through_the_outbox(
    app_config: AppConfig, clock: ManualClock
) -> None:
    """With Redis unreachable, readiness names the broadcast and calls still reach other apps."""
    pg = need_pg()
    await reset_postgres(pg)
    dead = "redis://127.0.0.1:1/0"
    async with (
        serve(app_config, pg, clock, broadcast_url=dead) as a,
        serve(app_config, pg, clock, broadcast_url=dead, tokens=a.tokens) as b,
    ):
        ready = await b.http.get("/health/ready")
        assert ready.status_code == 503 and "broadcast" in ready.json()["failing"]
        async with screen(b.ws_url, {"type": "hello", "token": b.tokens["display"]}) as ws:
            snap = await recv(ws)
            for i in range(3):
                await a.issue()
                event = await recv_until(ws, "event", timeout=2)
                assert event["seq"] == snap["seq"] + 1 + i
        async with screen(a.ws_url, {"type": "hello", "token": a.tokens["display"]}) as ws:
            snap = await recv(ws)
            started = time.monotonic()
            await a.issue()  # local screens get it directly from the relay
            await recv_until(ws, "event", timeout=2)
            assert time.monotonic() - started < 0.5


async def test_relay_republishes_rows_a_crash_left_unpublished(
    app_config: AppConfig, clock: ManualClock
) -> None:
    """Events committed without a publish (crash after commit) are swept, delivered and marked."""
    pg = need_pg()
    await reset_postgres(pg)
    async with serve(app_config, pg, clock) as s:
        commands = s.state.commands
        async with screen(s.ws_url, {"type": "hello", "token": s.tokens["display"]}) as ws:
            snap = await recv(ws)
            hook, commands.publish = commands.publish, None  # "crash" between commit and publish
            try:
                await s.issue()
            finally:
                commands.publish = hook
            event = await recv_until(ws, "event", timeout=3)
            assert event["seq"] == snap["seq"] + 1
        for _ in range(40):
            if s.state.realtime.relay.republished:
                break
            await asyncio.sleep(0.1)
        assert s.state.realtime.relay.republished >= 1
        await asyncio.sleep(0.3)
        async with s.state.db.read() as conn:
            left = await conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published == false())
            )
        assert left == 0
