"""Helpers for the real-time tests: a real uvicorn on a free loopback port, a screen client."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.config import AppConfig
from server.domain.clock import ManualClock
from server.realtime.options import RealtimeOptions
from server.web.app import WS_MAX_SIZE, create_app
from tests.conftest import _enroll

# Fast intervals for tests; the heartbeat test uses the production defaults.
FAST = RealtimeOptions(
    heartbeat_s=0.5,
    hello_timeout_s=0.3,
    tail_idle_s=0.5,
    tail_degraded_s=0.1,
    revocation_s=0.2,
    sweep_s=0.2,
    sweep_age_s=0.3,
)


def redis_url() -> str | None:
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail("TEST_REDIS_URL is not set: CI must run the Redis tests")
    return None


def need_redis() -> str:
    url = redis_url()
    if url is None:
        pytest.skip("Redis tests need TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0)")
    return url


@dataclass
class Server:
    """A running app behind uvicorn on 127.0.0.1, with enrolled credentials."""

    app: Any
    port: int
    tokens: dict[str, str]
    http: httpx.AsyncClient

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def state(self) -> Any:
        return self.app.state.hallq

    async def post(self, path: str, who: str, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return await self.http.post(f"/api/v1{path}", json=body, headers=headers)

    async def issue(self, queue: str = "social") -> dict[str, Any]:
        r = await self.post("/halls/jinjiang/tickets", "kiosk", {"queue": queue})
        assert r.status_code == 201, r.text
        return dict(r.json())


@asynccontextmanager
async def serve(
    config: AppConfig,
    database_url: str,
    clock: ManualClock,
    *,
    options: RealtimeOptions = FAST,
    broadcast_url: str = "memory://",
    tokens: dict[str, str] | None = None,
) -> AsyncIterator[Server]:
    """uvicorn's ``run_server`` pattern: serve in this loop on a free port, stop on exit."""
    config = replace(config, server=replace(config.server, database_url=database_url))
    app = create_app(
        config, clock=clock, housekeeping=False, broadcast_url=broadcast_url, realtime=options
    )
    uv = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=WS_MAX_SIZE,
        log_level="warning",
        lifespan="on",
    )
    server = uvicorn.Server(uv)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started or task.done():
            break
        await asyncio.sleep(0.025)
    assert server.started, "uvicorn did not start within 5 s"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        if tokens is None:
            tokens = await _enroll(app.state.hallq.db, config, clock.now())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            yield Server(app, port, tokens, http)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


@asynccontextmanager
async def screen(
    url: str, hello: dict[str, Any] | None, **kw: Any
) -> AsyncIterator[ClientConnection]:
    """A websocket client that sends ``hello`` (if given) first."""
    async with connect(url, open_timeout=5, close_timeout=1, **kw) as ws:
        if hello is not None:
            await ws.send(json.dumps(hello))
        yield ws


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def recv_until(
    ws: ClientConnection, kind: str, *, timeout: float = 5.0, limit: int = 50
) -> dict[str, Any]:
    """The next frame of type ``kind``, skipping others (bounded in count and time)."""
    async with asyncio.timeout(timeout):
        for _ in range(limit):
            frame = await recv(ws, timeout)
            if frame["type"] == kind:
                return frame
    raise AssertionError(f"no {kind} frame within {limit} frames")


async def close_code(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read until the server closes; the close code it sent."""
    try:
        async with asyncio.timeout(timeout):
            for _ in range(1000):
                await ws.recv()
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    raise AssertionError("the server did not close the connection")
