"""LiveClient against a small fake ``/ws`` server that speaks the contract and injects faults."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidURI

from server.client import LiveClient, backoff_delay, comparable
from tests.client.hall_model import HallModel
from tests.support.fault_proxy import FaultProxy

TOKEN = "device-token-not-logged"
Frames = list[dict[str, Any]]


class FakeHall:
    """A ``/ws`` server over a HallModel: hello → snapshot or replay, resync → snapshot.

    Tests push frames with ``send`` (any frames: duplicates, gaps, heartbeats, garbage) and
    break connections with ``abort``. Every frame a client sends is kept in ``received``.
    """

    def __init__(self) -> None:
        self.model = HallModel()
        self.port = 0
        self.hellos: Frames = []
        self.received: Frames = []
        self.replay = True  # answer a matching hello with the missed events
        self.answer_resync = True
        self.heartbeat_every: float | None = None
        self.conns: set[ServerConnection] = set()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def handler(self, ws: ServerConnection) -> None:
        beat = asyncio.create_task(self._heartbeats(ws))
        try:
            hello = json.loads(await ws.recv())
            self.hellos.append(hello)
            await self._greet(ws, hello)
            self.conns.add(ws)
            async for raw in ws:
                msg = json.loads(raw)
                self.received.append(msg)
                if msg["type"] == "resync" and self.answer_resync:
                    await ws.send(json.dumps(self.model.snapshot_frame()))
        except ConnectionClosed:
            pass
        finally:
            self.conns.discard(ws)
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _greet(self, ws: ServerConnection, hello: dict[str, Any]) -> None:
        last = hello.get("last_seq")
        resumable = hello.get("epoch") == self.model.epoch and isinstance(last, int)
        if self.replay and resumable and 0 <= last <= self.model.seq:
            for frame in self.model.log[last:]:
                await ws.send(json.dumps(frame))
        else:
            await ws.send(json.dumps(self.model.snapshot_frame()))

    async def _heartbeats(self, ws: ServerConnection) -> None:
        while self.heartbeat_every is not None:
            await asyncio.sleep(self.heartbeat_every)
            await ws.send(json.dumps(self.model.heartbeat()))

    async def send(self, frames: Frames | dict[str, Any] | str) -> None:
        """Send frames (or one raw text frame) to every connected client."""
        items = frames if isinstance(frames, list) else [frames]
        for ws in list(self.conns):
            for frame in items:
                await ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def wait_hellos(self, n: int) -> None:
        """Wait until ``n`` hellos have arrived."""
        async with asyncio.timeout(5):
            while len(self.hellos) < n:
                await asyncio.sleep(0.01)

    def abort(self) -> None:
        """Drop every connection without a closing handshake (a crashed server)."""
        for ws in list(self.conns):
            ws.transport.abort()


@pytest.fixture
async def hall() -> AsyncIterator[FakeHall]:
    """A fake hall server on a free loopback port."""
    fake = FakeHall()
    async with serve(fake.handler, "127.0.0.1", 0) as server:
        fake.port = next(iter(server.sockets)).getsockname()[1]
        yield fake


@pytest.fixture
def make_client() -> Callable[..., LiveClient]:
    """A LiveClient factory with test-sized timeouts."""

    def make(url: str, **overrides: Any) -> LiveClient:
        options: dict[str, Any] = {
            "backoff_initial": 0.05,
            "backoff_max": 0.2,
            "heartbeat_timeout": 2.0,
            "gap_grace": 0.2,
            "open_timeout": 1.0,
            "close_timeout": 0.2,
            "rng": random.Random(7),
        }
        return LiveClient(url, TOKEN, "jinjiang", **(options | overrides))

    return make


async def until(client: LiveClient, predicate: Callable[[LiveClient], bool], t: float = 5) -> None:
    """Wait for ``predicate`` on the client, failing the test after ``t`` seconds."""
    async with asyncio.timeout(t):
        await client.wait_for(predicate)


def busy(model: HallModel) -> Frames:
    """Five events: two tickets issued, window w1 opened, A001 called there and recalled."""
    frames = model.issue("social") + model.issue("tax") + model.call_next("w1") + model.recall("w1")
    assert len(frames) == 5
    return frames


def in_sync_with(client: LiveClient, model: HallModel) -> bool:
    """The client's state equals the model's snapshot on every derivable field."""
    return client.comparable_state() == comparable(model.snapshot())  # type: ignore[arg-type]


async def test_hello_then_snapshot(hall: FakeHall, make_client: Callable[..., LiveClient]) -> None:
    """A first connection says hello with token and hall only and takes the snapshot."""
    busy(hall.model)
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        assert hall.hellos == [{"type": "hello", "token": TOKEN, "hall": "jinjiang"}]
        assert client.state == hall.model.snapshot()
        assert (client.epoch, client.seq, client.snapshots) == ("epoch-1", 5, 1)


async def test_duplicates_are_ignored(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """Events at or below the client's seq are counted as duplicates and not applied again."""
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        e1, e2, e3, e4, e5 = busy(hall.model)
        await hall.send([e1, e1, e2, e1, e3, e3, e4, e2, e5])
        await until(client, lambda c: c.duplicates == 4 and c.seq == 5)
        assert (client.applied, client.resyncs) == (5, 0)
        assert in_sync_with(client, hall.model)


