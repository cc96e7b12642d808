"""Load generator of the queue benchmark, run as its own process by bench/queue_bench.py.

Reads a JSON job on stdin, prints one JSON result on stdout:
  {"mode": "issue"|"call"|"live"|"bare-pg"|"bare-sqlite", ...}
Every loop is bounded by an op count and a deadline. All traffic goes to 127.0.0.1.

HTTP goes through a minimal HTTP/1.1 keep-alive client on an asyncio.Protocol under uvloop
(one connection per device, pre-built requests, Content-Length framing): httpx cost more CPU
per request than the server's no-op endpoint and capped the bench at ~1,450 req/s.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sqlite3
import sys
import time
import uuid
from collections import Counter
from datetime import date
from typing import Any, cast
from urllib.parse import urlsplit

import asyncpg

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is in the lock file
    uvloop = None  # type: ignore[assignment]

# Bound on connecting and on each response, as httpx.Timeout(10.0) bounded each phase.
TIMEOUT = 10.0


class ProtocolError(Exception):
    """A response this client does not understand: the connection is dropped."""


class ConnectionClosed(Exception):
    """The server closed the connection before the whole response arrived."""


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server closes after this response.

    uvicorn frames every JSON response hallq sends with Content-Length (checked on the wire),
    so chunked transfer encoding is refused rather than decoded.
    """
    lines = head.lower().split(b"\r\n")
    if not lines[0].startswith(b"http/1.1 "):
        raise ProtocolError(lines[0][:40])
    status = int(lines[0][9:12])
    length = 0 if status in (204, 304) else -1
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            raise ProtocolError(b"transfer-encoding:" + value)
        elif name == b"connection":
            close = b"close" in value
    if length < 0:
        raise ProtocolError(b"no content-length")
    return status, length, close


class _Http(asyncio.Protocol):
    """HTTP/1.1 responses on one connection, at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.end = -1  # index in buf where the current response ends, once its head is parsed
        self.body_at = 0
        self.status = 0
        self.close_after = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport implements asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # bytes nobody asked for: the next response's parse rejects them
        if self.end < 0:
            head_end = buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            try:
                self.status, length, self.close_after = _parse_head(bytes(buf[:head_end]))
            except (ProtocolError, ValueError) as exc:
                waiter.set_exception(ProtocolError(str(exc)))
                return
            self.body_at = head_end + 4
            self.end = self.body_at + length
        if len(buf) < self.end:
            return
        if len(buf) > self.end:
            waiter.set_exception(ProtocolError("bytes after the response"))
            return
        body = bytes(buf[self.body_at :])
        buf.clear()
        self.end = -1
        waiter.set_result((self.status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionClosed())


def _expire(waiter: asyncio.Future[tuple[int, bytes]]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Device:
    """One keep-alive connection, as one kiosk or terminal holds; reconnects after a failure.

    Requests are pre-built bytes: per request only the Idempotency-Key is new, and the whole
    request goes out in one write.
    """

    def __init__(self, url: str, token: str | None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.proto: _Http | None = None

    def head(self, method: str, path: str, body: bytes = b"") -> bytes:
        """Request line and fixed headers; POST heads end where the Idempotency-Key goes."""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.auth}"
        if method == "GET":
            return (head + "\r\n").encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        return (head + "Idempotency-Key: ").encode()

    async def _connect(self) -> _Http:
        loop = asyncio.get_running_loop()
        transport, proto = await asyncio.wait_for(
            loop.create_connection(_Http, self.host, self.port), TIMEOUT
        )
        # One write per request and one request in flight: Nagle would only add delay.
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return proto

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Status and body of one request; raises OSError, TimeoutError, ConnectionClosed or
        ProtocolError, after which the connection is dropped and the next send reconnects."""
        proto = self.proto
        if proto is None or proto.closed:
            proto = self.proto = await self._connect()
        assert proto.transport is not None
        waiter: asyncio.Future[tuple[int, bytes]] = asyncio.get_running_loop().create_future()
        proto.waiter = waiter
        proto.transport.write(request)
        timer = asyncio.get_running_loop().call_later(TIMEOUT, _expire, waiter)
        try:
            answer = await waiter
        except BaseException:
            self.close()
            raise
        finally:
            timer.cancel()
        if proto.close_after:
            self.close()
        return answer

    def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.abort()
        self.proto = None


