"""The bounded buffer behind ``LiveClient.events()``: drop the oldest, count, never block."""

from __future__ import annotations

import asyncio
from collections import deque

from .messages import EventMessage, SnapshotMessage

Item = EventMessage | SnapshotMessage


class EventStream:
    """Applied events (and snapshots) for one consumer, at most ``maxsize`` kept.

    The client's receive loop must never wait for a consumer (heartbeats and the watchdog
    would stall), so ``put`` never blocks: when full it drops the oldest item and counts it
    in ``dropped``. Nothing is buffered until the first ``view``, so a client read only
    through ``state`` keeps nothing and drops nothing; snapshots only once a view asks.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError(f"events_maxsize must be >= 1, got {maxsize}")
        self._items: deque[Item] = deque()
        self._maxsize = maxsize
        self._wakeup = asyncio.Event()
        self._active = False
        self._snapshots = False  # only kept when a view asked for them
        self._closed = False
        self.dropped = 0

    def put(self, item: Item) -> None:
        """Append ``item``, dropping the oldest when full; a no-op before any ``view``."""
        if not self._active or self._closed:
            return
        if item["type"] == "snapshot" and not self._snapshots:
            return
        if len(self._items) >= self._maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._wakeup.set()

    def close(self) -> None:
        """End iteration once the buffered items are consumed."""
        self._closed = True
        self._wakeup.set()

    def view(self, *, include_snapshots: bool) -> EventStreamView:
        """An async iterator over the buffer from now on."""
        self._active = True
        self._snapshots = self._snapshots or include_snapshots
        return EventStreamView(self, include_snapshots)

    async def get(self, include_snapshots: bool) -> Item | None:
        """The next item (skipping snapshots unless asked), or None once closed and empty."""
        while True:
            while self._items:
                item = self._items.popleft()
                if include_snapshots or item["type"] == "event":
                    return item
            if self._closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()


class EventStreamView:
    """``async for item in client.events():`` — ends when the client closes."""

    def __init__(self, stream: EventStream, include_snapshots: bool) -> None:
        self._stream = stream
        self._include_snapshots = include_snapshots

    def __aiter__(self) -> EventStreamView:
        return self

    async def __anext__(self) -> Item:
        item = await self._stream.get(self._include_snapshots)
        if item is None:
            raise StopAsyncIteration
        return item