async def test_gap_requests_resync(hall: FakeHall, make_client: Callable[..., LiveClient]) -> None:
    """A skipped seq makes the client ask for a snapshot and end equal to it."""
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        e1, _, e3, _, e5 = busy(hall.model)
        await hall.send([e1, e3])
        await until(client, lambda c: c.snapshots == 2 and c.in_sync)
        assert hall.received == [{"type": "resync"}]
        assert (client.applied, client.resyncs, client.seq) == (1, 1, 5)
        assert client.state == hall.model.snapshot()
        await hall.send(e5)  # already in the snapshot
        await until(client, lambda c: c.duplicates == 1)


async def test_new_epoch_requests_resync(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """An event of another epoch (history replaced) triggers a resync onto the new epoch."""
    busy(hall.model)
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        hall.model.new_epoch("epoch-2")
        frames = hall.model.issue("tax")
        await hall.send(frames)
        await until(client, lambda c: c.epoch == "epoch-2" and c.in_sync)
        assert (client.seq, client.resyncs, client.applied) == (1, 1, 0)
        assert in_sync_with(client, hall.model)


async def test_heartbeat_ahead_resyncs_after_grace(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """A heartbeat ahead of the state, with no event filling the gap in time, means resync."""
    async with make_client(hall.url, gap_grace=0.1) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        busy(hall.model)  # events lost on the way: never sent
        await hall.send(hall.model.heartbeat())
        await until(client, lambda c: c.seq == 5 and c.in_sync)
        assert (client.resyncs, client.snapshots) == (1, 2)
        assert client.state == hall.model.snapshot()


async def test_heartbeat_ahead_filled_by_events_needs_no_resync(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """Events arriving within the grace period after a heartbeat that is ahead are enough."""
    async with make_client(hall.url, gap_grace=1.0) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        frames = busy(hall.model)
        await hall.send([hall.model.heartbeat(), *frames])
        await until(client, lambda c: c.seq == 5 and c.in_sync)
        await asyncio.sleep(1.1)
        assert (client.resyncs, client.applied) == (0, 5)


async def test_watchdog_reconnects_after_silence(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """Nothing received for heartbeat_timeout: the client reconnects and resumes its position."""
    async with make_client(hall.url, heartbeat_timeout=0.3) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        await hall.send(busy(hall.model))
        await until(client, lambda c: c.seq == 5)
        await hall.wait_hellos(2)
        assert client.reconnects >= 1
        assert hall.hellos[1] == {
            "type": "hello",
            "token": TOKEN,
            "hall": "jinjiang",
            "epoch": "epoch-1",
            "last_seq": 5,
        }


async def test_heartbeats_keep_a_quiet_link_alive(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """Heartbeats inside heartbeat_timeout keep an event-less connection open."""
    hall.heartbeat_every = 0.1
    async with make_client(hall.url, heartbeat_timeout=0.4) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        await asyncio.sleep(1.0)
        assert (client.reconnects, client.resyncs) == (0, 0)


async def test_reconnect_resumes_with_last_seq_and_replay(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """After a dropped connection the hello carries epoch/last_seq and the replay is applied."""
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        await hall.send(hall.model.issue("social") + hall.model.issue("social"))
        await until(client, lambda c: c.seq == 2)
        hall.abort()
        busy(hall.model)  # made while the client is away
        await until(client, lambda c: c.seq == 7 and c.connected)
        assert hall.hellos[-1]["last_seq"] == 2 and hall.hellos[-1]["epoch"] == "epoch-1"
        assert (client.snapshots, client.applied, client.reconnects) == (1, 7, 1)
        assert in_sync_with(client, hall.model)


async def test_wrong_epoch_or_old_position_gets_a_snapshot(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """When the server cannot replay (replay off here) the reconnecting client takes a snapshot."""
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        hall.replay = False
        hall.abort()
        busy(hall.model)
        await until(client, lambda c: c.snapshots == 2 and c.seq == 5)
        assert client.state == hall.model.snapshot()


async def test_event_that_does_not_fit_resyncs(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """A next-seq event the state cannot take (unknown window) is answered with a resync."""
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        frame = hall.model.pause("w1")[0]
        await hall.send({**frame, "data": {**frame["data"], "window": "w99"}})
        await until(client, lambda c: c.snapshots == 2 and c.in_sync)
        assert client.resyncs == 1 and client.state == hall.model.snapshot()


async def test_unanswered_resync_reconnects(
    hall: FakeHall, make_client: Callable[..., LiveClient], caplog: pytest.LogCaptureFixture
) -> None:
    """A resync with no snapshot within heartbeat_timeout drops the link, despite heartbeats."""
    hall.answer_resync = False
    hall.heartbeat_every = 0.05
    async with make_client(hall.url, heartbeat_timeout=0.4) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        frames = busy(hall.model)
        with caplog.at_level(logging.WARNING, logger="server.client.live"):
            await hall.send(frames[1])
            await until(client, lambda c: c.reconnects == 1 and c.in_sync)
        assert "no snapshot within" in caplog.text
        assert TOKEN not in caplog.text


async def test_error_and_bad_frames_are_counted_not_fatal(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """``error`` frames and undecodable frames are logged and counted; the link stays up."""
    async with make_client(hall.url) as client:
        await asyncio.wait_for(client.wait_synced(), 5)
        error = {"type": "error", "code": "rate_limited", "message": "slow down"}
        bad_seq = {"type": "event", "epoch": "epoch-1", "seq": "7", "name": "x", "data": {}}
        await hall.send([error, "not json", bad_seq, *hall.model.issue("tax")])
        await until(client, lambda c: c.seq == 1)
        assert (client.errors, client.bad_frames, client.reconnects) == (1, 2, 0)


async def test_lagging_consumer_loses_oldest_events_only(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """A consumer that lags past events_maxsize sees the newest events; state stays correct."""
    async with make_client(hall.url, events_maxsize=3) as client:
        stream = client.events()
        await asyncio.wait_for(client.wait_synced(), 5)
        frames = [f for _ in range(5) for f in hall.model.issue("social")]
        await hall.send(frames)
        await until(client, lambda c: c.seq == 5)
        got = [await anext(stream) for _ in range(3)]
        assert [e["seq"] for e in got] == [3, 4, 5]
        assert client.dropped == 2 and in_sync_with(client, hall.model)


async def test_events_iterator_yields_in_order_and_ends_on_close(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """events() yields snapshots (when asked) and applied events in order, and ends on close."""
    client = make_client(hall.url)
    stream = client.events(include_snapshots=True)
    await client.start()
    await asyncio.wait_for(client.wait_synced(), 5)
    frames = busy(hall.model)
    await hall.send([frames[0], frames[0], *frames[1:]])
    await until(client, lambda c: c.seq == 5)
    await client.close()
    got = [item async for item in stream]
    assert [(i["type"], i["seq"]) for i in got] == [("snapshot", 0)] + [
        ("event", n) for n in (1, 2, 3, 4, 5)
    ]


async def test_retries_with_backoff_until_the_link_returns(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """Through the fault proxy: reset + refused connections are retried until restore."""
    proxy = FaultProxy("127.0.0.1", hall.port)
    await proxy.start()
    try:
        async with make_client(f"ws://127.0.0.1:{proxy.port}/ws") as client:
            await asyncio.wait_for(client.wait_synced(), 5)
            await hall.send(hall.model.issue("tax"))
            await until(client, lambda c: c.seq == 1)
            await proxy.refuse()
            proxy.reset()
            await until(client, lambda c: not c.connected)
            busy(hall.model)
            await asyncio.sleep(0.5)  # several refused attempts, 0.05..0.2 s apart
            assert not client.connected and client.reconnects == 0
            await proxy.restore()
            await until(client, lambda c: c.connected and c.seq == 6)
            assert client.reconnects == 1 and hall.hellos[-1]["last_seq"] == 1
            assert in_sync_with(client, hall.model)
    finally:
        await proxy.stop()


async def test_silent_link_is_detected_and_replaced(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """A link that drops every byte is noticed by the watchdog and replaced after restore."""
    hall.heartbeat_every = 0.1
    proxy = FaultProxy("127.0.0.1", hall.port)
    await proxy.start()
    try:
        url = f"ws://127.0.0.1:{proxy.port}/ws"
        async with make_client(url, heartbeat_timeout=0.5, open_timeout=0.3) as client:
            await asyncio.wait_for(client.wait_synced(), 5)
            proxy.drop()
            await hall.send(busy(hall.model))
            await until(client, lambda c: not c.connected)
            assert client.seq == 0
            await proxy.restore()
            await until(client, lambda c: c.connected and c.seq == 5)
            assert in_sync_with(client, hall.model)
    finally:
        await proxy.stop()


async def test_other_frames_go_to_on_message_and_send_answers(
    hall: FakeHall, make_client: Callable[..., LiveClient]
) -> None:
    """Frames of other types (print jobs) reach on_message; ``send`` answers on the socket."""
    jobs: Frames = []

    async def on_message(msg: dict[str, Any]) -> None:
        jobs.append(msg)
        await client.send({"type": "print.ack", "job": msg["job"]["id"], "status": "printed"})

    client = make_client(hall.url, on_message=on_message)
    async with client:
        await asyncio.wait_for(client.wait_synced(), 5)
        await hall.send({"type": "print", "job": {"id": "j1", "ticket": {}, "copies": 1}})
        await until(client, lambda c: bool(jobs))
        async with asyncio.timeout(5):
            while not hall.received:
                await asyncio.sleep(0.01)
        assert hall.received == [{"type": "print.ack", "job": "j1", "status": "printed"}]


async def test_close_is_prompt_during_backoff(make_client: Callable[..., LiveClient]) -> None:
    """close() cancels a pending back-off at once, even a long one; send then refuses."""
    client = make_client("ws://127.0.0.1:9/ws", backoff_initial=30, backoff_max=30)
    await client.start()
    await asyncio.sleep(0.2)
    async with asyncio.timeout(1):
        await client.close()
    with pytest.raises(ConnectionError):
        await client.send({"type": "resync"})
    with pytest.raises(RuntimeError):
        await client.start()


@pytest.mark.parametrize(
    "options",
    [{"heartbeat_timeout": 0}, {"backoff_initial": -1}, {"backoff_max": 0.1, "backoff_initial": 1}],
)
def test_nonsense_settings_are_refused(options: dict[str, float]) -> None:
    """Zero or negative timeouts and a back-off cap below its start raise ValueError."""
    with pytest.raises(ValueError, match=r"backoff|timeout"):
        LiveClient("ws://127.0.0.1:1/ws", TOKEN, "jinjiang", **options)


def test_bad_url_is_refused_at_once() -> None:
    """A URL that is not ws:// or wss:// fails in the constructor, not in the background."""
    with pytest.raises(InvalidURI):
        LiveClient("http://127.0.0.1/ws", TOKEN, "jinjiang")


def test_backoff_is_jittered_exponential_and_bounded() -> None:
    """Delays double from backoff_initial up to backoff_max, each jittered within [cap/2, cap]."""
    rng = random.Random(3)
    for attempt in range(60):
        cap = min(5.0, 0.2 * 2**attempt)
        delays = {backoff_delay(attempt, 0.2, 5.0, rng) for _ in range(20)}
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(delays) > 1  # jittered, not lock-step
