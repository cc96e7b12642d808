"""The fan-out paths against a real uvicorn: direct writes, a reconnect storm, shared reads."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from server.config import AppConfig
from server.domain.clock import ManualClock
from server.realtime.wire import UvicornWire
from tests.realtime.support import FAST, Server, recv, recv_until, screen, serve

STORM = 30


@pytest.fixture
async def server(
    app_config: AppConfig, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Server]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fanout.db'}"
    # A long snapshot age so the counts below do not depend on the machine's speed.
    async with serve(app_config, url, clock, options=replace(FAST, snapshot_max_age_s=60)) as s:
        yield s


def hello(s: Server, **extra: Any) -> dict[str, Any]:
    return {"type": "hello", "token": s.tokens["display"], **extra}


async def test_screens_are_written_directly_and_get_every_event(server: Server) -> None:
    """Under uvicorn's sans-I/O websockets a screen's frames bypass the ASGI send, and the
    events still arrive complete and in order."""
    async with screen(server.ws_url, hello(server)) as ws:
        snap = await recv(ws)
        conns = server.state.realtime.hub.feeds["jinjiang"].conns
        assert [type(c._wire) for c in conns] == [UvicornWire]
        for _ in range(3):
            await server.issue()
        seqs = [(await recv_until(ws, "event"))["seq"] for _ in range(3)]
        assert seqs == [snap["seq"] + i for i in (1, 2, 3)]


async def test_reconnect_storm_costs_one_snapshot_read_per_seq(server: Server) -> None:
    """Thirty screens connecting at once share one snapshot read and one token read; after an
    event, thirty reconnecting with their last_seq are served from memory, no read at all."""
    rt = server.state.realtime
    hub = rt.hub
    reads0, tokens0 = hub.snapshot_reads, rt.tokens.reads
    async with contextlib.AsyncExitStack() as stack:
        screens: list[ClientConnection] = await asyncio.gather(
            *(stack.enter_async_context(screen(server.ws_url, hello(server))) for _ in range(STORM))
        )
        snaps = [await recv(ws) for ws in screens]
        assert {s["type"] for s in snaps} == {"snapshot"} and len({s["seq"] for s in snaps}) == 1
        assert hub.snapshot_reads - reads0 == 1
        assert rt.tokens.reads - tokens0 <= 2  # the first batch, perhaps a second one
        await server.issue()
        events = [await recv_until(ws, "event") for ws in screens]
        assert {e["seq"] for e in events} == {snaps[0]["seq"] + 1}
    epoch, last = events[0]["epoch"], events[0]["seq"] - 1  # each missed the issue
    replays0 = hub.replays_from_memory
    async with contextlib.AsyncExitStack() as stack:
        again = await asyncio.gather(
            *(
                stack.enter_async_context(
                    screen(server.ws_url, hello(server, epoch=epoch, last_seq=last))
                )
                for _ in range(STORM)
            )
        )
        for ws in again:
            frames = [await recv(ws), await recv(ws)]
            assert [(f["type"], f["seq"]) for f in frames] == [
                ("event", last + 1),
                ("heartbeat", last + 1),
            ]
    assert hub.replays_from_memory - replays0 == STORM
    assert hub.snapshot_reads - reads0 == 1
