"""The public status stream GET /public/tickets/{token}/events (Server-Sent Events) and the
status QR code, against a real uvicorn serving the test app (ASGITransport buffers streams)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn

from server.web.public_live import PublicLive
from tests.conftest import Hall
from tests.realtime.procs import free_port
from tests.server.support import ID_NUMBER, MOBILE, assert_error

STREAM_WAIT_S = 10.0  # generous bound for a loaded CI machine; not a speed target


@asynccontextmanager
async def served(hall: Hall) -> AsyncIterator[httpx.AsyncClient]:
    """The fixture's app (lifespan already running) on a real 127.0.0.1 port."""
    port = free_port()
    config = uvicorn.Config(
        hall.app, host="127.0.0.1", port=port, lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def next_status(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The next ``data:`` payload of an event stream (comments and retry lines skipped)."""
    async with asyncio.timeout(STREAM_WAIT_S):
        async for line in lines:
            if line.startswith("data: "):
                return dict(json.loads(line[6:]))
    raise AssertionError("the stream ended without another status")


def use_live(hall: Hall, **bounds: Any) -> PublicLive:
    live = PublicLive(hall.app.state.hallq.realtime.hub, **bounds)
    hall.app.state.public_live = live
    return live


async def test_stream_sends_status_then_the_call(hall: Hall) -> None:
    """The stream opens with the ticket's status and pushes the call with the window number;
    no lane, no id and nothing personal is in it."""
    await hall.issue()
    mine = await hall.issue(who="guide", lane="elderly")
    mine = await hall.issue()  # the third ticket: two ahead
    path = f"/api/v1/public/tickets/{mine['status_token']}/events"
    async with served(hall) as client, client.stream("GET", path) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = r.aiter_lines()
        first = await next_status(lines)
        assert first["number"] == "A003" and first["status"] == "waiting"
        assert first["waiting_ahead"] == 2 and first["window"] is None
        await hall.call_next("1")  # someone ahead is called: one fewer ahead
        assert (await next_status(lines))["waiting_ahead"] == 1
        await hall.call_next("2")
        await hall.call_next("3")  # now mine
        called = await next_status(lines)
        while called["status"] != "called":
            called = await next_status(lines)
        assert called["window"] == "3" and called["window_number"] == 3
        text = json.dumps(called, ensure_ascii=False)
        assert set(called) >= {"number", "status", "waiting_ahead", "window", "estimated_wait_s"}
        assert "lane" not in called and "id" not in called and "elderly" not in text
        assert not ID_NUMBER.search(text) and not MOBILE.search(text)


async def test_events_of_other_queues_send_nothing(hall: Hall) -> None:
    """Issuing in another queue wakes no re-send: the next message is the own queue's change."""
    await hall.issue()
    mine = await hall.issue()
    path = f"/api/v1/public/tickets/{mine['status_token']}/events"
    async with served(hall) as client, client.stream("GET", path) as r:
        lines = r.aiter_lines()
        assert (await next_status(lines))["waiting_ahead"] == 1
        await hall.issue("project")
        await hall.call_next("1")
        after = await next_status(lines)
        assert after["waiting_ahead"] == 0 and after["number"] == "A002"


async def test_unknown_token_is_json_404(hall: Hall) -> None:
    """An unknown (or too short) token is the contract's 404 before any stream opens."""
    async with served(hall) as client:
        for token in ("x" * 24, "short"):
            r = await client.get(f"/api/v1/public/tickets/{token}/events")
            assert_error(r, 404, "ticket_not_found")


async def test_streams_are_bounded_per_process(hall: Hall) -> None:
    """Past max_streams a new stream gets 429 with Retry-After; closing one frees a place."""
    live = use_live(hall, max_streams=1)
    t = await hall.issue()
    path = f"/api/v1/public/tickets/{t['status_token']}/events"
    async with served(hall) as client:
        async with client.stream("GET", path) as r:
            lines = r.aiter_lines()  # kept: dropping the iterator closes the connection
            await next_status(lines)
            refused = await client.get(path)
            err = assert_error(refused, 429, "rate_limited")
            assert refused.headers["retry-after"] == "30" and err["details"]["retry_after"] == 30
        for _ in range(100):  # the server notices the closed stream on its next wake-up
            if live.open_streams == 0:
                break
            await hall.issue()
            await asyncio.sleep(0.05)
        assert live.open_streams == 0
        async with client.stream("GET", path) as again:
            assert again.status_code == 200


async def test_idle_streams_are_closed_and_unhooked(hall: Hall) -> None:
    """A stream with nothing new for idle_s ends by itself; its hall watch leaves the hub."""
    live = use_live(hall, idle_s=0.3, keepalive_s=0.1)
    hub = hall.app.state.hallq.realtime.hub
    before = hub.connections
    t = await hall.issue()
    path = f"/api/v1/public/tickets/{t['status_token']}/events"
    async with served(hall) as client, client.stream("GET", path) as r:
        lines = [line async for line in r.aiter_lines()]  # returns only because it ends
    assert any(line.startswith("data: ") for line in lines)
    assert ": keepalive" in lines and "retry: 2000" in lines
    assert live.open_streams == 0 and not live.watches
    assert hub.connections == before


async def test_status_qr_is_an_svg_of_the_status_url(hall: Hall) -> None:
    """qr.svg answers an SVG for a known token and the JSON 404 for an unknown one."""
    t = await hall.issue()
    r = await hall.get(f"/public/tickets/{t['status_token']}/qr.svg")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.lstrip().startswith("<?xml") and "<svg" in r.text
    assert_error(await hall.get(f"/public/tickets/{'y' * 24}/qr.svg"), 404, "ticket_not_found")


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_public_status_has_no_lane(hall: Hall, lang: str) -> None:
    """The contract's GET /public/tickets/{token} keeps to number, status, ahead, window, wait."""
    t = await hall.issue(who="guide", lane="military")
    r = await hall.get(f"/public/tickets/{t['status_token']}?lang={lang}")
    assert r.status_code == 200
    assert set(r.json()) == {"number", "status", "waiting_ahead", "window", "estimated_wait_s"}
