"""``/ws`` against a real uvicorn on 127.0.0.1: hello, snapshot/replay, events, closes."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from server.config import AppConfig
from server.domain.clock import ManualClock
from server.realtime.options import RealtimeOptions
from server.services import auth
from server.storage.db import Database
from tests.realtime.support import Server, close_code, recv, recv_until, screen, serve


@pytest.fixture
async def server(
    app_config: AppConfig, clock: ManualClock, tmp_path: Path
) -> AsyncIterator[Server]:
    async with serve(app_config, f"sqlite+aiosqlite:///{tmp_path / 'rt.db'}", clock) as s:
        yield s


def hello(s: Server, who: str = "display", **extra: Any) -> dict[str, Any]:
    return {"type": "hello", "token": s.tokens[who], **extra}


async def snapshot_of(s: Server, who: str = "display") -> dict[str, Any]:
    async with screen(s.ws_url, hello(s, who)) as ws:
        return await recv(ws)


async def test_hello_gets_snapshot(server: Server) -> None:
    """A display's hello is answered with the contract's snapshot frame of its hall."""
    await server.issue()
    frame = await snapshot_of(server)
    assert frame["type"] == "snapshot"
    assert frame["hall"] == "jinjiang" and frame["seq"] >= 1
    assert frame["state"]["seq"] == frame["seq"] and frame["state"]["epoch"] == frame["epoch"]
    assert {"windows", "queues", "recent_calls", "missed"} <= set(frame["state"])


async def test_event_arrives_after_an_api_call(server: Server) -> None:
    """A ticket issued over HTTP reaches a connected screen as the next seq, without the lane."""
    async with screen(server.ws_url, hello(server)) as ws:
        snap = await recv(ws)
        await server.issue()
        event = await recv_until(ws, "event")
        assert event["seq"] == snap["seq"] + 1 and event["epoch"] == snap["epoch"]
        assert event["name"] == "ticket.issued" and event["hall"] == "jinjiang"
        assert "lane" not in json.dumps(event["data"])


async def test_replay_from_last_seq(server: Server) -> None:
    """A reconnect with a recent last_seq and the same epoch gets exactly the missed events."""
    snap = await snapshot_of(server)
    for _ in range(3):
        await server.issue()
    h = hello(server, epoch=snap["epoch"], last_seq=snap["seq"])
    async with screen(server.ws_url, h) as ws:
        frames = [await recv(ws) for _ in range(4)]
    assert [f["type"] for f in frames] == ["event", "event", "event", "heartbeat"]
    assert [f["seq"] for f in frames] == [snap["seq"] + i for i in (1, 2, 3, 3)]


async def test_wrong_epoch_gets_snapshot(server: Server) -> None:
    """A last_seq from another epoch is answered with a full snapshot."""
    await server.issue()
    async with screen(server.ws_url, hello(server, epoch="other-epoch", last_seq=0)) as ws:
        assert (await recv(ws))["type"] == "snapshot"


@pytest.mark.parametrize("last_seq", ["1", -1, True, 1.5, None, 10_000])
async def test_malformed_or_future_last_seq_gets_snapshot(server: Server, last_seq: Any) -> None:
    """A last_seq that is not a count, or is ahead of the hall, is answered with a snapshot."""
    snap = await snapshot_of(server)
    async with screen(server.ws_url, hello(server, epoch=snap["epoch"], last_seq=last_seq)) as ws:
        frame = await recv(ws)
    assert frame["type"] == "snapshot" and frame["seq"] == snap["seq"]


async def test_resync_sends_a_fresh_snapshot(server: Server) -> None:
    """``{"type":"resync"}`` is answered with a snapshot at the current seq."""
    async with screen(server.ws_url, hello(server)) as ws:
        first = await recv(ws)
        await server.issue()
        await recv_until(ws, "event")
        await ws.send(json.dumps({"type": "resync"}))
        again = await recv_until(ws, "snapshot")
        assert again["seq"] == first["seq"] + 1


async def test_heartbeat_within_five_seconds_with_default_options(
    app_config: AppConfig, clock: ManualClock, tmp_path: Path
) -> None:
    """With the production intervals a heartbeat carrying epoch and seq arrives within 5 s."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hb.db'}"
    async with serve(app_config, url, clock, options=RealtimeOptions()) as s:
        assert s.state.realtime.options.heartbeat_s <= 5
        async with screen(s.ws_url, hello(s)) as ws:
            snap = await recv(ws)
            started = time.monotonic()
            beat = await recv_until(ws, "heartbeat", timeout=5.5)
            assert time.monotonic() - started <= 5.0
            assert (beat["epoch"], beat["seq"]) == (snap["epoch"], snap["seq"])


