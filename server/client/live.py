"""``LiveClient``: one hall's live state over ``/ws``, kept in seq order across any disconnect.

The client holds (epoch, seq) and the hall snapshot at seq. Events are applied strictly in
order: an event at or below seq is a duplicate (ignored, counted); seq + 1 is applied with
``apply_event``; anything further, another epoch, or an event the state cannot take asks the
server for a snapshot (``resync``) and ignores events until it arrives. A heartbeat whose seq
is ahead starts a short grace period for the missing events, then resyncs. Nothing received
for ``heartbeat_timeout`` (the server heartbeats every ≤ 5 s) means the link is dead: the
client drops the connection and reconnects with jittered exponential back-off, saying hello
with its epoch and seq so the server can replay what it missed.

Depends on the standard library and ``websockets`` only, so kiosk agents and caller bridges
can vendor this package.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Origin
from websockets.uri import parse_uri

from .backoff import backoff_delay
from .events import EventStream, EventStreamView, Item
from .messages import (
    BadFrame,
    EventMessage,
    HeartbeatMessage,
    Hello,
    Snapshot,
    SnapshotMessage,
    parse_server_message,
)
from .state import StateMismatch, apply_event, comparable

log = logging.getLogger(__name__)

MessageHandler = Callable[[dict[str, Any]], Awaitable[None]]


class LinkDead(Exception):
    """The link stopped answering: nothing for ``heartbeat_timeout``, or no snapshot."""


class LiveClient:
    """A hall's live state from ``/ws``, reconnecting and resyncing on its own.

    Use ``async with LiveClient(...) as client:`` (or ``await client.start()`` and
    ``await client.close()``), then read ``client.state`` or iterate ``client.events()``.

    Counters (plain ints, never reset): ``applied`` events applied, ``duplicates`` events at
    or below seq ignored, ``resyncs`` snapshots asked for, ``snapshots`` snapshots taken,
    ``reconnects`` connections opened after the first, ``dropped`` events the ``events()``
    consumer lagged too far to see, ``bad_frames`` undecodable server frames, ``errors``
    ``error`` frames from the server.
    """

    def __init__(
        self,
        url: str,
        token: str,
        hall: str,
        *,
        origin: str | None = None,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        heartbeat_timeout: float = 15.0,
        gap_grace: float = 1.0,
        events_maxsize: int = 1000,
        open_timeout: float = 10.0,
        close_timeout: float = 1.0,
        proxy: str | None = None,
        on_message: MessageHandler | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """Configure; nothing connects before ``start``.

        Args:
            url: ``ws://`` or ``wss://`` URL of ``/ws``.
            token: a device or staff token; sent in the hello frame only, never logged.
            hall: the hall id to follow.
            origin: an ``Origin`` header, for servers that check browser origins.
            backoff_initial: first reconnection delay cap, seconds.
            backoff_max: largest reconnection delay, seconds.
            heartbeat_timeout: silence after which the link counts as dead, seconds.
            gap_grace: how long events may trail a heartbeat that is ahead before resyncing.
            events_maxsize: bound of the ``events()`` buffer; the oldest item is dropped.
            open_timeout: TCP + TLS + websocket handshake limit, seconds.
            close_timeout: how long a closing handshake may take on a dead link, seconds.
            proxy: an HTTP/SOCKS proxy URL; ``None`` connects directly (environment proxy
                variables are ignored: hall networks are local).
            on_message: awaited with server frames of other types (``print`` jobs for kiosk
                agents); they are logged and dropped without it.
            rng: random source for the back-off jitter.

        Raises:
            websockets.exceptions.InvalidURI: ``url`` is not a websocket URL.
            ValueError: a delay or timeout is not positive, or backoff_max < backoff_initial.
        """
        parse_uri(url)
        if min(backoff_initial, heartbeat_timeout, gap_grace, open_timeout) <= 0:
            raise ValueError(
                "backoff_initial, heartbeat_timeout, gap_grace and open_timeout must be > 0 seconds"
            )
        if backoff_max < backoff_initial:
            raise ValueError(
                f"backoff_max ({backoff_max}) must be >= backoff_initial ({backoff_initial})"
            )
        self.url, self.hall, self.origin = url, hall, origin
        self._token = token
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.heartbeat_timeout, self.gap_grace = heartbeat_timeout, gap_grace
        self._open_timeout, self._close_timeout, self._proxy = open_timeout, close_timeout, proxy
        self._on_message = on_message
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.state: Snapshot | None = None
        self.epoch: str | None = None
        self.seq: int | None = None
        self.applied = self.duplicates = self.resyncs = self.snapshots = 0
        self.reconnects = self.bad_frames = self.errors = 0
        self._stream = EventStream(events_maxsize)
        self._changed = asyncio.Event()
        self._ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._connections = 0
        self._synced = False  # this connection delivered a snapshot or an event
        self._resync_since: float | None = None
        self._gap_deadline: float | None = None
        self._gap_target = 0
        self._last_rx = 0.0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting in the background; returns at once.

        Raises:
            RuntimeError: the client was already started.
        """
        if self._task is not None or self._closed:
            raise RuntimeError("LiveClient.start() called twice; create a new client instead")
        self._task = asyncio.create_task(self._run(), name=f"hallq-live-{self.hall}")

    async def close(self) -> None:
        """Stop: cancel any back-off or read, close the socket, end ``events()`` iterators."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # our caller is being cancelled too: let it be
        self._stream.close()
        self._notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- reading ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """A websocket is open right now (it may still be waiting for its snapshot)."""
        return self._ws is not None

    def events(self, *, include_snapshots: bool = False) -> EventStreamView:
        """Applied events in seq order, as an async iterator (one consumer).

        The buffer holds ``events_maxsize`` items. A consumer that lags further loses the
        oldest items (counted in ``dropped``); ``state`` is maintained regardless, so a
        lagging consumer should re-read ``state`` when ``dropped`` grows. Iteration ends
        after ``close``.

        Args:
            include_snapshots: also yield the ``snapshot`` frames that replaced the state
                (after connecting and after every resync), so a screen can redraw.
        """
        return self._stream.view(include_snapshots=include_snapshots)

    @property
    def dropped(self) -> int:
        """Items the ``events()`` consumer lost by lagging behind."""
        return self._stream.dropped

    def comparable_state(self) -> dict[str, Any] | None:
        """``state`` without the fields events cannot keep current (see ``state.UNDERIVED``)."""
        return None if self.state is None else comparable(self.state)

    def counters(self) -> dict[str, int]:
        """All counters by name, for logs and metrics."""
        names = ("applied", "duplicates", "resyncs", "snapshots", "reconnects", "dropped")
        return {n: getattr(self, n) for n in (*names, "bad_frames", "errors")}

    async def wait_for(self, predicate: Callable[[LiveClient], bool]) -> None:
        """Wait until ``predicate(self)`` holds, re-checking after every change.

        Unbounded, like ``asyncio.Event.wait``: wrap it in ``asyncio.timeout(…)``.
        """
        while not predicate(self):
            await self._changed.wait()

    async def wait_synced(self) -> None:
        """Wait until connected with a snapshot and no resync or gap outstanding."""
        await self.wait_for(lambda c: c.connected and c.in_sync)

    @property
    def in_sync(self) -> bool:
        """The state is at the latest seq this client knows of (no resync, no gap pending)."""
        return self.state is not None and self._resync_since is None and self._gap_deadline is None

    async def send(self, message: dict[str, Any]) -> None:
        """Send a frame on the current connection (``print.ack``, ``device.status`` …).

        Raises:
            ConnectionError: not connected right now; retry after reconnection.
        """
        ws = self._ws
        if ws is None:
            raise ConnectionError("not connected to the hall websocket; retry after reconnection")
        await ws.send(json.dumps(message, ensure_ascii=False))

    # -- connection loop -------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._synced = False
            try:
                await self._connect_once()
            except (OSError, WebSocketException, LinkDead) as exc:
                log.warning("hall %s: link lost (%s: %s)", self.hall, type(exc).__name__, exc)
            except Exception:  # a bug must not end the supervision loop
                log.exception("hall %s: unexpected error in the live client", self.hall)
            attempt = 0 if self._synced else attempt + 1
            delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max, self._rng)
            log.info("hall %s: reconnecting in %.2f s", self.hall, delay)
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        async with connect(
            self.url,
            origin=Origin(self.origin) if self.origin else None,
            open_timeout=self._open_timeout,
            close_timeout=self._close_timeout,
            proxy=self._proxy,
            max_size=4 * 2**20,
        ) as ws:
            self._connections += 1
            if self._connections > 1:
                self.reconnects += 1
            self._ws = ws
            try:
                await self._session(ws)
            finally:
                self._ws = None
                self._notify()

    async def _session(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        self._resync_since = self._gap_deadline = None
        self._gap_target = 0
        self._last_rx = loop.time()
        await ws.send(json.dumps(self._hello()))
        self._notify()
        while True:
            try:
                async with asyncio.timeout_at(self._next_deadline()):
                    raw = await ws.recv()
            except TimeoutError:
                await self._on_timer(loop.time())
                continue
            self._last_rx = loop.time()
            await self._handle(raw)

    def _hello(self) -> Hello:
        hello: Hello = {"type": "hello", "token": self._token, "hall": self.hall}
        if self.epoch is not None and self.seq is not None:
            hello["epoch"], hello["last_seq"] = self.epoch, self.seq
        return hello

    def _next_deadline(self) -> float:
        deadlines = [self._last_rx + self.heartbeat_timeout]
        if self._resync_since is not None:
            deadlines.append(self._resync_since + self.heartbeat_timeout)
        if self._gap_deadline is not None:
            deadlines.append(self._gap_deadline)
        return min(deadlines)

    async def _on_timer(self, now: float) -> None:
        if now >= self._last_rx + self.heartbeat_timeout:
            raise LinkDead(f"nothing received for {self.heartbeat_timeout:g} s")
        if self._resync_since is not None and now >= self._resync_since + self.heartbeat_timeout:
            raise LinkDead(f"no snapshot within {self.heartbeat_timeout:g} s of asking")
        if self._gap_deadline is not None and now >= self._gap_deadline:
            self._gap_deadline = None
            if self.seq is None or self.seq < self._gap_target:
                await self._resync(f"heartbeat at seq {self._gap_target}, state at {self.seq}")

    # -- frames ----------------------------------------------------------------------------

    async def _handle(self, raw: str | bytes) -> None:
        try:
            msg = parse_server_message(raw)
        except BadFrame as exc:
            self.bad_frames += 1
            log.warning("hall %s: ignoring a bad frame: %s", self.hall, exc)
            return
        kind = msg["type"]
        if kind == "snapshot":
            self._take_snapshot(cast(SnapshotMessage, msg))
        elif kind == "event":
            await self._on_event(cast(EventMessage, msg))
        elif kind == "heartbeat":
            await self._on_heartbeat(cast(HeartbeatMessage, msg))
        elif kind == "error":
            self.errors += 1
            log.warning("hall %s: server error %s: %s", self.hall, msg["code"], msg["message"])
        elif self._on_message is not None:
            await self._on_message(msg)
        else:
            log.debug("hall %s: no handler for %r frames", self.hall, kind)
        self._notify()

    def _take_snapshot(self, msg: SnapshotMessage) -> None:
        self.state, self.epoch, self.seq = msg["state"], msg["epoch"], msg["seq"]
        self.state["seq"] = msg["seq"]
        self.snapshots += 1
        self._synced = True
        self._resync_since = self._gap_deadline = None
        self._gap_target = 0  # a heartbeat still ahead of this snapshot will say so again
        self._stream.put(cast(Item, msg))

    async def _on_event(self, msg: EventMessage) -> None:
        if self._resync_since is not None:
            return  # the snapshot asked for covers this event, or later events follow it
        if self.state is None or self.seq is None or msg["epoch"] != self.epoch:
            await self._resync(f"event of epoch {msg['epoch']} at seq {msg['seq']}")
            return
        if msg["seq"] <= self.seq:
            self.duplicates += 1
            return
        if msg["seq"] > self.seq + 1:
            await self._resync(f"gap: state at seq {self.seq}, event at {msg['seq']}")
            return
        try:
            self.state = apply_event(self.state, msg)
        except StateMismatch as exc:
            await self._resync(f"event does not fit the state: {exc}")
            return
        self.seq = msg["seq"]
        self.applied += 1
        self._synced = True
        if self._gap_deadline is not None and self.seq >= self._gap_target:
            self._gap_deadline = None
        self._stream.put(cast(Item, msg))

    async def _on_heartbeat(self, msg: HeartbeatMessage) -> None:
        if self.state is None or self._resync_since is not None:
            return
        if msg["epoch"] != self.epoch:
            await self._resync(f"heartbeat of epoch {msg['epoch']}, state of {self.epoch}")
        elif self.seq is not None and msg["seq"] > self.seq:
            # The events up to msg.seq may still be in flight behind this heartbeat.
            self._gap_target = max(self._gap_target, msg["seq"])
            if self._gap_deadline is None:
                self._gap_deadline = asyncio.get_running_loop().time() + self.gap_grace

    async def _resync(self, reason: str) -> None:
        if self._resync_since is not None or self._ws is None:
            return
        log.info("hall %s: resync (%s)", self.hall, reason)
        self.resyncs += 1
        self._resync_since = asyncio.get_running_loop().time()
        self._gap_deadline = None
        await self._ws.send(json.dumps({"type": "resync"}))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()
