"""``/ws``: the contract's live hall stream (hello → snapshot or replay → events + heartbeats).

Close codes: 1003 binary frame, 1007 text that is not JSON, 1008 over the rate limit,
1009 frame over 64 KiB, 1012 server restarting, 1013 slow consumer or store unavailable
(reconnect later), 4401 no/late/invalid hello or unknown token, 4403 foreign Origin (the
handshake is refused with HTTP 403), wrong hall, revoked device, 4404 unknown hall (admins).
A bad frame only ever affects its own connection and is logged in one line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.domain.errors import Forbidden, HallqError, StoreUnavailable, Unauthorized
from server.realtime.connection import ALWAYS, Connection
from server.realtime.frames import dumps, error_frame
from server.realtime.runtime import Realtime
from server.realtime.wire import wire_of
from server.services import auth, print_jobs
from server.services.actors import DEVICE_ROLES, STAFF_ROLES, Actor
from server.services.commands import ANONYMOUS
from server.web.state import AppState
from server.web.wsproto import (
    CLOSE_FORBIDDEN,
    CLOSE_POLICY,
    CLOSE_TRY_LATER,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNKNOWN_HALL,
    CloseWith,
    ErrorReply,
    Hello,
    TokenBucket,
    allowed_origins,
    check_device_status,
    check_print_ack,
    decode,
    parse_hello,
)

log = logging.getLogger("hallq.ws")
SUBSCRIBER_ROLES = STAFF_ROLES | DEVICE_ROLES
CLOSE_WAIT_S = 1.0  # a client that does not read cannot take our close frame: stop waiting
RESYNC_MIN_INTERVAL_S = 0.5


class Gone(Exception):
    """The client disconnected."""


async def endpoint(websocket: WebSocket) -> None:
    """One websocket connection, from the Origin check to the close."""
    st: AppState = websocket.app.state.hallq
    rt = st.realtime
    origin = websocket.headers.get("origin")
    if rt is None or (origin is not None and origin not in allowed_origins(st.config.server)):
        log.info("ws refused: origin %r not allowed", origin)
        if rt is not None:  # R12: every refusal is audited, this one too
            refusal = Forbidden("不允许的来源。", "Origin not allowed.", code="foreign_origin")
            await st.commands.audit_rejection(ANONYMOUS, None, refusal, detail="ws origin")
        await websocket.close(CLOSE_FORBIDDEN)  # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    try:
        hello = await _receive_hello(websocket, rt)
        actor, hall = await _admit(st, hello)
    except CloseWith as exc:
        log.info("ws closed %s: %s", exc.code, exc.reason)
        await _close(websocket, exc.code, exc.reason)
        return
    except Gone:
        return
    await Session(websocket, st, rt, actor, hall).run(hello)


async def _receive_hello(websocket: WebSocket, rt: Realtime) -> Hello:
    o = rt.options
    try:
        message = await asyncio.wait_for(websocket.receive(), o.hello_timeout_s)
    except TimeoutError:
        raise CloseWith(CLOSE_UNAUTHORIZED, "no hello within the timeout") from None
    if message["type"] == "websocket.disconnect":
        raise Gone
    try:
        frame = decode(message, max_bytes=o.max_frame_bytes, max_depth=o.max_depth)
    except ErrorReply as exc:
        raise CloseWith(CLOSE_UNAUTHORIZED, f"expected hello: {exc.reason}") from None
    return parse_hello(frame)


async def _admit(st: AppState, hello: Hello) -> tuple[Actor, str]:
    """The actor behind the token and the hall it may watch (from the credential)."""
    now = st.clock.now()
    try:
        if st.realtime is not None and st.realtime.tokens is not None:
            actor: Actor = await st.realtime.tokens.resolve(hello.token)
        else:
            actor = await st.commands.read(lambda c: auth.authenticate(c, hello.token, now))
    except Unauthorized as exc:
        detail = f"ws token sha256:{auth.hash_token(hello.token)[:10]}"
        await st.commands.audit_rejection(ANONYMOUS, None, exc, detail=detail)
        raise CloseWith(CLOSE_UNAUTHORIZED, "invalid, expired or revoked token") from None
    except StoreUnavailable:
        raise CloseWith(CLOSE_TRY_LATER, "store unavailable; reconnect later") from None
    hall = hello.hall if actor.role == "admin" else actor.hall
    if actor.role == "admin" and (hall is None or hall not in st.config.halls):
        raise CloseWith(CLOSE_UNKNOWN_HALL, "admins name an existing hall in hello")
    problem = _hall_problem(actor, hall, hello)
    if problem is not None:
        refusal = Forbidden("此凭证无权订阅该大厅。", problem, code="wrong_hall")
        await st.commands.audit_rejection(actor, hall, refusal, detail="ws")
        raise CloseWith(CLOSE_FORBIDDEN, problem)
    assert hall is not None
    return actor, hall


def _hall_problem(actor: Actor, hall: str | None, hello: Hello) -> str | None:
    if actor.role not in SUBSCRIBER_ROLES:
        return f"role {actor.role!r} may not subscribe"
    if hall is None:
        return "this credential is bound to no hall"
    if hello.hall is not None and hello.hall != hall:
        return f"this credential belongs to hall {hall!r}, not {hello.hall!r}"
    return None


class Session:
    """A subscribed connection: one task (the endpoint's own) reads, the hub writes.

    Nothing else runs per connection: frames go out from the hub's fan-out (see
    ``Connection``), and a close the hub asks for (slow consumer, revocation, restart) or a
    socket found dead cancels the read loop through ``Connection.on_close``.
    """

    __slots__ = (
        "_cancelled",
        "_last_resync",
        "_task",
        "actor",
        "bucket",
        "conn",
        "gone",
        "rt",
        "st",
        "ws",
    )

    def __init__(
        self, websocket: WebSocket, st: AppState, rt: Realtime, actor: Actor, hall: str
    ) -> None:
        self.ws = websocket
        self.st = st
        self.rt = rt
        self.actor = actor
        self.bucket: TokenBucket | None = None  # made on a first message: screens send none
        self.conn = Connection(
            websocket.send_text,
            hall=hall,
            actor=actor,
            device_id=actor.id if actor.kind == "device" else None,
            queue_size=rt.options.queue_size,
            # Starlette passes the server's ``receive`` through unwrapped: it leads to uvicorn's
            # protocol, whose transport takes the hub's pre-encoded frames directly.
            wire=wire_of(websocket._receive),
            on_close=self._stop_reading,
        )
        self.gone = False
        self._last_resync = 0.0
        self._task: asyncio.Task[Any] | None = None
        self._cancelled = False

    async def run(self, hello: Hello) -> None:
        self._task = asyncio.current_task()
        hub = self.rt.hub
        hub.attach(self.conn)
        try:
            await hub.sync(self.conn, hello.epoch, hello.last_seq)
            if self.actor.role == "kiosk":  # unacked print jobs now, new ones as they come
                hub.printing.attach(self.conn, print_jobs.JobFeed(self.st.commands))
            if self.conn.close_code is None and not self.conn.gone:
                await self._read()
        except asyncio.CancelledError:
            if not self._cancelled:
                raise  # the server is stopping this task, not the hub
            self._task.uncancel()  # type: ignore[union-attr]
        except StoreUnavailable:
            self.conn.close(CLOSE_TRY_LATER, "store unavailable; reconnect later")
        finally:
            self._task = None  # from here on a close request must not cancel us
            hub.detach(self.conn)
            hub.printing.detach(self.conn)
            await self.conn.stop()
            self.conn.on_close = None  # no cycle left between the session and its connection
        if self.conn.close_code is not None and not (self.gone or self.conn.gone):
            log.info("ws closed %s: %s", self.conn.close_code, self.conn.close_reason)
            await _close(self.ws, self.conn.close_code, self.conn.close_reason)

    def _stop_reading(self, conn: Connection) -> None:
        """``Connection.on_close``: end the read loop unless it is the one asking."""
        task = self._task
        if task is not None and task is not asyncio.current_task() and not self._cancelled:
            self._cancelled = True
            task.cancel()

    async def _read(self) -> None:
        o = self.rt.options
        conn = self.conn
        while conn.close_code is None and not conn.gone:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                self.gone = True
                return
            if self.bucket is None:
                self.bucket = TokenBucket(o.rate_per_s, o.rate_burst)
            if not self.bucket.take():
                conn.close(CLOSE_POLICY, f"over {o.rate_per_s:.0f} messages per second")
                return
            try:
                frame = decode(message, max_bytes=o.max_frame_bytes, max_depth=o.max_depth)
                await self._handle(frame)
            except ErrorReply as exc:
                conn.push(ALWAYS, dumps(error_frame(exc.code, exc.reason)))
            except CloseWith as exc:
                conn.close(exc.code, exc.reason)
                return

    async def _handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "resync":
            await self._resync()
        elif kind == "hello":
            raise ErrorReply("already_authenticated", "hello was already accepted")
        elif kind in ("print.ack", "device.status"):
            if self.actor.role != "kiosk":
                raise ErrorReply("forbidden", f"only kiosk agents send {kind}")
            check_print_ack(frame) if kind == "print.ack" else check_device_status(frame)
            await self._kiosk_report(kind, frame)
        else:
            raise ErrorReply("unknown_type", f"unknown message type {kind[:40]!r}")

    async def _kiosk_report(self, kind: str, frame: dict[str, Any]) -> None:
        """A kiosk agent's ``print.ack`` or ``device.status``: a command of that kiosk."""
        record = print_jobs.on_print_ack if kind == "print.ack" else print_jobs.on_device_status
        try:
            await record(self.st.commands, self.actor, self.conn.hall, frame)
        except HallqError as exc:  # refused (another device's job …) or store unavailable
            raise ErrorReply(exc.code, exc.message_en) from None

    async def _resync(self) -> None:
        now = time.monotonic()
        if now - self._last_resync < RESYNC_MIN_INTERVAL_S:
            raise ErrorReply("rate_limited", "at most two resyncs per second")
        self._last_resync = now
        await self.rt.hub.sync(self.conn, None, None)


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(OSError, RuntimeError, WebSocketDisconnect, TimeoutError):
        await asyncio.wait_for(websocket.close(code, reason[:120]), CLOSE_WAIT_S)


routes = [WebSocketRoute("/ws", endpoint)]
