"""Live status for the public ticket page: Server-Sent Events fed by the process's hub.

The status page (``/t/{status_token}``) has no device token, so it cannot use ``/ws``.
``GET /api/v1/public/tickets/{token}/events`` streams the ticket's public status instead:
one ``data:`` line with the status when the stream opens and another whenever it changes.

How it is fed: for each hall with an open stream, one ``HallWatch`` is attached to the hub
like a screen's connection. The hub pushes the hall's event frames to it in seq order; the
watch wakes the streams whose ticket the event may concern (its own ticket, or any ticket of
its queue: people ahead and the wait change), and each woken stream re-reads its ticket and
sends it if it changed. So a call reaches the page one short read after the hub has it.

Bounds: at most ``max_streams`` open streams per process (more get 429 with Retry-After and
the page polls instead); a stream that has sent nothing new for ``idle_s`` is closed, and every
stream ends after ``max_age_s`` (the page reconnects only while it is visible); a comment line
every ``keepalive_s`` keeps proxies from cutting a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from server.domain.errors import HallqError, RateLimited, StoreUnavailable, not_found
from server.domain.model import Ticket
from server.realtime.connection import ALWAYS, Connection
from server.realtime.hub import Hub
from server.services import tickets as ticket_service
from server.storage import tickets as ticket_store
from server.storage.rows import ticket_from_row
from server.web.deps import state
from server.web.state import AppState

log = logging.getLogger("hallq.public_live")

MAX_STREAMS = 500
IDLE_S = 600.0
MAX_AGE_S = 3600.0
KEEPALIVE_S = 15.0
RETRY_MS = 2000  # EventSource's reconnect delay after the server closes a stream
MIN_TOKEN_LEN = 16  # status tokens are 24 characters; shorter ones are never looked up
RELEVANT_HALL_EVENTS = frozenset({"queue.changed"})  # events without a ticket that still count


@dataclass(eq=False)
class PublicStream:
    """One open events request: which ticket it follows and a flag to re-read it."""

    hall: str
    ticket: str
    queue: str
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False

    def concerns(self, name: str, data: dict[str, Any]) -> bool:
        """Whether an event may change this ticket's public status."""
        if name in RELEVANT_HALL_EVENTS:
            return True
        return data.get("ticket") == self.ticket or data.get("queue") == self.queue

    def end(self) -> None:
        self.ended = True
        self.wake.set()


async def _discard(_text: str) -> None:
    """A watch never writes to a socket."""


class HallWatch(Connection):
    """A hub connection that writes nothing: it hands each frame of its hall to a callback.

    Being a ``Connection`` keeps it compatible with whatever the hub calls (sync, heartbeat,
    close on shutdown); only ``push`` and ``close`` are redirected.
    """

    def __init__(
        self, hall: str, on_frame: Callable[[str, int, str], None], on_closed: Callable[[str], None]
    ) -> None:
        super().__init__(_discard, hall=hall)
        self._on_frame = on_frame
        self._on_closed = on_closed

    def push(self, seq: int, text: str) -> None:
        self._on_frame(self.hall, seq, text)

    def close(self, code: int, reason: str = "") -> None:
        super().close(code, reason)
        self._on_closed(self.hall)  # hub stopping: end this hall's streams