def _key() -> bytes:
    """A fresh Idempotency-Key header value and the end of the head."""
    return os.urandom(16).hex().encode() + b"\r\n\r\n"


async def _wait_until(at: float) -> None:
    delay = at - time.time()
    if delay > 0:
        await asyncio.sleep(delay)


async def issue(job: dict[str, Any]) -> dict[str, Any]:
    """Kiosks issuing tickets back to back, each request with a fresh Idempotency-Key."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    queues = job["queues"]
    path = f"/api/v1/halls/{job['hall']}/tickets"
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def kiosk(i: int, token: str) -> None:
        device = Device(job["url"], token)
        bodies = [json.dumps({"queue": q}).encode() for q in queues]
        heads = [device.head("POST", path, b) for b in bodies]
        try:
            n = 0
            while time.perf_counter() < deadline and n < job["max_ops"]:
                q = (i + n) % len(queues)
                request = heads[q] + _key() + bodies[q]
                started = time.perf_counter()
                try:
                    status = str((await device.send(request))[0])
                except (OSError, TimeoutError, ConnectionClosed, ProtocolError) as exc:
                    status = type(exc).__name__
                if status == "201":
                    lat.append(time.perf_counter() - started)
                else:
                    errors[status] += 1
                n += 1
        finally:
            device.close()

    await asyncio.gather(*(kiosk(i, t) for i, t in enumerate(job["tokens"])))
    return {"ok": len(lat), "elapsed": time.perf_counter() - t0, "lat": lat, "errors": errors}


async def call(job: dict[str, Any]) -> dict[str, Any]:
    """Windows pressing call-next (finish_current) until their queue is empty or time is up."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    called: list[str] = []
    body = json.dumps({"finish_current": True}).encode()
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def window(wid: str, token: str) -> None:
        device = Device(job["url"], token)
        head = device.head("POST", f"/api/v1/halls/{job['hall']}/windows/{wid}/call-next", body)
        try:
            n = 0
            empty = 0
            while time.perf_counter() < deadline and n < job["max_ops"]:
                request = head + _key() + body
                started = time.perf_counter()
                try:
                    code, answer = await device.send(request)
                    status = str(code)
                except (OSError, TimeoutError, ConnectionClosed, ProtocolError) as exc:
                    status = type(exc).__name__
                n += 1
                if status != "200":
                    errors[status] += 1
                    continue
                lat.append(time.perf_counter() - started)
                ticket = json.loads(answer)["ticket"]
                if ticket is None:
                    empty += 1
                    if empty >= 2:  # twice nothing: the queue is drained
                        return
                    continue
                called.append(ticket["id"])
        finally:
            device.close()

    await asyncio.gather(*(window(w, t) for w, t in job["windows"].items()))
    elapsed = time.perf_counter() - t0
    return {"ok": len(lat), "elapsed": elapsed, "lat": lat, "errors": errors, "called": called}


async def live(job: dict[str, Any]) -> dict[str, Any]:
    """The load generator's own ceiling: GET /health/live with the same client setup."""
    lat: list[float] = []
    errors: Counter[str] = Counter()
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def one() -> None:
        device = Device(job["url"], None)
        request = device.head("GET", "/health/live")
        try:
            n = 0
            while time.perf_counter() < deadline and n < job["max_ops"]:
                started = time.perf_counter()
                try:
                    status = str((await device.send(request))[0])
                except (OSError, TimeoutError, ConnectionClosed, ProtocolError) as exc:
                    status = type(exc).__name__
                n += 1
                if status == "200":
                    lat.append(time.perf_counter() - started)
                else:
                    errors[status] += 1
        finally:
            device.close()

    await asyncio.gather(*(one() for _ in range(job["concurrency"])))
    return {"ok": len(lat), "elapsed": time.perf_counter() - t0, "lat": lat, "errors": errors}


