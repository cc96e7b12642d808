"""``redis://``: fan-out between processes over Redis pub/sub, with a supervised listener.

The listener task owns one pubsub connection. When it fails (Redis stopped, connection
killed, no probe echo), it logs one line, marks the broadcast unhealthy, waits a jittered
exponential back-off (capped so fan-out is back within ~5 s of Redis returning), opens a new
connection, subscribes every channel with local subscribers again and tells them to resync:
messages published while it was away are gone, and only the outbox has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.realtime.broadcast import DEFAULT_QUEUE_SIZE, Broadcast, BroadcastUnavailable
from server.realtime.channels import PROBE_CHANNEL

log = logging.getLogger("hallq.broadcast")

BACKOFF_BASE_S = 0.1
BACKOFF_CAP_S = 4.0  # + jitter and connect time: fan-out is back ≤ 5 s after Redis returns
PROBE_EVERY_S = 1.0  # publish a probe this often ...
PROBE_DEADLINE_S = 3.0  # ... and reconnect when nothing (not even a probe) arrived this long
CONNECT_WAIT_S = 2.0  # connect() waits this long for the first subscription, then moves on
SOCKET_TIMEOUT_S = 2.0


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures: 0.1, 0.2, 0.4 … ≤ 4, jittered."""
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(failures, 16))
    # Jitter spreads the reconnects of many processes; it needs no cryptographic randomness.
    return float(ceiling * random.uniform(0.5, 1.0))  # noqa: S311


class RedisBroadcast(Broadcast):
    """Redis pub/sub; ``healthy`` is False while the listener is (re)connecting."""

    remote = True  # overrides the base property: published messages come back from redis

    def __init__(self, url: str, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        super().__init__(url, queue_size=queue_size)
        self._publisher: Redis | None = None
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None
        self._healthy = False
        self._lost = False  # a failure happened: the next successful connect resyncs
        self._up = asyncio.Event()
        self.reconnects = 0
        # Names the pubsub connection in CLIENT LIST (operators, and tests that kill it).
        self.client_name = f"hallq-listener-{secrets.token_hex(4)}"

    @property
    def healthy(self) -> bool:
        return self._healthy

    async def connect(self) -> None:
        # One retry: a pooled connection Redis closed is replaced once, then we report failure.
        self._publisher = _client(self.url, retries=1)
        self._listener = asyncio.create_task(self._supervise(), name="hallq-redis-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._up.wait(), CONNECT_WAIT_S)
        if not self._healthy:
            log.warning("redis broadcast not reachable yet; retrying in the background")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None
        self._healthy = False

    async def publish(self, channel: str, data: str) -> None:
        if self._publisher is None:
            raise BroadcastUnavailable("redis broadcast is not connected: call connect() first")
        try:
            await self._publisher.publish(channel, data)
        except (RedisError, OSError) as exc:
            raise BroadcastUnavailable(f"redis publish failed: {exc}") from exc

    async def publish_many(self, channel: str, data: Sequence[str]) -> None:
        """One pipelined round trip: subscribers get the messages back to back (the hub sends a
        command's events to each screen in one write when they arrive together)."""
        if self._publisher is None:
            raise BroadcastUnavailable("redis broadcast is not connected: call connect() first")
        try:
            async with self._publisher.pipeline(transaction=False) as pipe:
                for item in data:
                    pipe.publish(channel, item)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BroadcastUnavailable(f"redis publish failed: {exc}") from exc

    async def _listen(self, channel: str) -> None:
        await self._upstream("subscribe", channel)

    async def _unlisten(self, channel: str) -> None:
        await self._upstream("unsubscribe", channel)

    async def _upstream(self, command: str, channel: str) -> None:
        pubsub = self._pubsub
        if pubsub is None:
            return  # the listener subscribes every current channel when it connects
        try:
            await getattr(pubsub, command)(channel)
        except (RedisError, OSError) as exc:
            log.warning(
                "redis %s %s failed (%s); the listener will reconnect", command, channel, exc
            )

    async def _supervise(self) -> None:
        failures = 0
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except (RedisError, OSError, TimeoutError) as exc:
                self._mark_down(exc)
            if time.monotonic() - started > PROBE_DEADLINE_S:
                failures = 0  # it was up for a while: start the back-off from the bottom
            await asyncio.sleep(backoff(failures))
            failures += 1

    def _mark_down(self, exc: BaseException) -> None:
        if self._healthy or not self._lost:
            log.warning("redis broadcast down (%s: %s); reconnecting", type(exc).__name__, exc)
        self._healthy = False
        self._lost = True
        self._up.clear()

    async def _session(self) -> None:
        client = _client(self.url, retries=0, name=self.client_name)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(PROBE_CHANNEL, *self.channels)
            self._pubsub = pubsub
            await self._come_up(client)
            await self._pump(client, pubsub)
        finally:
            self._pubsub = None
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()

    async def _come_up(self, client: Redis) -> None:
        await client.publish(PROBE_CHANNEL, "hello")  # raises now if publishing is broken
        self._healthy = True
        self._up.set()
        if self._lost:
            self.reconnects += 1
            log.info("redis broadcast back; subscribers resync from the outbox")
            self._resync_all()

    async def _pump(self, client: Redis, pubsub: PubSub) -> None:
        token = secrets.token_hex(4)
        last_seen = last_probe = time.monotonic()
        while True:
            message: dict[str, Any] | None = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=PROBE_EVERY_S / 2
            )
            now = time.monotonic()
            if message is not None:
                last_seen = now
                if message.get("type") == "message":
                    self._on_message(message)
            if now - last_seen > PROBE_DEADLINE_S:
                raise TimeoutError(f"no message or probe echo for {PROBE_DEADLINE_S:.0f} s")
            if now - last_probe >= PROBE_EVERY_S:
                last_probe = now
                await client.publish(PROBE_CHANNEL, token)

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = _text(message.get("channel"))
        if channel == PROBE_CHANNEL:
            return
        self._dispatch(channel, _text(message.get("data")))


def _client(url: str, *, retries: int, name: str | None = None) -> Redis:
    # redis-py's default Retry reconnects *and resubscribes* a pubsub connection silently,
    # hiding the gap in which messages were lost; we retry ourselves and resync instead.
    return Redis.from_url(
        url,
        retry=Retry(NoBackoff(), retries),
        socket_connect_timeout=SOCKET_TIMEOUT_S,
        socket_timeout=SOCKET_TIMEOUT_S,
        socket_keepalive=True,
        client_name=name,
    )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
