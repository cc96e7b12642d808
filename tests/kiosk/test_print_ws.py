"""print / print.ack / device.status on the real websocket, spoken by hand (no agent)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.kiosk.support import HALL, KioskHall, kiosk_hall


async def _hello(hall: KioskHall, token: str) -> ClientConnection:
    ws = await connect(hall.server.ws_url)
    await ws.send(json.dumps({"type": "hello", "token": token, "hall": HALL}))
    return ws


async def _next(ws: ClientConnection, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The next frame of type ``kind`` (events and heartbeats in between are skipped)."""
    return (await _until(ws, kind, timeout_s))[-1]


async def _until(ws: ClientConnection, kind: str, timeout_s: float = 5.0) -> list[dict[str, Any]]:
    """Every frame up to and including the next one of type ``kind``."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        while not frames or frames[-1]["type"] != kind:
            frames.append(json.loads(await ws.recv()))
    return frames


async def test_acks_are_idempotent_and_only_the_jobs_kiosk_may_ack(tmp_path: Path) -> None:
    """A second ack changes nothing; another kiosk's ack gets error not_your_job."""
    async with kiosk_hall(tmp_path) as hall:
        other_token = await hall.add_kiosk("二楼自助取号机")
        ws = await _hello(hall, hall.tokens["kiosk"])
        other = await _hello(hall, other_token)
        try:
            await _next(ws, "snapshot")
            await _next(other, "snapshot")
            ticket = await hall.issue()
            frame = await _next(ws, "print")
            job = frame["job"]
            assert (job["ticket"]["id"], job["copies"]) == (ticket["id"], 1)

            await other.send(
                json.dumps({"type": "print.ack", "job": job["id"], "status": "failed"})
            )
            refused = await _next(other, "error")
            assert refused["code"] == "not_your_job"

            await ws.send(json.dumps({"type": "print.ack", "job": job["id"], "status": "printed"}))
            await hall.wait_job(lambda j: j.status == "printed", 5)
            again = {"type": "print.ack", "job": job["id"], "status": "failed", "reason": "x"}
            await ws.send(json.dumps(again))
            await ws.send(json.dumps({"type": "resync"}))  # answered after the ack is handled
            await _next(ws, "snapshot")
            [row] = await hall.jobs()
            assert (row.status, row.reason, row.attempts) == ("printed", None, 1)
        finally:
            await ws.close()
            await other.close()


async def test_unacked_jobs_are_sent_again_after_a_reconnect(tmp_path: Path) -> None:
    """A job sent but not acked comes again after the next hello, and not while connected."""
    async with kiosk_hall(tmp_path) as hall:
        ws = await _hello(hall, hall.tokens["kiosk"])
        await _next(ws, "snapshot")
        await hall.issue()
        first = await _next(ws, "print")
        await asyncio.sleep(1.5)  # three polls: a sent job is not sent again on the same link
        await ws.send(json.dumps({"type": "resync"}))
        assert [f["type"] for f in await _until(ws, "snapshot")].count("print") == 0
        await ws.close()
        ws = await _hello(hall, hall.tokens["kiosk"])
        try:
            again = await _next(ws, "print")
            assert again["job"]["id"] == first["job"]["id"]
            [row] = await hall.jobs()
            assert (row.status, row.attempts) == ("sent", 2)
        finally:
            await ws.close()