# The bare limit: counter upsert and ticket insert in one statement, no idempotency, audit or
# outbox, no HTTP, no SQLAlchemy.
BARE_PG = """
WITH c AS (
  INSERT INTO counters (hall_id, queue_id, business_date, value) VALUES ($1, $2, $3, 1)
  ON CONFLICT (hall_id, queue_id, business_date) DO UPDATE SET value = counters.value + 1
  RETURNING value
)
INSERT INTO tickets (id, hall_id, queue_id, business_date, counter, number, lane, lane_rank,
                     klass, position, channel, status, issued_at, status_token, recalls, requeues)
SELECT $4, $1, $2, $3, c.value, $5 || CASE WHEN c.value < 1000
       THEN lpad(c.value::text, 3, '0') ELSE c.value::text END, 'normal', 0, 2, c.value,
       'kiosk', 'waiting', now(), $6, 0, 0
FROM c
RETURNING counter
"""


async def bare_pg(job: dict[str, Any]) -> dict[str, Any]:
    day = date.fromisoformat(job["day"])
    lat: list[float] = []
    conns = [await asyncpg.connect(job["dsn"]) for _ in range(job["concurrency"])]
    await _wait_until(job["start_at"])
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]

    async def worker(i: int, conn: Any) -> None:
        stmt = await conn.prepare(BARE_PG)
        n = 0
        while time.perf_counter() < deadline and n < job["max_ops"]:
            queue, prefix = ("social", "A") if (i + n) % 3 == 0 else ("project", "B")
            started = time.perf_counter()
            await stmt.fetchval("bare", queue, day, uuid.uuid4().hex, prefix, uuid.uuid4().hex)
            lat.append(time.perf_counter() - started)
            n += 1

    try:
        await asyncio.gather(*(worker(i, c) for i, c in enumerate(conns)))
        elapsed = time.perf_counter() - t0
        await conns[0].execute("DELETE FROM tickets WHERE hall_id = 'bare'")
        await conns[0].execute("DELETE FROM counters WHERE hall_id = 'bare'")
    finally:
        for c in conns:
            await c.close()
    return {"ok": len(lat), "elapsed": elapsed, "lat": lat, "errors": {}}


def bare_sqlite(job: dict[str, Any]) -> dict[str, Any]:
    """SQLite's bare limit: one writer connection, WAL, BEGIN IMMEDIATE, upsert + insert."""
    db = sqlite3.connect(job["path"], isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    lat: list[float] = []
    t0 = time.perf_counter()
    deadline = t0 + job["seconds"]
    n = 0
    while time.perf_counter() < deadline and n < job["max_ops"]:
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        value = db.execute(
            "INSERT INTO counters (hall_id, queue_id, business_date, value) "
            "VALUES ('bare', 'social', ?, 1) ON CONFLICT (hall_id, queue_id, business_date) "
            "DO UPDATE SET value = value + 1 RETURNING value",
            (job["day"],),
        ).fetchone()[0]
        db.execute(
            "INSERT INTO tickets (id, hall_id, queue_id, business_date, counter, number, lane, "
            "lane_rank, klass, position, channel, status, issued_at, status_token, recalls, "
            "requeues) VALUES (?, 'bare', 'social', ?, ?, ?, 'normal', 0, 2, ?, 'kiosk', "
            "'waiting', ?, ?, 0, 0)",
            (
                uuid.uuid4().hex,
                job["day"],
                value,
                f"A{value:03d}",
                float(value),
                "2026-01-01 00:00:00.000000",
                uuid.uuid4().hex,
            ),
        )
        db.execute("COMMIT")
        lat.append(time.perf_counter() - started)
        n += 1
    elapsed = time.perf_counter() - t0
    db.execute("DELETE FROM tickets WHERE hall_id = 'bare'")
    db.execute("DELETE FROM counters WHERE hall_id = 'bare'")
    db.close()
    return {"ok": len(lat), "elapsed": elapsed, "lat": lat, "errors": {}}


MODES = {"issue": issue, "call": call, "live": live, "bare-pg": bare_pg}


def main() -> None:
    job = json.loads(sys.stdin.read())
    if job["mode"] == "bare-sqlite":
        result = bare_sqlite(job)
    else:
        coro = MODES[job["mode"]](job)
        result = uvloop.run(coro) if uvloop is not None else asyncio.run(coro)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
