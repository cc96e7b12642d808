"""One subscribed websocket: its bounded backlog of frames, how they are written, its sync state.

Writing: a frame pushed while nothing is waiting goes out at once — straight to the socket's
transport when the connection has a ``Wire`` (uvicorn's sans-I/O protocol, see wire.py), so
fanning an event out to thousands of screens wakes no task at all. Only a connection that
cannot take a frame now (transport paused by a slow reader, or no direct path) keeps a backlog,
drained by a short-lived task that ends when the backlog is empty.

Several frames due together (a replay with the parked events behind it, or the events of one
command) leave in one write: a write is one ``send`` system call, the largest cost of a
reconnect storm and of a fan-out, so a replay of a hundred events costs one call, not a hundred.

Slow-consumer policy: the backlog holds at most ``queue_size`` frames (256 by default). When a
frame finds it full, the connection is closed with 1013 ("try again later"); the client
reconnects with its (epoch, last_seq) and gets the missed events from a replay or a snapshot.
One stuck screen therefore costs at most its backlog, never the hall's latency.

Sync: while a snapshot or replay is being read, live events are parked in ``pending``
(bounded the same way); when the read finishes, the snapshot goes out first and only parked
events newer than it follow. ``floor`` is the highest seq the client already has: events at
or below it are never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from server.realtime.wire import Wire, as_wire_text

SendText = Callable[[str], Awaitable[None]]
OnClose = Callable[["Connection"], None]

CLOSE_SLOW_CONSUMER = 1013
ALWAYS = -1  # "seq" of frames that are not events (snapshot, heartbeat, error): never filtered

log = logging.getLogger("hallq.connection")


class Backlog(deque[str]):
    """Frames waiting for the socket, oldest first (the ``asyncio.Queue`` methods tests use)."""

    def empty(self) -> bool:
        return not self

    def qsize(self) -> int:
        return len(self)

    def get_nowait(self) -> str:
        return self.popleft()


class Connection:
    """A client of one hall, fed by the hub with ``push``.

    ``send_text`` is the ASGI path (used when there is no ``wire``); ``on_close`` is called
    once, when the hub or the backlog asks for the connection to be closed or the socket is
    found gone, so the endpoint stops reading and closes it.
    """

    __slots__ = (
        "__weakref__",
        "_allowance",
        "_closed_event",
        "_cork",
        "_drainer",
        "_limit",
        "_pending",
        "_queue",
        "_send_text",
        "_sync_gen",
        "_wire",
        "actor",
        "close_code",
        "close_reason",
        "device_id",
        "floor",
        "gone",
        "hall",
        "on_close",
    )

    def __init__(
        self,
        send_text: SendText,
        *,
        hall: str,
        actor: Any = None,
        device_id: str | None = None,
        queue_size: int = 256,
        wire: Wire | None = None,
        on_close: OnClose | None = None,
    ) -> None:
        self.hall = hall
        self.actor = actor
        self.device_id = device_id
        self.floor = -1
        self.close_code: int | None = None
        self.close_reason = ""
        self.gone = False  # the socket failed or disappeared under us
        self.on_close = on_close
        self._send_text = send_text
        self._wire = wire
        # Created only while frames wait (an empty deque costs ~600 bytes per connection).
        self._queue: Backlog | None = None
        self._drainer: asyncio.Task[None] | None = None
        self._closed_event: asyncio.Event | None = None
        self._limit = queue_size
        self._allowance = 0  # a replay may exceed the live bound once, by its own length
        self._sync_gen = 0
        self._pending: list[tuple[int, str]] | None = None
        self._cork: list[bytes] | None = None  # direct writes held to leave as one (see push_many)

    @property
    def syncing(self) -> bool:
        return self._pending is not None

    @property
    def closed(self) -> asyncio.Event:
        """Set once the connection was asked to close (made on first use: most never ask)."""
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
            if self.close_code is not None:
                self._closed_event.set()
        return self._closed_event

    @property
    def backlog(self) -> int:
        """Frames waiting to be written."""
        return len(self._queue) if self._queue is not None else 0

    def push(self, seq: int, text: str) -> None:
        """Send a frame now or queue it, never waiting (events at or below ``floor`` skip)."""
        if self.close_code is not None or (seq != ALWAYS and seq <= self.floor):
            return
        if self._pending is not None:
            if len(self._pending) >= self._limit:
                self.close(CLOSE_SLOW_CONSUMER, "too far behind; reconnect and resync")
                return
            self._pending.append((seq, text))
            return
        wire = self._wire
        if wire is not None and not self._queue and wire.writable():
            if self._cork is None:
                wire.write(as_wire_text(text).wire)
            else:
                self._cork.append(as_wire_text(text).wire)
            if self._allowance:
                self._allowance -= 1
        elif wire is not None and not wire.open():
            self.lost()
            return
        elif not self._enqueue(text):
            return
        if seq != ALWAYS:
            self.floor = seq

    def push_many(self, frames: Sequence[tuple[int, str]], joined: bytes | None = None) -> None:
        """``push`` each frame in order; those that go out now leave in one write.

        ``joined`` is the frames' wire bytes back to back (shared by every receiver of a run of
        events, seqs ascending): written as it is when every frame is due and nothing waits.
        """
        wire = self._wire
        if (
            joined is not None
            and wire is not None
            and self.close_code is None
            and self._pending is None
            and not self._queue
            and frames[0][0] > self.floor
            and wire.writable()
        ):
            wire.write(joined)
            self.floor = frames[-1][0]
            self._allowance = max(0, self._allowance - len(frames))
            return

        def pushes() -> None:
            for seq, text in frames:
                self.push(seq, text)

        self._corked(pushes)

    def _corked(self, pushes: Callable[[], None]) -> None:
        """Run ``pushes``; the frames they write directly go out together at the end."""
        if self._cork is not None or self._wire is None:
            pushes()  # already held by an outer call, or no direct path to hold
            return
        held: list[bytes] = []
        self._cork = held
        try:
            pushes()
        finally:
            self._cork = None
            if held and not self.gone:  # found gone meanwhile: nothing more is written
                if self._wire.open():
                    self._wire.write(held[0] if len(held) == 1 else b"".join(held))
                else:
                    self.lost()

    def _enqueue(self, text: str) -> bool:
        queue = self._queue
        if queue is None:
            queue = self._queue = Backlog()
        if len(queue) >= self._limit + self._allowance:
            self.close(CLOSE_SLOW_CONSUMER, "too far behind; reconnect and resync")
            return False
        queue.append(text)
        if self._drainer is None and (self._wire is not None or self.on_close is not None):
            # Without a wire or an endpoint (unit tests) nothing drains: the backlog stays.
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return True

    def begin_sync(self) -> int:
        """Park live events until ``finish_sync``; returns the generation to finish with."""
        self._sync_gen += 1
        self._pending = []
        return self._sync_gen

    def finish_sync(self, gen: int, frames: list[tuple[int, str]], floor: int) -> bool:
        """Send ``frames`` (snapshot or replay), then parked events above ``floor``.

        Returns False (and does nothing) when a newer sync superseded this one.
        """
        if gen != self._sync_gen or self._pending is None:
            return False
        parked, self._pending = self._pending, None
        self.floor = -1
        self._allowance += len(frames)  # a replay may exceed the live bound once

        def pushes() -> None:
            for seq, text in frames:
                self.push(seq, text)
            self.floor = max(self.floor, floor)
            for seq, text in parked:
                self.push(seq, text)

        self._corked(pushes)  # the replay, its heartbeat and the parked events: one write
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Ask the endpoint to close this connection with ``code`` (first call wins)."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.close_reason = reason
        if self._closed_event is not None:
            self._closed_event.set()
        if self.on_close is not None:
            self.on_close(self)

    def lost(self) -> None:
        """The socket is gone (write failed, peer vanished): stop writing, let the endpoint go."""
        if self.gone:
            return
        self.gone = True
        if self._queue:
            self._queue.clear()
        if self.on_close is not None:
            self.on_close(self)

    async def _drain(self) -> None:
        """Write the backlog in order, waiting for the socket when it is paused; then end."""
        try:
            while self._queue and not self.gone:
                wire = self._wire
                if wire is not None:
                    if not wire.open():
                        self.lost()
                        return
                    if not wire.writable():
                        await wire.wait_writable()
                        continue
                    # Everything waiting in one write: a reader that fell behind costs one
                    # send per resume, not one per frame.
                    frames = [as_wire_text(text).wire for text in self._queue]
                    self._queue.clear()
                    wire.write(b"".join(frames))
                    self._allowance = max(0, self._allowance - len(frames))
                    continue
                text = self._queue[0]
                await self._send_text(text)
                if self._queue:  # cleared meanwhile if the connection was lost
                    self._queue.popleft()
                if self._allowance:
                    self._allowance -= 1
            self._queue = None
        # Each ASGI server and framework raises its own type for a vanished client.
        except Exception as exc:  # noqa: BLE001
            log.debug("websocket write failed (%s); dropping the connection", type(exc).__name__)
            self.lost()
        finally:
            self._drainer = None

    async def stop(self) -> None:
        """Cancel the backlog's drain task, if one is running (the endpoint is closing)."""
        task = self._drainer
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
