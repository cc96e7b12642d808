"""The broadcast interface, chosen by URL: ``memory://`` (default) or ``redis://``.

Modelled on encode/broadcaster, with three changes: every subscription has a **bounded**
queue (slow-consumer policy below), the redis listener is supervised (reconnects,
resubscribes, tells subscribers to resync, reports ``healthy``), and misuse raises
``BroadcastError`` instead of failing an assert.

Slow subscriber: when a subscription's queue is full, everything queued is dropped and a
single ``Message(resync=True)`` takes its place. The subscriber has lost messages and must
re-read from the source of truth (hallq's hub re-reads the outbox), so nothing grows without
bound and no loss goes unnoticed.

    BroadcastError
    └── BroadcastUnavailable   publish failed or the backend is not connected
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType

DEFAULT_QUEUE_SIZE = 1024


class BroadcastError(Exception):
    """Base of the broadcast layer's errors."""


class BroadcastUnavailable(BroadcastError):
    """The backend cannot publish now (not connected, or the server is unreachable)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message from a channel; ``resync=True`` means messages were lost before this one."""

    channel: str
    data: str
    resync: bool = False


class Subscription:
    """A bounded queue of messages from one or more channels; async-iterable until closed."""

    def __init__(self, broadcast: Broadcast, channels: tuple[str, ...], maxsize: int) -> None:
        self.broadcast = broadcast
        self.channels = channels
        self.overflows = 0  # how many times the queue filled up and was replaced by a resync
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize)
        self._closed = False

    def deliver(self, message: Message) -> None:
        """Queue a message without waiting; on overflow apply the slow-subscriber policy."""
        if self._closed:
            return
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self._drain()
            self.overflows += 1
            self._queue.put_nowait(Message(message.channel, "", resync=True))

    def notify_resync(self, channel: str) -> None:
        """Tell the subscriber that messages may have been lost (e.g. after a reconnect)."""
        self.deliver(Message(channel, "", resync=True))

    async def get(self) -> Message:
        """The next message; raises ``StopAsyncIteration`` once the subscription is closed."""
        message = await self._queue.get()
        if message is None:
            self._queue.put_nowait(None)  # keep every later reader stopped too
            raise StopAsyncIteration
        return message

    def ready(self) -> list[Message]:
        """The messages queued now, without waiting (a reader batching what arrived together)."""
        out: list[Message] = []
        for _ in range(self._queue.qsize()):
            message = self._queue.get_nowait()
            if message is None:
                self._queue.put_nowait(None)  # closed: the next ``get`` ends the iteration
                break
            out.append(message)
        return out

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        return await self.get()

    async def close(self) -> None:
        """Stop receiving; pending and future readers end their iteration."""
        if self._closed:
            return
        self._closed = True
        self._drain()
        self._queue.put_nowait(None)
        await self.broadcast.unsubscribe(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _drain(self) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            while True:
                self._queue.get_nowait()


class Broadcast(ABC):
    """Publish strings to channels; subscribers get them through bounded queues."""

    def __init__(self, url: str, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self.url = url
        self.queue_size = queue_size
        self._subscribers: dict[str, set[Subscription]] = {}

    @property
    def healthy(self) -> bool:
        """Whether messages published now reach every process (readiness reports this)."""
        return True

    @property
    def remote(self) -> bool:
        """Whether a published message comes back through a server (a round trip and the
        listener's turn later) rather than being delivered in-process at once."""
        return False

    @abstractmethod
    async def connect(self) -> None:
        """Start the backend (never fails because a server is down: it keeps retrying)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Stop the backend and its background tasks."""

    @abstractmethod
    async def publish(self, channel: str, data: str) -> None:
        """Send ``data`` to every subscriber of ``channel``; ``BroadcastUnavailable`` if not."""

    async def publish_many(self, channel: str, data: Sequence[str]) -> None:
        """``publish`` each of ``data`` in order; backends with round trips send them in one."""
        for item in data:
            await self.publish(channel, item)

    async def subscribe(self, *channels: str, maxsize: int | None = None) -> Subscription:
        """A new subscription to ``channels`` with a bounded queue (``maxsize`` messages)."""
        if not channels:
            raise BroadcastError("subscribe() needs at least one channel name")
        sub = Subscription(self, channels, maxsize or self.queue_size)
        for channel in channels:
            first = channel not in self._subscribers
            self._subscribers.setdefault(channel, set()).add(sub)
            if first:
                await self._listen(channel)
        return sub

    async def unsubscribe(self, sub: Subscription) -> None:
        """Remove ``sub``; a channel nobody listens to any more is unsubscribed upstream."""
        for channel in sub.channels:
            subs = self._subscribers.get(channel)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del self._subscribers[channel]
                await self._unlisten(channel)

    @property
    def channels(self) -> list[str]:
        """Channels with at least one local subscriber."""
        return list(self._subscribers)

    def _dispatch(self, channel: str, data: str) -> None:
        message = Message(channel, data)
        for sub in tuple(self._subscribers.get(channel, ())):
            sub.deliver(message)

    def _resync_all(self) -> None:
        for channel, subs in tuple(self._subscribers.items()):
            for sub in tuple(subs):
                sub.notify_resync(channel)

    @abstractmethod
    async def _listen(self, channel: str) -> None:
        """Start receiving ``channel`` from upstream (the first local subscriber arrived)."""

    @abstractmethod
    async def _unlisten(self, channel: str) -> None:
        """Stop receiving ``channel`` from upstream (the last local subscriber left)."""


def create_broadcast(url: str, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> Broadcast:
    """The backend for ``url``; the redis module is imported only when a redis URL is chosen."""
    scheme = url.partition("://")[0] if "://" in url else ""
    if scheme == "memory":
        from server.realtime.memory import MemoryBroadcast

        return MemoryBroadcast(url, queue_size=queue_size)
    if scheme in ("redis", "rediss"):
        from server.realtime.redis import RedisBroadcast

        return RedisBroadcast(url, queue_size=queue_size)
    raise BroadcastError(
        f"Unsupported broadcast URL {url!r}: expected memory:// or redis://host:6379/0"
    )
