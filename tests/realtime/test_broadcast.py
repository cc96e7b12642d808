"""The broadcast contract, once per backend (memory://, redis://)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from server.realtime.broadcast import (
    Broadcast,
    BroadcastError,
    BroadcastUnavailable,
    Message,
    create_broadcast,
)
from server.realtime.memory import MemoryBroadcast
from server.realtime.redis import RedisBroadcast
from tests.realtime.support import need_redis


@pytest.fixture(params=["memory", "redis"])
async def broadcast(request: pytest.FixtureRequest) -> AsyncIterator[Broadcast]:
    url = "memory://" if request.param == "memory" else need_redis()
    b = create_broadcast(url, queue_size=8)
    await b.connect()
    try:
        yield b
    finally:
        await b.disconnect()


def channel() -> str:
    # Unique per test: the Redis server may be shared with other test runs.
    return f"test:{secrets.token_hex(6)}"


async def until_received(b: Broadcast, sub_get: asyncio.Task[Message], ch: str) -> Message:
    """Publish until the subscriber has the message (a fresh redis SUBSCRIBE may lag)."""
    for _ in range(50):
        await b.publish(ch, "hello")
        done, _ = await asyncio.wait({sub_get}, timeout=0.1)
        if done:
            return sub_get.result()
    raise AssertionError("message not received within 5 s")


async def test_publish_reaches_every_subscriber_of_the_channel(broadcast: Broadcast) -> None:
    """Two subscribers of a channel both get a message; a subscriber of another does not."""
    ch, other = channel(), channel()
    async with (
        await broadcast.subscribe(ch) as a,
        await broadcast.subscribe(ch) as b,
        await broadcast.subscribe(other) as c,
    ):
        first = await until_received(broadcast, asyncio.create_task(a.get()), ch)
        assert first == Message(ch, "hello")
        assert (await asyncio.wait_for(b.get(), 2)).data == "hello"
        await broadcast.publish(ch, "second 二")
        assert (await asyncio.wait_for(a.get(), 2)).data in ("hello", "second 二")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.get(), 0.2)
    assert broadcast.channels == []


async def test_overflow_replaces_the_queue_with_one_resync(broadcast: Broadcast) -> None:
    """A subscriber that stops reading keeps at most its bound and learns that it lost messages."""
    ch = channel()
    async with await broadcast.subscribe(ch, maxsize=3) as sub:
        await until_received(broadcast, asyncio.create_task(sub.get()), ch)
        for i in range(10):
            await broadcast.publish(ch, f"m{i}")
        for _ in range(50):
            if sub.overflows:
                break
            await asyncio.sleep(0.05)
        assert sub.overflows >= 1
        drained = []
        for _ in range(3):
            try:
                drained.append(await asyncio.wait_for(sub.get(), 0.5))
            except TimeoutError:
                break
        assert drained[0].resync
        assert len(drained) <= 3
        assert all(not m.resync for m in drained[1:])


async def test_publish_many_arrives_in_order_and_ready_takes_what_is_queued(
    broadcast: Broadcast,
) -> None:
    """Messages published together arrive in order; ``ready`` hands over those already queued
    without waiting (the hub gathers a command's events this way)."""
    ch = channel()
    async with await broadcast.subscribe(ch) as sub:
        await until_received(broadcast, asyncio.create_task(sub.get()), ch)
        await broadcast.publish_many(ch, ["m1", "m2", "m3"])
        got = [(await asyncio.wait_for(sub.get(), 2)).data]
        for _ in range(100):  # redis: the rest may still be on the wire
            got += [m.data for m in sub.ready()]
            if len(got) >= 3:
                break
            await asyncio.sleep(0.01)
        assert got == ["m1", "m2", "m3"]
        assert sub.ready() == []


async def test_closed_subscription_ends_iteration(broadcast: Broadcast) -> None:
    """Closing a subscription stops its async iteration instead of hanging the reader."""
    sub = await broadcast.subscribe(channel())
    reader = asyncio.create_task(anext(aiter(sub), None))
    await asyncio.sleep(0.05)
    await sub.close()
    assert await asyncio.wait_for(reader, 2) is None


async def test_misuse_raises_instead_of_asserting() -> None:
    """An unknown scheme, no channel, or publishing before connect raise BroadcastError."""
    with pytest.raises(BroadcastError, match="memory://"):
        create_broadcast("kafka://x")
    b = MemoryBroadcast("memory://")
    with pytest.raises(BroadcastError):
        await b.subscribe()
    with pytest.raises(BroadcastUnavailable):
        await b.publish("x", "y")


async def test_redis_listener_reconnects_after_client_kill() -> None:
    """Killing the pubsub connection flips healthy off, then on, resyncs and resubscribes."""
    url = need_redis()
    b = RedisBroadcast(url)
    await b.connect()
    admin = Redis.from_url(url)
    try:
        assert b.healthy
        ch = channel()
        async with await b.subscribe(ch) as sub:
            await until_received(b, asyncio.create_task(sub.get()), ch)
            clients = await admin.client_list(_type="pubsub")
            ours = [c["id"] for c in clients if c.get("name") == b.client_name]
            assert len(ours) == 1
            assert await admin.client_kill_filter(_type="pubsub", _id=ours[0]) == 1
            saw_down = False
            for _ in range(100):
                saw_down = saw_down or not b.healthy
                if saw_down and b.healthy:
                    break
                await asyncio.sleep(0.02)
            assert saw_down and b.healthy and b.reconnects == 1
            notice = await asyncio.wait_for(sub.get(), 2)
            assert notice.resync and notice.channel == ch
            got = await until_received(b, asyncio.create_task(sub.get()), ch)
            assert got == Message(ch, "hello")
    finally:
        await admin.aclose()
        await b.disconnect()


async def test_redis_unreachable_is_unhealthy_and_publish_fails_fast() -> None:
    """With nothing listening on the port, connect returns, healthy is False, publish raises."""
    b = RedisBroadcast("redis://127.0.0.1:1/0")
    await b.connect()
    try:
        assert not b.healthy
        with pytest.raises(BroadcastUnavailable):
            await asyncio.wait_for(b.publish("x", "y"), 5)
    finally:
        await b.disconnect()
