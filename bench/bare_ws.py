"""The bare Starlette websocket broadcast the live bench compares hallq with.

No database, no auth, no ordering machinery: ``/ws`` accepts, takes any first frame as hello,
answers a snapshot, then gets every event through a bounded per-connection queue drained by its
own writer task (the same fan-out shape as hallq: a loop of ``put_nowait``, one JSON encoding
shared by all). ``POST /call/{window}`` makes a ``ticket.called`` event of the next number and
fans it out. Run it like hallq: ``uvicorn bare_ws:app`` (uvloop, httptools, websockets-sansio,
no per-message deflate).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

QUEUE_SIZE = 256
EPOCH = "bare"
conns: set[asyncio.Queue[str]] = set()
state = {"seq": 0, "counter": 0}


async def ws_endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        await websocket.receive_text()  # hello
    except WebSocketDisconnect:
        return
    queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
    conns.add(queue)
    snapshot = {"type": "snapshot", "hall": "bare", "epoch": EPOCH, "seq": state["seq"]}
    queue.put_nowait(json.dumps(snapshot))

    async def writer() -> None:
        while True:
            await websocket.send_text(await queue.get())

    task = asyncio.create_task(writer())
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
    finally:
        conns.discard(queue)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def call(request: Request) -> JSONResponse:
    state["seq"] += 1
    state["counter"] += 1
    number = f"B{state['counter']:04d}"
    frame = {
        "type": "event",
        "hall": "bare",
        "epoch": EPOCH,
        "seq": state["seq"],
        "name": "ticket.called",
        "at": datetime.now(UTC).isoformat(),
        "data": {"number": number, "window": request.path_params["window"]},
    }
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    for queue in tuple(conns):
        try:
            queue.put_nowait(text)
        except asyncio.QueueFull:
            conns.discard(queue)  # a slow consumer: dropped (hallq closes it with 1013)
    return JSONResponse({"ticket": {"number": number}})


async def ready(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        WebSocketRoute("/ws", ws_endpoint),
        Route("/call/{window}", call, methods=["POST"]),
        Route("/health/ready", ready),
    ]
)
