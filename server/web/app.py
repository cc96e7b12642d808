"""``create_app``: the Starlette application and its lifespan (engine, seeding, housekeeping)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from server.config import AppConfig
from server.domain.clock import Clock, SystemClock
from server.domain.errors import HallqError
from server.realtime.broadcast import Broadcast
from server.realtime.options import MAX_FRAME_BYTES, RealtimeOptions
from server.services.commands import Commands, Publisher
from server.services.setup import bootstrap, expire_all
from server.storage.db import Database
from server.web import api, errors, pages, ws
from server.web.live import build_realtime
from server.web.state import AppState

log = logging.getLogger("hallq.app")


class _BadUtf8OneLine(logging.Filter):
    """uvicorn's websockets-sansio logs a client's invalid UTF-8 text frame with a traceback
    (then closes it 1007, as it should); a hostile client's frame is one line, never a
    traceback (R10), so drop the exception info of that one record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.getMessage().startswith("Invalid UTF-8 sequence"):
            record.exc_info = None
            record.exc_text = None
        return True


_BAD_UTF8_FILTER = _BadUtf8OneLine()
HOUSEKEEPING_INTERVAL_S = 60.0
WS_MAX_SIZE = MAX_FRAME_BYTES  # uvicorn's ws_max_size wherever hallq runs uvicorn


def create_app(
    config: AppConfig,
    *,
    database_url: str | None = None,
    clock: Clock | None = None,
    publish: Publisher | None = None,
    housekeeping: bool = True,
    broadcast_url: str | None = None,
    broadcast: Broadcast | None = None,
    realtime: RealtimeOptions | None = None,
) -> Starlette:
    """Build the app; nothing connects until the lifespan starts.

    ``broadcast_url`` overrides ``config.server.broadcast_url``; ``broadcast`` injects a
    backend (tests); ``realtime`` shortens the websocket layer's intervals (tests).
    """
    logging.getLogger("uvicorn.error").addFilter(_BAD_UTF8_FILTER)  # idempotent
    url = database_url or config.server.database_url
    db = Database(url)
    the_clock = clock or SystemClock()
    st = AppState(config, db, the_clock, Commands(db, config, the_clock))
    rt = build_realtime(
        st,
        broadcast_url or config.server.broadcast_url,
        options=realtime,
        broadcast=broadcast,
        publish=publish,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.hallq = st
        # 1. schema and the rows config.toml implies
        await bootstrap(db, config, the_clock.now())
        # 2. real time: broadcast (a Redis outage does not stop start-up), hub tasks, relay
        await rt.start()
        st.ready = True
        # 3. housekeeping: expire at closing, forget old idempotency keys
        task = asyncio.create_task(_housekeeping(st)) if housekeeping else None
        try:
            yield
        finally:
            # 4. stop background work before the engine goes away
            st.ready = False
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            # 5. real time: relay marks what it published, hub closes sockets (1012), broadcast
            await rt.stop()
            # 6. close pooled connections
            await db.dispose()

    return Starlette(
        routes=[
            Mount("/api/v1", routes=[*api.routes, *_health_routes()]),
            *_health_routes(),
            *ws.routes,
            *pages.routes,
        ],
        exception_handlers={
            HallqError: errors.hallq_error,
            HTTPException: errors.http_error,
            Exception: errors.unexpected_error,
        },
        lifespan=lifespan,
    )


def _health_routes() -> list[Route]:
    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
    ]


async def live(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> Response:
    """200 when the database answers; 503 naming the failing dependency otherwise."""
    st: AppState = request.app.state.hallq
    failing = {}
    if not st.ready:
        failing["app"] = "starting or stopping"
    try:
        await asyncio.wait_for(st.db.ping(), timeout=2.0)
    except (HallqError, TimeoutError) as exc:
        failing["database"] = type(exc).__name__
    if st.realtime is not None and not st.realtime.broadcast.healthy:
        failing["broadcast"] = "unreachable; screens are fed from the outbox meanwhile"
    if failing:
        return JSONResponse(
            {"status": "unavailable", "failing": failing},
            status_code=503,
            headers={"Retry-After": "2"},
        )
    return JSONResponse({"status": "ok", "database": st.db.dialect})


async def _housekeeping(st: AppState) -> None:
    while True:
        try:
            await expire_all(st.commands)
            await st.commands.purge_idempotency()
        except HallqError as exc:
            log.warning("housekeeping skipped: %s", exc.message_en)
        await asyncio.sleep(HOUSEKEEPING_INTERVAL_S)