async def test_no_hello_in_time_closes_4401(server: Server) -> None:
    """A connection that sends nothing is closed with 4401 after the hello timeout."""
    async with screen(server.ws_url, None) as ws:
        started = time.monotonic()
        assert await close_code(ws) == 4401
        assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"type": "resync"}, 4401),
        ({"type": "hello", "token": "hqd_not-a-token"}, 4401),
        ({"type": "hello"}, 4401),
    ],
)
async def test_bad_or_missing_hello_closes_4401(server: Server, first: Any, code: int) -> None:
    """A command before hello, an unknown token or a hello without a token close with 4401."""
    async with screen(server.ws_url, first) as ws:
        assert await close_code(ws) == code


async def test_wrong_hall_closes_4403(server: Server) -> None:
    """A hello naming another hall than the credential's is closed with 4403."""
    async with screen(server.ws_url, hello(server, hall="laocheng-1")) as ws:
        assert await close_code(ws) == 4403


async def test_foreign_origin_is_refused(server: Server) -> None:
    """A browser Origin not in the allow-list gets the handshake refused (403); ours works."""
    with pytest.raises(InvalidStatus) as refused:
        async with screen(server.ws_url, None, origin="http://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    own = server.state.config.server.public_base_url
    async with screen(server.ws_url, hello(server), origin=own) as ws:
        assert (await recv(ws))["type"] == "snapshot"


async def test_revoked_device_is_closed_within_a_second(server: Server) -> None:
    """Revoking a device from another database handle closes its socket with 4403 within 1 s."""
    st = server.state
    async with screen(server.ws_url, hello(server)) as ws:
        await recv(ws)
        device = await st.commands.read(
            lambda c: auth.authenticate(c, server.tokens["display"], st.clock.now())
        )
        other = Database(st.db.url)  # like `hallq device revoke` in another process
        try:
            async with other.write() as conn:
                await auth.revoke_device(conn, device.id, st.clock.now())
        finally:
            await other.dispose()
        started = time.monotonic()
        assert await close_code(ws, timeout=2) == 4403
        assert time.monotonic() - started <= 1.0


async def test_hostile_frames_get_their_answers_beside_a_live_control(server: Server) -> None:
    """Each bad frame gets its documented close or error while a control screen keeps working."""
    async with screen(server.ws_url, hello(server)) as control:
        await recv(control)
        cases: list[tuple[Any, str | int]] = [
            (b"\x00\x01", 1003),
            ("not json", 1007),
            ("x" * (64 * 1024 + 1), 1009),
            ('{"type":"nope"}', "unknown_type"),
            ("[1,2]", "invalid_message"),
            ('{"type":"hello","token":"again"}', "already_authenticated"),
            ('{"type":"print.ack","job":"1","status":"printed"}', "forbidden"),
            ('{"type":"x","a":' + "[" * 20 + "]" * 20 + "}", "too_deep"),
            ("[" * 5000 + "]" * 5000, "too_deep"),
        ]
        for frame, expected in cases:
            async with screen(server.ws_url, hello(server, "guide")) as ws:
                await recv(ws)
                await ws.send(frame)
                if isinstance(expected, int):
                    assert await close_code(ws) == expected, frame[:20]
                else:
                    answer = await recv_until(ws, "error")
                    assert answer["code"] == expected, frame[:20]
        await server.issue()
        assert (await recv_until(control, "event"))["name"] == "ticket.issued"


async def test_flood_closes_1008(server: Server) -> None:
    """More messages than the per-connection rate limit close the connection with 1008."""
    async with screen(server.ws_url, hello(server)) as ws:
        await recv(ws)
        for _ in range(60):
            await ws.send('{"type":"nope"}')
        assert await close_code(ws) == 1008


async def test_slow_reader_is_not_waited_for(server: Server) -> None:
    """A screen that stops reading does not delay events to another screen."""
    async with (
        screen(server.ws_url, hello(server), max_queue=1) as slow,
        screen(server.ws_url, hello(server)) as fast,
    ):
        await recv(slow)
        await recv(fast)
        started = time.monotonic()
        for _ in range(5):
            await server.issue()
        for _ in range(5):
            await recv_until(fast, "event")
        assert time.monotonic() - started < 3
