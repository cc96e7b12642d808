"""One subscribed websocket: a bounded send queue, its writer task and its sync state.

Slow-consumer policy: each connection queues at most ``queue_size`` frames (256 by default).
When a frame finds the queue full, the connection is closed with 1013 ("try again later");
the client reconnects with its (epoch, last_seq) and gets the missed events from the outbox
or a snapshot. One stuck screen therefore costs at most its queue, never the hall's latency.

Sync: while a snapshot or replay is being read, live events are parked in ``pending``
(bounded the same way); when the read finishes, the snapshot goes out first and only parked
events newer than it follow. ``floor`` is the highest seq the client already has: events at
or below it are never sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

SendText = Callable[[str], Awaitable[None]]

CLOSE_SLOW_CONSUMER = 1013
ALWAYS = -1  # "seq" of frames that are not events (snapshot, heartbeat, error): never filtered


class Connection:
    """A client of one hall, fed by the hub with ``push`` and drained by ``run_writer``."""

    def __init__(
        self,
        send_text: SendText,
        *,
        hall: str,
        actor: Any = None,
        device_id: str | None = None,
        queue_size: int = 256,
    ) -> None:
        self.hall = hall
        self.actor = actor
        self.device_id = device_id
        self.floor = -1
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()
        self._send_text = send_text
        # Bounded by hand: ``queue_size`` live frames plus a one-off allowance for a replay.
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._limit = queue_size
        self._allowance = 0
        self._sync_gen = 0
        self._pending: list[tuple[int, str]] | None = None

    @property
    def syncing(self) -> bool:
        return self._pending is not None

    def push(self, seq: int, text: str) -> None:
        """Queue a frame without waiting (events at or below ``floor`` are skipped)."""
        if self.close_code is not None or (seq != ALWAYS and seq <= self.floor):
            return
        if self._pending is not None:
            if len(self._pending) >= self._limit:
                self.close(CLOSE_SLOW_CONSUMER, "too far behind; reconnect and resync")
                return
            self._pending.append((seq, text))
            return
        if self._queue.qsize() >= self._limit + self._allowance:
            self.close(CLOSE_SLOW_CONSUMER, "too far behind; reconnect and resync")
            return
        self._queue.put_nowait(text)
        if seq != ALWAYS:
            self.floor = seq

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
        for seq, text in frames:
            self.push(seq, text)
        self.floor = max(self.floor, floor)
        for seq, text in parked:
            self.push(seq, text)
        return True

    def close(self, code: int, reason: str = "") -> None:
        """Ask the endpoint to close this connection with ``code`` (first call wins)."""
        if self.close_code is None:
            self.close_code = code
            self.close_reason = reason
            self.closed.set()

    async def run_writer(self) -> None:
        """Send queued frames one by one until cancelled (the endpoint's writer task)."""
        while True:
            text = await self._queue.get()
            await self._send_text(text)
            if self._allowance:
                self._allowance -= 1

    async def stop_writer(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