class PublicLive:
    """The open public streams of this process, per hall, and the watches feeding them."""

    def __init__(
        self,
        hub: Hub,
        *,
        max_streams: int = MAX_STREAMS,
        idle_s: float = IDLE_S,
        max_age_s: float = MAX_AGE_S,
        keepalive_s: float = KEEPALIVE_S,
    ) -> None:
        self.hub = hub
        self.max_streams = max_streams
        self.idle_s = idle_s
        self.max_age_s = max_age_s
        self.keepalive_s = keepalive_s
        self.streams: dict[str, set[PublicStream]] = {}
        self.watches: dict[str, HallWatch] = {}

    @property
    def open_streams(self) -> int:
        return sum(len(s) for s in self.streams.values())

    def open(self, ticket: Ticket) -> PublicStream:
        """Register a stream for ``ticket``; 429 when the process already has ``max_streams``."""
        if self.open_streams >= self.max_streams:
            raise RateLimited(
                "当前查看排队进度的人数较多，页面将每隔几秒自动刷新。",
                f"{self.max_streams} public status streams are open in this process; "
                "the page polls instead.",
                retry_after=30,
            )
        stream = PublicStream(ticket.hall, ticket.id, ticket.queue)
        stream.wake.set()  # re-read once at once: an event may have come before we attached
        self.streams.setdefault(ticket.hall, set()).add(stream)
        if ticket.hall not in self.watches:
            watch = HallWatch(ticket.hall, self._on_frame, self._end_hall)
            self.watches[ticket.hall] = watch
            self.hub.attach(watch)
        return stream

    def close(self, stream: PublicStream) -> None:
        """Forget a finished stream; the hall's watch goes when its last stream does."""
        streams = self.streams.get(stream.hall)
        if streams is None:
            return
        streams.discard(stream)
        if not streams:
            del self.streams[stream.hall]
            watch = self.watches.pop(stream.hall, None)
            if watch is not None:
                self.hub.detach(watch)

    def _on_frame(self, hall: str, seq: int, text: str) -> None:
        streams = self.streams.get(hall)
        if not streams:
            return
        try:
            frame = json.loads(text)
        except ValueError:
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if seq == ALWAYS and kind != "snapshot":
            return  # heartbeats change nothing
        name = frame.get("name", "") if kind == "event" else ""
        data = frame.get("data") if kind == "event" else None
        for stream in streams:
            # A snapshot (resync, new epoch) may hide any change: every stream re-reads.
            if kind == "snapshot" or (isinstance(data, dict) and stream.concerns(name, data)):
                stream.wake.set()

    def _end_hall(self, hall: str) -> None:
        watch = self.watches.pop(hall, None)
        if watch is not None:
            self.hub.detach(watch)
        for stream in tuple(self.streams.pop(hall, ())):
            stream.end()


def public_live(request: Request) -> PublicLive:
    """The process's ``PublicLive``, made on first use (it needs the started hub)."""
    st = state(request)
    live: PublicLive | None = getattr(request.app.state, "public_live", None)
    if live is None or live.hub is not _hub(st):
        live = PublicLive(_hub(st))
        request.app.state.public_live = live
    return live


def _hub(st: AppState) -> Hub:
    if st.realtime is None:
        raise StoreUnavailable("实时服务尚未就绪，请稍后再试。", "The hub is not running yet.")
    return st.realtime.hub


async def read_status(st: AppState, token: str) -> tuple[Ticket, dict[str, Any]]:
    """The ticket behind a status token and what the public page shows of it (404 if none)."""

    async def read(conn: AsyncConnection) -> tuple[Ticket, dict[str, Any]]:
        row = await ticket_store.get_by_token(conn, token) if len(token) >= MIN_TOKEN_LEN else None
        if row is None:
            raise not_found("ticket", "…", "票号")
        t = ticket_from_row(row)
        hall = st.config.hall(t.hall)
        view = ticket_service.public_view(await ticket_service.view(conn, hall, t))
        window = hall.windows.get(t.window) if t.window else None
        # For 「请到 3 号窗口」 and the page title; no lane, no person.
        view["window_number"] = window.number if window else None
        view["hall_name"] = hall.name
        view["hall_name_en"] = hall.name_en
        return t, view

    result: tuple[Ticket, dict[str, Any]] = await st.commands.read(read)
    return result


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


async def _follow(
    st: AppState, live: PublicLive, stream: PublicStream, token: str, first: dict[str, Any]
) -> AsyncIterator[str]:
    """The stream body: the status now, then each change, until idle, too old or ended."""
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield _sse(first)
        sent = first
        started = last_change = time.monotonic()
        while not stream.ended:
            now = time.monotonic()
            if now - last_change >= live.idle_s or now - started >= live.max_age_s:
                return
            try:
                await asyncio.wait_for(stream.wake.wait(), live.keepalive_s)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            stream.wake.clear()
            if stream.ended:
                return
            try:
                ticket, view = await read_status(st, token)
            except HallqError as exc:  # store down: end; the page reconnects and retries
                log.info("public stream ended: %s", exc.message_en)
                return
            stream.queue = ticket.queue  # a transfer moves it to another queue
            if view != sent:
                yield _sse(view)
                sent, last_change = view, time.monotonic()
    finally:
        live.close(stream)


async def ticket_events(request: Request) -> Response:
    """GET /public/tickets/{token}/events: the ticket's public status as Server-Sent Events."""
    st = state(request)
    token = request.path_params["token"]
    ticket, first = await read_status(st, token)  # unknown token: a JSON 404 before streaming
    live = public_live(request)
    stream = live.open(ticket)
    return StreamingResponse(
        _follow(st, live, stream, token, first),
        media_type="text/event-stream; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},  # no proxy buffering
    )


routes = [Route("/public/tickets/{token}/events", ticket_events, methods=["GET"])]
